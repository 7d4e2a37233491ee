"""Reading a run back (:mod:`.run`), its metrics (:mod:`.metrics`), the
comparison table (:mod:`.table`), figures (:mod:`.figures`), the report
(:mod:`.report`), and the whole run, simulation then analysis
(:mod:`.pipeline`)."""
