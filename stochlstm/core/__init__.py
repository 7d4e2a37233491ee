"""The science, no I/O: the cell and its math (:mod:`.cell`), gating rules
(:mod:`.gates`), conditions (:mod:`.conditions`), where every random number
comes from (:mod:`.randomness`), the weights (:mod:`.weights`) and the names
of every quantity and column (:mod:`.names`)."""
