"""Many seeds at once: the vectorised kernel (:mod:`.kernel`), keeping every
step (:mod:`.simulate`), recording statistics and sample paths
(:mod:`.recorder`, :mod:`.statistics`), and groups of seeds in threads
(:mod:`.threads`)."""
