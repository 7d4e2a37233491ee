"""The experiment file and the run: its schema (:mod:`.schema`), loading it
(:mod:`.load`), inputs and weight files (:mod:`.inputs`, :mod:`.weight_files`),
the plan (:mod:`.plan`), the simulation phase and its tables (:mod:`.run`,
:mod:`.tables`), the run directory (:mod:`.rundir`) and executors
(:mod:`.executors`)."""
