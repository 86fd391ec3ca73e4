"""Allocation lines: a published power law N_opt = k (C/s)^a or D_opt = k (C/s)^b, the other from C = 6ND.

`AllocationLaw` has no loss model (Chinchilla Approaches 1 and 2, Llama 3, DeepSeek, a fitted Approach
1 or 2). `KaplanLaw` adds Kaplan et al. 2020's joint loss L(N, D) (Eq. 1.5) to its allocation (with
C_min = C/2, Hoffmann et al. 2022 App. D.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from scaling.errors import ScalingError
from scaling.laws.forms import kaplan_loss
from scaling.laws.law import Law, as_scalar, flops_array
from scaling.laws.parametric import positive_sizes
from scaling.units import FLOPS_PER_PARAM_TOKEN


@dataclass(frozen=True, eq=False, kw_only=True)
class AllocationLaw(Law):
    """N_opt = n_coef (C/flops_scale)^n_exp, or D_opt = d_coef (C/flops_scale)^d_exp (one of them
    is given)."""

    kind: ClassVar[str] = "allocation"

    n_coef: float | None = None
    n_exp: float | None = None
    d_coef: float | None = None
    d_exp: float | None = None
    flops_scale: float = 1.0

    def __post_init__(self) -> None:
        if (self.n_coef is None or self.n_exp is None) and (self.d_coef is None or self.d_exp is None):
            raise ScalingError(f"law {self.name!r}: an allocation law needs n_opt or d_opt (coef and exp)")

    @property
    def a(self) -> float:
        return self.n_exp if self.n_exp is not None else 1.0 - self.d_exp

    def n_opt(self, C):
        C = flops_array(C)
        if self.n_coef is not None:
            return as_scalar(self.n_coef * np.power(C / self.flops_scale, self.n_exp))
        return as_scalar(
            C / (FLOPS_PER_PARAM_TOKEN * self.d_coef * np.power(C / self.flops_scale, self.d_exp))
        )

    def constants(self) -> dict[str, Any]:
        names = ("n_coef", "n_exp", "d_coef", "d_exp", "flops_scale")
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}


@dataclass(frozen=True, eq=False, kw_only=True)
class KaplanLaw(AllocationLaw):
    """Kaplan's allocation plus the joint law L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Eq. 1.5)."""

    kind: ClassVar[str] = "kaplan"
    has_loss: ClassVar[bool] = True

    alpha_N: float
    alpha_D: float
    N_c: float
    D_c: float

    @property
    def E(self) -> float:
        """The irreducible loss: Kaplan's joint law goes to 0 with N and D."""
        return 0.0

    def predict(self, N, D, *, unique_tokens=None):
        """Kaplan et al. 2020 Eq. 1.5 (``unique_tokens`` is not modelled by this law and is ignored)."""
        N, D = positive_sizes(N, D)
        return as_scalar(kaplan_loss(N, D, self.N_c, self.D_c, self.alpha_N, self.alpha_D))

    def constants(self) -> dict[str, Any]:
        return {**super().constants(), **{k: getattr(self, k) for k in ("alpha_N", "alpha_D", "N_c", "D_c")}}
