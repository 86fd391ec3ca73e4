"""Law forms beside Chinchilla's, whose compute-optimal allocation comes from numerical minimisation.

A `FormLaw` is a loss model L(N, D) with named constants; it answers every question a law answers
(``predict``, ``n_opt``, ``loss_opt``, ``flops_for_loss``, ``optimal`` with bootstrap intervals), so a plan, a
chart or the app never asks which form it holds. Each form is one function of (N, D, *constants):

* ``farseer``: E + A/N^alpha + B/D^beta(N), beta(N) = beta (N/N_ref)^gamma. Li et al. 2025 ("Farseer: A
  Refined Scaling Law in Large Language Models", arXiv 2506.10972) found that the data exponent depends on
  the model size: larger models gain more from more tokens. Their surface makes the exponent exp(a N^g + b);
  in the limit of small g that is a power of N, which is this form: Chinchilla's terms and one constant more
  (gamma; gamma = 0 is Chinchilla's law, with beta(N) = beta). N_ref is a fixed reference size (the geometric
  mean of the runs' sizes for a fitted law), not a fitted constant.
* ``kaplan``: [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. 2020, Eq. 1.5), no irreducible loss.

N_opt(C) minimises L(N, C/(6N)) over log N: a grid of tokens per parameter from `RATIO_RANGE` then a golden
section search, vectorised over budgets and bootstrap replicates. An optimum on the edge of that range is not
an optimum: the allocation says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from scaling.errors import ScalingError
from scaling.laws.law import Law, as_scalar, flops_array
from scaling.laws.parametric import positive_sizes
from scaling.units import FLOPS_PER_PARAM_TOKEN

# the search for N_opt spans these tokens per parameter (D/N): Sardana et al. 2024 tested up to 10,000
RATIO_RANGE = (1e-3, 1e6)
GRID_POINTS = 91
GOLDEN_STEPS = 60  # bracket shrinks by 0.618^60 ~ 3e-13 of two grid steps
PIVOT_FLOPS = 1e21  # where `a` (the local exponent of N_opt) is read for a law without a fitted range


def farseer_loss(N, D, E, A, B, alpha, beta, gamma, N_ref):
    """E + A/N^alpha + B/D^(beta (N/N_ref)^gamma): Chinchilla's terms with a data exponent that grows (gamma >
    0) or shrinks with N (after Li et al. 2025, Farseer); broadcasts."""
    data_exponent = beta * np.power(N / N_ref, gamma)
    return E + A * np.power(N, -alpha) + B * np.power(D, -data_exponent)


def kaplan_loss(N, D, N_c, D_c, alpha_N, alpha_D):
    """[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. 2020, Eq. 1.5); broadcasts."""
    return np.power(np.power(N_c / N, alpha_N / alpha_D) + D_c / D, alpha_D)


@dataclass(frozen=True)
class LossForm:
    """One form: its loss function, constant names (``fixed`` ones are set, not fitted), which constant is
    the irreducible loss, which are exponents (bounded like every law's), and its source."""

    name: str
    loss: Any
    names: tuple[str, ...]
    exponents: tuple[str, ...]
    formula: str
    source: str
    irreducible: str | None = None
    fixed: tuple[str, ...] = ()
    signed: tuple[str, ...] = ()  # constants that may be negative or zero (farseer's gamma)


FORMS = {
    "farseer": LossForm(
        "farseer",
        farseer_loss,
        ("E", "A", "B", "alpha", "beta", "gamma", "N_ref"),
        ("alpha", "beta"),
        "E + A/N^alpha + B/D^(beta (N/N_ref)^gamma)",
        "after Li et al. 2025 (Farseer, arXiv 2506.10972): a data exponent that depends on N",
        irreducible="E",
        fixed=("N_ref",),
        signed=("gamma",),
    ),
    "kaplan": LossForm(
        "kaplan",
        kaplan_loss,
        ("N_c", "D_c", "alpha_N", "alpha_D"),
        ("alpha_N", "alpha_D"),
        "[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D",
        "Kaplan et al. 2020, Eq. 1.5",
    ),
}


def form_of(name: str) -> LossForm:
    if name not in FORMS:
        raise ScalingError(f"invalid law form {name!r}: expected one of {', '.join(FORMS)}")
    return FORMS[name]


def form_optimum(form: LossForm, C: Any, columns: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(N_opt, on_edge) minimising L(N, C/(6N)) for every C and constant set: ``columns`` are the constants
    as arrays broadcasting against C (a (R, 1) column per constant and C of shape (1, m) for R replicates)."""
    C = np.asarray(C, dtype=float)
    shape = np.broadcast_shapes(C.shape, *(np.shape(c) for c in columns))
    C = np.broadcast_to(C, shape)[..., None]
    cols = [np.broadcast_to(np.asarray(c, dtype=float), shape)[..., None] for c in columns]
    grid = np.linspace(math.log(RATIO_RANGE[0]), math.log(RATIO_RANGE[1]), GRID_POINTS)

    def loss_at(log_ratio: np.ndarray) -> np.ndarray:
        N = np.sqrt(C / (FLOPS_PER_PARAM_TOKEN * np.exp(log_ratio)))
        with np.errstate(all="ignore"):
            value = form.loss(N, C / (FLOPS_PER_PARAM_TOKEN * N), *cols)
        return np.where(np.isfinite(value), value, np.inf)

    values = loss_at(grid)
    best = np.argmin(values, axis=-1)
    on_edge = (best == 0) | (best == GRID_POINTS - 1)
    lo = grid[np.maximum(best - 1, 0)][..., None]
    hi = grid[np.minimum(best + 1, GRID_POINTS - 1)][..., None]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    f1, f2 = loss_at(x1), loss_at(x2)
    for _ in range(GOLDEN_STEPS):  # golden section, every budget and replicate at once
        left = f1 <= f2  # the minimum lies in [lo, x2]: x1 becomes the new x2; else x2 becomes x1
        hi, lo = np.where(left, x2, hi), np.where(left, lo, x1)
        x1, x2 = np.where(left, hi - ratio * (hi - lo), x2), np.where(left, x1, lo + ratio * (hi - lo))
        fresh = loss_at(np.where(left, x1, x2))
        f1, f2 = np.where(left, fresh, f2), np.where(left, f1, fresh)
    log_ratio = (0.5 * (lo + hi))[..., 0]
    return np.sqrt(C[..., 0] / (FLOPS_PER_PARAM_TOKEN * np.exp(log_ratio))), on_edge


@dataclass(frozen=True, eq=False, kw_only=True)
class FormLaw(Law):
    """A law of one of `FORMS`, with its constants by name; bootstrap replicates are rows of every constant
    in the form's order."""

    kind: ClassVar[str] = "form"
    has_loss: ClassVar[bool] = True

    law_form: str
    parameters: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        form = form_of(self.law_form)
        missing = [k for k in form.names if k not in self.parameters]
        if missing:
            raise ScalingError(f"law {self.name!r}: the {form.name} form needs {', '.join(missing)}")

    @property
    def spec(self) -> LossForm:
        return FORMS[self.law_form]

    def columns(self) -> list[float]:
        return [self.parameters[k] for k in self.spec.names]

    def replicate_columns(self) -> list[np.ndarray] | None:
        """The replicates' constants as (R, 1) columns, or None without replicates."""
        if self.replicates is None or not len(self.replicates):
            return None
        R = np.asarray(self.replicates, dtype=float)
        return [R[:, i][:, None] for i in range(R.shape[1])]

    @property
    def E(self) -> float:
        """The irreducible loss (0 for a form without one, Kaplan's)."""
        key = self.spec.irreducible
        return 0.0 if key is None else float(self.parameters[key])

    @property
    def a(self) -> float:
        """The local exponent of N_opt ∝ C^a, read over a decade about the top of the fitted range (1e21
        FLOPs for a law without one): these forms have no single exponent."""
        pivot = self.fit_flops_range[1] if self.fit_flops_range else PIVOT_FLOPS
        low, high = self.n_opt(np.array([pivot / math.sqrt(10.0), pivot * math.sqrt(10.0)]))
        return float(math.log10(high / low))

    def predict(self, N, D, *, unique_tokens=None):
        """L(N, D) of the form (broadcasts); ``unique_tokens`` is not modelled by these forms: ignored."""
        N, D = positive_sizes(N, D)
        return as_scalar(self.spec.loss(N, D, *self.columns()))

    def predict_replicates(self, N, D):
        cols = self.replicate_columns()
        if cols is None:
            return None
        N, D = positive_sizes(N, D)
        with np.errstate(all="ignore"):
            return self.spec.loss(np.ravel(N)[None, :], np.ravel(D)[None, :], *cols)

    def n_opt(self, C):
        N, _ = form_optimum(self.spec, flops_array(C), self.columns())
        return as_scalar(N)

    def constants(self) -> dict[str, Any]:
        return {k: float(self.parameters[k]) for k in self.spec.names}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "law_form": self.law_form}

    def allocate(self, C, U, D_inf, level, warnings, notes):
        _, on_edge = form_optimum(self.spec, C, self.columns())
        if np.any(on_edge):
            low, high = RATIO_RANGE
            warnings.append(
                f"law {self.name!r} has no compute-optimal model between {low:g} and {high:g} tokens per "
                "parameter at this budget: its loss falls toward the edge of the search, so the allocation "
                "is that edge, not an optimum"
            )
        notes.append(f"{self.law_form} form {self.spec.formula}: N_opt by numerical minimisation over log N")
        return super().allocate(C, U, D_inf, level, warnings, notes)

    def replicate_draws(self, C):
        cols = self.replicate_columns()
        if cols is None:
            return None
        Cc = C.reshape(1, -1)
        N, _ = form_optimum(self.spec, Cc, cols)
        D = Cc / (FLOPS_PER_PARAM_TOKEN * N)
        with np.errstate(all="ignore"):
            loss = self.spec.loss(N, D, *cols)
        return {"params": N, "tokens": D, "tokens_per_param": D / N, "loss": loss}

    def parameter_intervals(self, level: float | None = None) -> dict[str, tuple[float, float]]:
        """Bootstrap percentiles of the fitted constants (the fixed ones left out)."""
        cols = self.replicate_columns()
        if cols is None:
            return super().parameter_intervals(level)
        level = self.interval_level if level is None else level
        q = (0.5 - level / 2.0, 0.5 + level / 2.0)
        return {
            k: tuple(float(x) for x in np.quantile(c[:, 0], q))
            for k, c in zip(self.spec.names, cols)
            if k not in self.spec.fixed
        }
