"""An IsoFLOP sweep: log-spaced budgets x ~5 model sizes each, run on all cores, resumable, into runs.csv.

One module per part, in the order a sweep uses them:

* ``recipe.py``     -- the size ladder, the presets, the recipe every run shares, the planned `Sweep`;
* ``grid.py``       -- the IsoFLOP grid (Chinchilla Approach 2, Hoffmann et al. 2022 §3.2): sizes centred
  on the expected optimum of each budget, edge extensions, `plan_sweep`;
* ``sweep_json.py`` -- the folder's ``sweep.json``: read, checked against the recipe, written, moved aside;
* ``backends.py``   -- where runs execute: a local pool of single-threaded worker processes, or Ray;
* ``eta.py``        -- the throughput probe, predicted run times, the ETA and the progress bar;
* ``driver.py``     -- `run_sweep`: train what runs.csv lacks, commit each row, then edge extensions;
* ``summary.py``    -- per budget, where the minimum landed; the finished runs' throughput;
* ``designed.py``   -- runs `scaling next` designs for a sweep folder, and `scaling sweep --design` reads
  back (not imported here: it needs the designer, numpy included, which running a sweep does not).

Output folder (everything written atomically: temp file + os.replace):

* ``sweep.json``: the recipe (everything shared by the runs, the corpus identity) and the planned run configs;
* ``runs.csv``: one row per finished run (columns `RUN_COLUMNS`), rewritten whole after each run. It is the
  commit point: a run is done when its row is there. A sweep killed at any moment and started again with the
  same command skips those run_ids and redoes only unfinished ones. Diverged runs stay in with
  ``status=diverged`` (the fitter skips them); failed runs (an exception, a dead worker) are recorded as
  ``failed`` and retried on the next start;
* ``curves/<run_id>.csv`` (written before the row) and ``checkpoints/<run_id>.pt`` (for `scaling sample`).

A folder whose runs came from a different recipe or corpus is never mixed into or overwritten: the sweep
refuses, unless ``force_new`` moves the old results aside into ``previous-<timestamp>/`` (when the sweep runs:
planning and dry runs change nothing). One process at a time writes a folder (folder.py's lock, held from
planning to the last row); rows of runs.csv that are not runs are reported and kept in ``runs.damaged.csv``,
never dropped.

`scaling next FOLDER -o next.csv` proposes runs (`designed.next_sweep_runs`: the ladder's shapes on
exact-FLOP budgets); ``plan_sweep(out, designed=read_designed_runs("next.csv"))`` plans exactly those under
the folder's own recipe.
"""

from scaling.train.sweep.backends import BACKENDS, execute_local, execute_ray
from scaling.train.sweep.driver import run_sweep
from scaling.train.sweep.grid import plan_sweep
from scaling.train.sweep.recipe import PRESETS, SHAPES, Preset, Sweep, recipe_config
from scaling.train.sweep.summary import summarize, throughput
from scaling.train.sweep.sweep_json import write_sweep_json

__all__ = [
    "BACKENDS",
    "PRESETS",
    "SHAPES",
    "Preset",
    "Sweep",
    "execute_local",
    "execute_ray",
    "plan_sweep",
    "recipe_config",
    "run_sweep",
    "summarize",
    "throughput",
    "write_sweep_json",
]
