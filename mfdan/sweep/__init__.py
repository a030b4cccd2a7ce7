"""``mfdan sweep``: arms × training seeds × folds as independent tasks on Dask, each trained as ``train@<fold>``
trains it, stored under a key of everything its bytes depend on, scored like ``evaluate``.

Modules, in the order a sweep uses them: :mod:`.arms` (arms and seeds from the command line), :mod:`.sets`
(a params file's caches, built by the pipeline's own DVC stages), :mod:`.tasks` (one fold: its key and the
worker function), :mod:`.store` (finished results, written by the client only), :mod:`.clusters` (an embedded
``LocalCluster``, a running scheduler, or SLURM/PBS/SGE/LSF through dask-jobqueue), :mod:`.engine` (the sweep
from plan to table), :mod:`.driver` (the one loop that runs tasks, on Dask or a bundle's processes: submit,
store, progress, retry once, Ctrl-C), :mod:`.bundle` (tasks carried where there is no DVC or Dask) and
:mod:`.table` (mean ± sd over seeds, per seed, paired differences).
"""
