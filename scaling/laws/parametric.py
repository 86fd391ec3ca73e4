"""Parametric laws: L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Eq. 2).

The frontier is closed form (Hoffmann Eq. 4): N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b with
G = (alpha A / (beta B))^(1/(alpha+beta)), a = beta/(alpha+beta), b = alpha/(alpha+beta).

Beyond plain Chinchilla, `ParametricLaw.optimal` answers two more questions:

* ``unique_tokens=U``: data-constrained optimum (Muennighoff et al. 2023, Eq. 5-6). Repeated tokens are worth
  less: D' = U + U R_D* (1 - exp(-R_D/R_D*)), and parameters beyond the compute-optimal size for U decay the
  same way with R_N*. The optimum minimises L(N', D') subject to 6ND = C with a bounded 1-D optimizer over
  log N. For laws other than ``muennighoff`` the R_D*, R_N* of the ``muennighoff`` preset are applied with
  the law's own E, A, B, alpha, beta (an assumption: Muennighoff fitted them with his base law).
* ``inference_tokens=D_inf``: the inference-aware optimum of Sardana et al. 2024 ("Beyond
  Chinchilla-Optimal"). **Question answered:** reach the loss that the compute-optimal model for budget C
  would reach, L*(C), at the least lifetime compute 6·N·D_tr + 2·N·D_inf. The answer is a smaller model
  trained on more tokens; its training FLOPs (``flops``) exceed C by
  ``extra_flops``, and ``total_flops``/``inference_flops`` report the lifetime cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from scaling.errors import ScalingError
from scaling.laws.law import Law, as_scalar, flops_array
from scaling.laws.rules import REPETITION_LAW, repetition_defaults
from scaling.units import FLOPS_PER_PARAM_TOKEN

PARAM_NAMES = ("E", "A", "B", "alpha", "beta")


# ------------------------------------------------------------------------------ closed forms (broadcast)
def parametric_loss(N, D, E, A, B, alpha, beta):
    """L = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Eq. 2); broadcasts over every argument."""
    return E + A * np.power(N, -alpha) + B * np.power(D, -beta)


def frontier_g(A, B, alpha, beta):
    """G = (alpha A / (beta B))^(1/(alpha+beta)) (Hoffmann et al. 2022, Eq. 4)."""
    return np.power(alpha * A / (beta * B), 1.0 / (alpha + beta))


def parametric_n_opt(C, A, B, alpha, beta):
    """N_opt(C) = G (C/6)^(beta/(alpha+beta)) (Hoffmann Eq. 4)."""
    scaled = np.asarray(C, dtype=float) / FLOPS_PER_PARAM_TOKEN
    return frontier_g(A, B, alpha, beta) * np.power(scaled, beta / (alpha + beta))


def parametric_loss_opt(C, E, A, B, alpha, beta):
    """L*(C) = E + (A G^-alpha + B G^beta) (C/6)^(-alpha beta/(alpha+beta)): Eq. 2 at Hoffmann's Eq. 4."""
    G = frontier_g(A, B, alpha, beta)
    scaled = np.asarray(C, dtype=float) / FLOPS_PER_PARAM_TOKEN
    return E + (A * G**-alpha + B * G**beta) * np.power(scaled, -alpha * beta / (alpha + beta))


def effective_data(D, unique_tokens, r_d_star):
    """Muennighoff et al. 2023 Eq. 5: D' = U + U R_D* (1 - exp(-R_D/R_D*)), R_D = D/U - 1 repeats."""
    U = np.minimum(unique_tokens, D)
    repeats = np.maximum(D / U - 1.0, 0.0)
    return U + U * r_d_star * (1.0 - np.exp(-repeats / r_d_star))


def effective_params(N, unique_tokens, r_n_star, A, B, alpha, beta):
    """Muennighoff et al. 2023 Eq. 6: N' = U_N + U_N R_N* (1 - exp(-R_N/R_N*)), U_N = min(N, N_opt(U)).

    N_opt(U) is the size whose compute-optimal token count is U: setting D_opt = U in Hoffmann et al. 2022
    Eq. 4 gives N = G (U G)^(beta/alpha).
    """
    G = frontier_g(A, B, alpha, beta)
    UN = np.minimum(N, G * np.power(unique_tokens * G, beta / alpha))
    repeats = np.maximum(N / UN - 1.0, 0.0)
    return UN + UN * r_n_star * (1.0 - np.exp(-repeats / r_n_star))


def positive_sizes(N: Any, D: Any) -> tuple[np.ndarray, np.ndarray]:
    """N and D as arrays, refused unless positive."""
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    if np.any(~(N > 0)) or np.any(~(D > 0)):
        raise ScalingError(f"parameters and tokens must be positive, got N={N!r}, D={D!r}")
    return N, D


@dataclass(frozen=True, eq=False, kw_only=True)
class ParametricLaw(Law):
    """L(N, D) = E + A/N^alpha + B/D^beta, with Muennighoff's R_D*, R_N* for repeated data when published."""

    kind: ClassVar[str] = "parametric"
    has_loss: ClassVar[bool] = True

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    R_D_star: float | None = None
    R_N_star: float | None = None

    @property
    def a(self) -> float:
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        return float(frontier_g(self.A, self.B, self.alpha, self.beta))

    @property
    def params(self) -> np.ndarray:
        """(E, A, B, alpha, beta) as an array."""
        return np.array([self.E, self.A, self.B, self.alpha, self.beta])

    def constants(self) -> dict[str, Any]:
        out = {k: float(getattr(self, k)) for k in PARAM_NAMES}
        out["G"] = self.G
        if self.R_D_star is not None:
            out["R_D_star"], out["R_N_star"] = self.R_D_star, self.R_N_star
        return out

    # ------------------------------------------------------------------ loss
    def predict(self, N, D, *, unique_tokens=None):
        """Predicted loss (broadcasts). With ``unique_tokens`` the data-constrained loss of Muennighoff et al.
        2023 (repeated tokens count as effective data D', surplus parameters as N')."""
        N, D = positive_sizes(N, D)
        if unique_tokens is not None:
            r_d, r_n = self.repetition_constants()
            D = effective_data(D, unique_tokens, r_d)
            N = effective_params(N, unique_tokens, r_n, self.A, self.B, self.alpha, self.beta)
        return as_scalar(parametric_loss(N, D, *self.params))

    def repetition_constants(self) -> tuple[float, float]:
        """(R_D*, R_N*): the law's own, or those of the `REPETITION_LAW` preset (``muennighoff``)."""
        if self.R_D_star is not None:
            return self.R_D_star, self.R_N_star
        return repetition_defaults()

    def n_opt(self, C):
        return as_scalar(parametric_n_opt(flops_array(C), self.A, self.B, self.alpha, self.beta))

    def loss_opt(self, C):
        return as_scalar(parametric_loss_opt(flops_array(C), *self.params))

    def flops_for_loss(self, L):
        L = np.asarray(L, dtype=float)
        if np.any(~(L > self.E)):
            raise ScalingError(f"loss {L!r} is not above the law's irreducible loss E = {self.E:.4g}")
        k = self.A * self.G**-self.alpha + self.B * self.G**self.beta
        exponent = -(self.alpha + self.beta) / (self.alpha * self.beta)
        return as_scalar(FLOPS_PER_PARAM_TOKEN * np.power((L - self.E) / k, exponent))

    def overhead(self, k_N):
        """Training-compute overhead of a model k_N times the compute-optimal size at equal loss ("Harm's
        law", Harm de Vries, Hugging Face Space lvwerra/harms-law). Independent of C; inf where the smaller
        model never reaches that loss."""
        k_N = np.asarray(k_N, dtype=float)
        if np.any(~(k_N > 0)):
            raise ScalingError(f"k_N must be positive, got {k_N!r}")
        inner = 1.0 - (k_N**-self.alpha - 1.0) * (self.A / self.B) * self.G ** -(self.alpha + self.beta)
        with np.errstate(divide="ignore", invalid="ignore"):
            k_D = np.where(inner > 0, np.power(np.where(inner > 0, inner, 1.0), -1.0 / self.beta), np.inf)
        return as_scalar(k_N * k_D - 1.0)

    # ------------------------------------------------------------------ the allocation
    def allocate(self, C, U, D_inf, level, warnings, notes):
        if U is None and not D_inf:
            return super().allocate(C, U, D_inf, level, warnings, notes)
        with np.errstate(all="ignore"):  # costs are infinite where a size never reaches the target: handled
            N, D, loss = np.vectorize(self.special_optimum, otypes=[float, float, float])(
                C, -1.0 if U is None else U, D_inf
            )
        if self.replicates is not None or self.uncertainty:
            notes.append("intervals are given for the plain compute-optimal allocation only")
        if U is not None:
            r_d, r_n = self.repetition_constants()
            origin = (
                f", from the {REPETITION_LAW} preset, applied to this law's constants)"
                if self.R_D_star is None
                else ")"
            )
            notes.append(
                "data-constrained optimum: Muennighoff et al. 2023 effective data D' and parameters N' "
                f"(R_D* = {r_d:.4g}, R_N* = {r_n:.4g}{origin}"
            )
        if D_inf:
            notes.append(
                "inference-aware optimum (Sardana et al. 2024): the least 6·N·D_train + 2·N·D_inference "
                "that reaches the compute-optimal loss L*(C); training FLOPs exceed the budget"
            )
        return N, D, loss, {}

    def special_optimum(self, C: float, U: float, D_inf: float) -> tuple[float, float, float]:
        """One data-constrained (U >= 0) and/or inference-aware (D_inf > 0) optimum, scalar C."""
        n_star = self.constrained_params(C, None if U < 0 else U)
        d_star = C / (FLOPS_PER_PARAM_TOKEN * n_star)
        target = float(self.predict(n_star, d_star, unique_tokens=None if U < 0 else U))
        if D_inf <= 0:
            return n_star, d_star, target
        return (*self.inference_aware(C, None if U < 0 else U, D_inf, n_star, target), target)

    def constrained_params(self, C: float, U: float | None) -> float:
        """The data-constrained optimum: argmin over log N of L(N', D') with D = C/(6N) (plain when U
        is None)."""
        n0 = float(self.n_opt(C))
        if U is None:
            return n0
        from scipy.optimize import minimize_scalar

        def f(x: float) -> float:
            N = math.exp(x)
            return float(self.predict(N, C / (FLOPS_PER_PARAM_TOKEN * N), unique_tokens=U))

        grid = np.linspace(math.log(n0) - math.log(1e4), math.log(n0) + math.log(1e2), 121)
        i = int(np.argmin([f(x) for x in grid]))
        bounds = (grid[max(i - 1, 0)], grid[min(i + 1, 120)])
        return math.exp(minimize_scalar(f, bounds=bounds, method="bounded", options={"xatol": 1e-9}).x)

    def tokens_for_loss(self, N: float, target: float, U: float | None) -> float:
        """Training tokens for which a model of N parameters reaches ``target`` (inf when it never does)."""
        if U is None:
            gap = target - self.E - self.A * N**-self.alpha
            return (self.B / gap) ** (1.0 / self.beta) if gap > 0 else math.inf
        from scipy.optimize import brentq

        g = lambda y: float(self.predict(N, math.exp(y), unique_tokens=U)) - target  # noqa: E731
        lo, hi = 0.0, math.log(1e35)
        if g(hi) >= 0:
            return math.inf
        if g(lo) <= 0:
            return 1.0
        return math.exp(brentq(g, lo, hi, xtol=1e-12))

    def inference_aware(
        self, C: float, U: float | None, D_inf: float, n_star: float, target: float
    ) -> tuple[float, float]:
        """Sardana et al. 2024: min over log N of 6 N D_tr(N) + 2 N D_inf with L(N, D_tr(N)) = L*(C)."""
        from scipy.optimize import minimize_scalar

        def cost(x: float) -> float:
            N = math.exp(x)
            return FLOPS_PER_PARAM_TOKEN * N * self.tokens_for_loss(N, target, U) + 2.0 * N * D_inf

        grid = np.linspace(math.log(n_star) - math.log(1e4), math.log(n_star) + 0.01, 161)
        values = np.array([cost(x) for x in grid])
        if not np.any(np.isfinite(values)):
            raise ScalingError(
                f"no inference-aware optimum for budget {C:.3g} FLOPs under law {self.name!r}: no model size "
                "reaches the compute-optimal loss; give a larger budget"
            )
        i = int(np.argmin(values))
        bounds = (grid[max(i - 1, 0)], grid[min(i + 1, 160)])
        x = minimize_scalar(cost, bounds=bounds, method="bounded", options={"xatol": 1e-9}).x
        if not math.isfinite(cost(x)) or cost(x) > values[i]:
            x = grid[i]
        N = math.exp(x)
        return N, self.tokens_for_loss(N, target, U)

    # ------------------------------------------------------------------ uncertainty
    def predict_replicates(self, N, D):
        if self.replicates is None or not len(self.replicates):
            return None
        N, D = positive_sizes(N, D)
        columns = (np.asarray(self.replicates, dtype=float)[:, i][:, None] for i in range(5))
        return parametric_loss(np.ravel(N)[None, :], np.ravel(D)[None, :], *columns)

    def replicate_draws(self, C):
        if self.replicates is None or not len(self.replicates):
            return None
        E, A, B, alpha, beta = (np.asarray(self.replicates, dtype=float)[:, i][:, None] for i in range(5))
        Cc = C.reshape(1, -1)
        N = parametric_n_opt(Cc, A, B, alpha, beta)
        D = Cc / (FLOPS_PER_PARAM_TOKEN * N)
        loss = parametric_loss_opt(Cc, E, A, B, alpha, beta)
        return {"params": N, "tokens": D, "tokens_per_param": D / N, "loss": loss}

    def parameter_intervals(self, level: float | None = None) -> dict[str, tuple[float, float]]:
        """Intervals of E, A, B, alpha, beta, a, b: bootstrap percentiles, or normal ± z·SE from a
        published SE."""
        if self.replicates is None or not len(self.replicates):
            return super().parameter_intervals(level)
        level = self.interval_level if level is None else level
        cols = dict(zip(PARAM_NAMES, np.asarray(self.replicates, dtype=float).T))
        cols["a"] = cols["beta"] / (cols["alpha"] + cols["beta"])
        cols["b"] = cols["alpha"] / (cols["alpha"] + cols["beta"])
        q = (0.5 - level / 2.0, 0.5 + level / 2.0)
        return {k: tuple(float(x) for x in np.quantile(v, q)) for k, v in cols.items()}
