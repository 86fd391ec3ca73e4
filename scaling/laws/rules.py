"""Rules about laws that other parts of the package share: which laws to compare against, the repeated-data
rule, and the bounds a law's constants must respect to be loaded."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from scaling import catalog, checks
from scaling.errors import ScalingError
from scaling.units import format_count, format_epochs

# The laws a plan or a chart sets beside the one in use (the Chinchilla family, Epoch's replication, Kaplan,
# Llama 3), and the Chinchilla-family estimates that bound the compute-optimal zone.
COMPARISON_LAWS = ("chinchilla-a1", "chinchilla-a2", "chinchilla", "epoch", "kaplan", "llama3")
CHINCHILLA_FAMILY = ("chinchilla-a1", "chinchilla-a2", "chinchilla", "epoch")

# The "20 tokens per parameter" rule of thumb for a compute-optimal run (Hoffmann et al. 2022,
# Table 3, rounded).
TOKENS_PER_PARAM = 20.0

# Muennighoff et al. 2023: up to ~4 epochs repeated data is nearly as good as fresh data. Their Eq. 5 with
# R_D* = 15.4 makes 4 epochs worth 3.7 unique ones and 16 epochs about 10.6: beyond ~16 returns vanish.
EPOCHS_NEARLY_FREE = 4.0
EPOCHS_WORTHLESS = 16.0
# A parametric law without repetition constants of its own values repeated data with those of this preset of
# ``data/laws.json`` (Muennighoff et al. 2023, Eq. 5-6: R_D* and R_N*).
REPETITION_LAW = "muennighoff"

# The forms a law may be fitted in (`scaling.fit.forms`): Chinchilla's (Hoffmann et al. 2022 Eq. 2), a data
# exponent that depends on N (after Li et al. 2025, Farseer), Kaplan et al. 2020 Eq. 1.5 and the
# data-constrained form (Muennighoff et al. 2023); ``auto`` chooses by rolling-origin held-out error.
LAW_FORMS = ("chinchilla", "farseer", "kaplan", "muennighoff")
FORM_CHOICES = (*LAW_FORMS, "auto")

# Exponents of a loadable law. Published ones lie between about 0.07 (Kaplan et al. 2020) and 0.8; a fit
# bounds them to [0, 10]; below 1e-3 a law predicts no scaling at all and its frontier overflows.
EXPONENT_RANGE = (1e-3, 10.0)
# Exponents of an allocation line N_opt ∝ C^a (or D_opt ∝ C^b): a + b = 1 with both positive.
ALLOCATION_EXPONENT_RANGE = (1e-3, 1.0 - 1e-3)


def epochs_warning(tokens, unique_tokens: float) -> str | None:
    """The one warning for training on ``tokens`` drawn from ``unique_tokens`` of unique data (repeated data,
    Muennighoff et al. 2023), or None up to ~4 epochs. ``tokens`` may be an array (the largest counts)."""
    epochs = float(np.max(np.asarray(tokens, dtype=float) / float(unique_tokens)))
    if epochs > EPOCHS_WORTHLESS:
        return (
            f"{format_epochs(epochs)} epochs over {format_count(unique_tokens)} unique tokens: far beyond "
            "what repeated data supports (Muennighoff et al. 2023: returns vanish beyond ~16 epochs); get "
            "more data or a smaller budget"
        )
    if epochs > EPOCHS_NEARLY_FREE:
        return (
            f"{format_epochs(epochs)} epochs over {format_count(unique_tokens)} unique tokens: beyond ~4 "
            "epochs repeated tokens lose value (Muennighoff et al. 2023)"
        )
    return None


def repetition_defaults() -> tuple[float, float]:
    """(R_D*, R_N*) of the `REPETITION_LAW` preset, read from the laws catalog (``data/laws.json``, or the
    ``$SCALING_DATA_DIR`` copy) without building the laws: the law kinds read these, so they sit
    below them. Read once per ``$SCALING_DATA_DIR``: every data-constrained loss asks (tens of thousands of
    times in an inference-aware search), and finding the file is a few file-system calls."""
    return _repetition_defaults(os.environ.get("SCALING_DATA_DIR"))


@lru_cache(maxsize=4)
def _repetition_defaults(data_dir: str | None) -> tuple[float, float]:
    path = str(catalog.data_path("laws.json"))
    for entry in catalog.read_json(Path(path))["laws"]:
        if catalog.normalize_name(entry.get("name", "")) == REPETITION_LAW:
            constants = {**entry, **(entry.get("constants") or {})}  # constants may sit at the top level
            where = f"preset {REPETITION_LAW!r}"
            return tuple(checks.positive(constants.get(k), f"{where} {k}") for k in ("R_D_star", "R_N_star"))
    raise ScalingError(f"{path!r} has no {REPETITION_LAW!r} law, whose R_D* and R_N* repeated data needs")
