"""Scaling laws: predicted loss L(N, D) and the compute-optimal allocation N_opt(C), D_opt(C), L*(C).

A law is a frozen value loaded from ``data/laws.json`` (the published presets) or from a law JSON saved by
``scaling fit -o``. Every kind follows one protocol (`Law`: ``n_opt``, ``d_opt``, ``predict``, ``loss_opt``,
``flops_for_loss``, ``optimal``), one module each:

* `ParametricLaw` (``parametric.py``): L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Eq. 2), its
  closed-form frontier, the data-constrained (Muennighoff et al. 2023) and inference-aware (Sardana et al.
  2024) optima. A fitted law (`scaling.fit.FittedLaw`) is one.
* `AllocationLaw` (``allocation.py``): a published power law N_opt = k C^a (or D_opt = k C^b); no loss.
* ``curve.py``: the loss through training under a learning-rate schedule (Tissue et al. 2024), whose
  constants a law file carries under ``curve`` (`CurveLaw`, ``scaling fit RUNS --curves``).
* `KaplanLaw` (``allocation.py``): Kaplan et al. 2020's allocation (C_min = C/2, Hoffmann App. D.4) and its
  joint L(N, D).

Compute convention everywhere: C = 6·N·D training FLOPs (`scaling.units.six_nd`), unless a law's
``convention`` says otherwise (DeepSeek's M = non-embedding FLOPs per token, reported here as N = M/6). A law
also states the unit of its loss (``loss_unit``: nats/token, or nats/byte for byte-level runs), its
``tokenizer`` and ``vocab_size`` when known. Files are read, validated and written in ``files.py``; shared
rules (laws to compare against, the repeated-data warning, bounds on constants) live in ``rules.py``.
"""

from scaling.laws.allocation import AllocationLaw, KaplanLaw
from scaling.laws.files import (
    get_law,
    law_from_dict,
    law_to_dict,
    list_laws,
    load_law,
    save_law,
    with_replicates,
)
from scaling.laws.law import DEFAULT_LEVEL, Allocation, Law, LossPrediction, as_scalar, flops_array
from scaling.laws.parametric import (
    PARAM_NAMES,
    ParametricLaw,
    effective_data,
    effective_params,
    frontier_g,
    parametric_loss,
    parametric_loss_opt,
    parametric_n_opt,
)
from scaling.laws.rules import (
    CHINCHILLA_FAMILY,
    COMPARISON_LAWS,
    EPOCHS_NEARLY_FREE,
    EPOCHS_WORTHLESS,
    EXPONENT_RANGE,
    epochs_warning,
)

__all__ = [
    "CHINCHILLA_FAMILY",
    "COMPARISON_LAWS",
    "DEFAULT_LEVEL",
    "EPOCHS_NEARLY_FREE",
    "EPOCHS_WORTHLESS",
    "EXPONENT_RANGE",
    "PARAM_NAMES",
    "Allocation",
    "AllocationLaw",
    "KaplanLaw",
    "Law",
    "LossPrediction",
    "ParametricLaw",
    "as_scalar",
    "effective_data",
    "effective_params",
    "epochs_warning",
    "flops_array",
    "frontier_g",
    "get_law",
    "law_from_dict",
    "law_to_dict",
    "list_laws",
    "load_law",
    "parametric_loss",
    "parametric_loss_opt",
    "parametric_n_opt",
    "save_law",
    "with_replicates",
]
