"""Fit scaling laws to your own runs: Chinchilla Approaches 1, 2 and 3, with bootstrap uncertainty.

The runs table (CSV, JSON, JSON lines, Parquet, a DataFrame or a sweep folder) is read through
`scaling.runs_table`, which documents its columns and their one meaning: ``N`` total parameters, ``D`` tokens,
``C`` = 6ND (the convention of every fit here), ``loss``; damaged and failed rows are set aside and reported.

One module per part, read in this order:

* ``common.py``: `ScalingWarning` (data problems that do not stop a fit) and `read_runs` / `read_curves`.
* ``engine.py``: Approach 3's objective (Hoffmann et al. 2022, App. D.2) and the batched Levenberg-Marquardt.
* ``parametric.py``: Approach 3, `fit_parametric` -> `FittedLaw`, and `fit_diagnostics` (how far to trust it).
* ``isoflop.py``: Approach 2, IsoFLOP parabolas, grouped by the planned ``budget`` (else C within 5%).
* ``envelope.py``: Approach 1, the envelope of loss curves (a sweep folder's ``curves/``).
* ``holdout.py``: the extrapolation check on held-out budgets (``--holdout-largest K``, ``--holdout-from C``).
* ``report.py``: `fit_runs`, everything ``scaling fit`` does, with the approaches checked against each other.
* ``evals.py``, ``ladder.py``: ``--downstream``, Bhagia et al. 2024's two-step ladder per task from an evals
  table joined to the runs by run id (``synthetic.synthetic_ladder`` draws one from known constants).
* ``moe.py``, ``ptq.py``: ``--moe`` and ``--ptq``, the law files of ``plan --moe-law`` (Krajewski et al.
  2024's MoE law and its dense law) and ``loss --precision-law`` (Kumar et al. 2024's delta_PTQ) fitted to
  your runs or quantized evaluations, with bootstrap intervals.
* ``curves.py``: the schedule-aware law (`scaling.laws.curve`) fitted to every point of the runs' loss curves,
  its intervals against the final-loss fit's (both bootstrapped by run).
* ``synthetic.py``: runs drawn from a known law (and MoE runs, quantized evaluations), for tests and
  benchmarks.

How many runs: the start screen works on at most `SCREEN_RUNS` runs (a seeded subsample beyond that) and the
engine holds at most `engine.BLOCK_CELLS` (starts x runs) cells per block, so memory stays bounded for a
million runs; ``bench/bench_fit.py --rows`` measures the speed.
"""

from scaling.fit.common import ScalingWarning, check_runs, read_curves, read_runs, report_table
from scaling.fit.engine import HUBER_DELTA, hoffmann_grid
from scaling.fit.envelope import EnvelopeFit, fit_envelope
from scaling.fit.holdout import HoldoutResult, holdout_check
from scaling.fit.isoflop import IsoFlopBudget, IsoFlopFit, budget_groups, fit_isoflop
from scaling.fit.parametric import (
    MAX_BOOTSTRAP,
    MAX_BOOTSTRAP_CELLS,
    SCREEN_RUNS,
    FittedLaw,
    check_bootstrap,
    fit_diagnostics,
    fit_parametric,
)
from scaling.fit.report import FitReport, approaches_disagree, fit_runs
from scaling.fit.synthetic import synthetic_runs
from scaling.laws import save_law

__all__ = [
    "HUBER_DELTA",
    "MAX_BOOTSTRAP",
    "MAX_BOOTSTRAP_CELLS",
    "SCREEN_RUNS",
    "EnvelopeFit",
    "FitReport",
    "FittedLaw",
    "HoldoutResult",
    "IsoFlopBudget",
    "IsoFlopFit",
    "ScalingWarning",
    "approaches_disagree",
    "budget_groups",
    "check_bootstrap",
    "check_runs",
    "fit_diagnostics",
    "fit_envelope",
    "fit_isoflop",
    "fit_parametric",
    "fit_runs",
    "hoffmann_grid",
    "holdout_check",
    "read_curves",
    "read_runs",
    "report_table",
    "save_law",
    "synthetic_runs",
]
