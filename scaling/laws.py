"""Scaling laws: predicted loss L(N, D) and the compute-optimal allocation N_opt(C), D_opt(C), L*(C).

A `Law` is a frozen value loaded from ``data/laws.json`` (the published presets) or from a law JSON saved by
``scaling fit -o``. Three kinds:

* ``parametric``: L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Eq. 2). The frontier is closed
  form (Hoffmann Eq. 4): N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b, G = (alpha A / (beta B))^(1/(alpha+beta)),
  a = beta/(alpha+beta), b = alpha/(alpha+beta).
* ``allocation``: a published power law N_opt = k C^a (or D_opt = k C^b); the other from C = 6ND. No loss.
* ``kaplan``: Kaplan et al. 2020's allocation (with C_min = C/2, Hoffmann App. D.4) and its joint L(N, D).

Compute convention everywhere: C = 6·N·D training FLOPs, unless a law's ``convention`` says otherwise
(DeepSeek's M = non-embedding FLOPs per token, reported here as N = M/6).

Beyond plain Chinchilla, `Law.optimal` answers two more questions:

* ``unique_tokens=U``: data-constrained optimum (Muennighoff et al. 2023, Eq. 5-6). Repeated tokens are worth
  less: D' = U + U R_D* (1 - exp(-R_D/R_D*)), and parameters beyond the compute-optimal size for U decay the
  same way with R_N*. The optimum minimises L(N', D') subject to 6ND = C with a bounded 1-D optimizer over
  log N. For parametric laws other than ``muennighoff`` the R_D*, R_N* of the ``muennighoff`` preset are
  applied with the law's own E, A, B, alpha, beta (an assumption: Muennighoff fitted them with his base law).
* ``inference_tokens=D_inf``: the inference-aware optimum of Sardana et al. 2024 ("Beyond Chinchilla-Optimal").
  **Question answered:** reach the loss that the compute-optimal model for budget C would reach, L*(C), at the
  least lifetime compute 6·N·D_tr + 2·N·D_inf. The answer is a smaller model trained on more tokens; its
  training FLOPs (``flops``) exceed C, and ``total_flops``/``inference_flops`` report the lifetime cost.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from scaling import catalog
from scaling.errors import ScalingError

SIX = 6.0  # C = 6ND: forward 2ND + backward 4ND (Kaplan et al. 2020 section 2.1; Hoffmann et al. 2022 App. F)
DEFAULT_LEVEL = 0.8  # 80% intervals, as Epoch AI draw their D/N bands (analyzing-chinchilla cells 63-64)
PARAM_NAMES = ("E", "A", "B", "alpha", "beta")
# The laws a plan or a chart sets beside the one in use (the Chinchilla family, Epoch's replication, Kaplan,
# Llama 3), and the Chinchilla-family estimates that bound the compute-optimal zone.
COMPARISON_LAWS = ("chinchilla-a1", "chinchilla-a2", "chinchilla", "epoch", "kaplan", "llama3")
CHINCHILLA_FAMILY = ("chinchilla-a1", "chinchilla-a2", "chinchilla", "epoch")
# Muennighoff et al. 2023 (Fig. 3, Sec. 6): up to ~4 epochs repeated data is nearly as good as fresh data;
# returns vanish beyond ~16 (16 epochs are worth about 10.6 unique ones).
EPOCHS_NEARLY_FREE = 4.0
EPOCHS_WORTHLESS = 16.0
_NAN = float("nan")


# ------------------------------------------------------------------------------ closed forms (broadcast)
def parametric_loss(N, D, E, A, B, alpha, beta):
    """L = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Eq. 2); broadcasts over every argument."""
    return E + A * np.power(N, -alpha) + B * np.power(D, -beta)


def frontier_g(A, B, alpha, beta):
    """G = (alpha A / (beta B))^(1/(alpha+beta)) (Hoffmann et al. 2022, Eq. 4)."""
    return np.power(alpha * A / (beta * B), 1.0 / (alpha + beta))


def parametric_n_opt(C, A, B, alpha, beta):
    """N_opt(C) = G (C/6)^(beta/(alpha+beta)) (Hoffmann Eq. 4)."""
    return frontier_g(A, B, alpha, beta) * np.power(np.asarray(C, dtype=float) / SIX, beta / (alpha + beta))


def parametric_loss_opt(C, E, A, B, alpha, beta):
    """L*(C) = E + (A G^-alpha + B G^beta) (C/6)^(-alpha beta/(alpha+beta)) (fitting.md section 1.5)."""
    G = frontier_g(A, B, alpha, beta)
    return E + (A * G**-alpha + B * G**beta) * np.power(
        np.asarray(C, dtype=float) / SIX, -alpha * beta / (alpha + beta)
    )


def effective_data(D, unique_tokens, r_d_star):
    """Muennighoff et al. 2023 Eq. 5: D' = U + U R_D* (1 - exp(-R_D/R_D*)), R_D = D/U - 1 repeats."""
    U = np.minimum(unique_tokens, D)
    repeats = np.maximum(D / U - 1.0, 0.0)
    return U + U * r_d_star * (1.0 - np.exp(-repeats / r_d_star))


def effective_params(N, unique_tokens, r_n_star, A, B, alpha, beta):
    """Muennighoff et al. 2023 Eq. 6: N' = U_N + U_N R_N* (1 - exp(-R_N/R_N*)), U_N = min(N, N_opt(U)).

    N_opt(U) is the compute-optimal size for U tokens: G (U G)^(beta/alpha) (datablations README).
    """
    G = frontier_g(A, B, alpha, beta)
    UN = np.minimum(N, G * np.power(unique_tokens * G, beta / alpha))
    repeats = np.maximum(N / UN - 1.0, 0.0)
    return UN + UN * r_n_star * (1.0 - np.exp(-repeats / r_n_star))


def epochs_warning(tokens: float, unique_tokens: float) -> str | None:
    """The one warning for training on ``tokens`` drawn from ``unique_tokens`` of unique data (repeated data,
    Muennighoff et al. 2023), or None up to ~4 epochs."""
    epochs = float(np.max(np.asarray(tokens, dtype=float) / float(unique_tokens)))
    if epochs > EPOCHS_WORTHLESS:
        return (
            f"{epochs:.1f} epochs over {unique_tokens:.3g} unique tokens: far beyond what repeated data supports "
            "(Muennighoff et al. 2023: returns vanish beyond ~16 epochs); get more data or a smaller budget"
        )
    if epochs > EPOCHS_NEARLY_FREE:
        return (
            f"{epochs:.1f} epochs over {unique_tokens:.3g} unique tokens: beyond ~4 epochs repeated tokens lose "
            "value (Muennighoff et al. 2023)"
        )
    return None


def _scalar(value):
    value = np.asarray(value, dtype=float)
    return float(value) if value.ndim == 0 else value


# ------------------------------------------------------------------------------------------ allocation
@dataclass(frozen=True, eq=False)
class Allocation:
    """A compute allocation: how big a model, how many tokens, and the loss it should reach.

    ``flops`` is the training compute 6·params·tokens. With ``inference_tokens`` it can exceed the budget
    asked for (``budget_flops``); see the module docstring for the question answered.
    """

    flops: Any
    params: Any
    tokens: Any
    tokens_per_param: Any
    loss: Any
    law: str
    budget_flops: Any = None
    epochs: Any = None
    unique_tokens: float | None = None
    inference_tokens: float | None = None
    inference_flops: Any = None
    total_flops: Any = None
    intervals: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    interval_level: float = DEFAULT_LEVEL
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def plain(v):
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, np.generic):
                return v.item()
            return v

        out = {k: plain(getattr(self, k)) for k in ("flops", "params", "tokens", "loss", "tokens_per_param")}
        out["law"] = self.law
        out["budget_flops"] = plain(self.budget_flops)
        for key in ("epochs", "unique_tokens", "inference_tokens", "inference_flops", "total_flops"):
            if getattr(self, key) is not None:
                out[key] = plain(getattr(self, key))
        out["intervals"] = {k: [plain(lo), plain(hi)] for k, (lo, hi) in self.intervals.items()}
        out["interval_level"] = self.interval_level
        out["warnings"] = list(self.warnings)
        out["notes"] = list(self.notes)
        return out


# ------------------------------------------------------------------------------------------------ laws
@dataclass(frozen=True, eq=False)
class Law:
    """One scaling law with its source, its compute convention and (optionally) its uncertainty.

    Uncertainty comes either from ``replicates`` (an R x 5 array of bootstrap fits of E, A, B, alpha, beta,
    as saved by ``scaling fit --bootstrap``) or from a published standard error of the exponent
    (``uncertainty = {"method": "exponent-pivot", ...}``, Epoch's preset).
    """

    name: str
    kind: str  # "parametric" | "allocation" | "kaplan"
    source: str = ""
    convention: str = "C = 6ND; N = total parameters including embeddings; D = training tokens"
    form: str = ""
    notes: str = ""
    aliases: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # parametric: L = E + A/N^alpha + B/D^beta (and Muennighoff's R_D*, R_N* for repeated data)
    E: float = _NAN
    A: float = _NAN
    B: float = _NAN
    alpha: float = _NAN
    beta: float = _NAN
    R_D_star: float = _NAN
    R_N_star: float = _NAN
    # allocation / kaplan: N_opt = n_coef (C/flops_scale)^n_exp, or D_opt = d_coef (C/flops_scale)^d_exp
    n_coef: float = _NAN
    n_exp: float = _NAN
    d_coef: float = _NAN
    d_exp: float = _NAN
    flops_scale: float = 1.0
    # kaplan's joint law, Eq. 1.5: L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D
    alpha_N: float = _NAN
    alpha_D: float = _NAN
    N_c: float = _NAN
    D_c: float = _NAN
    # uncertainty
    se: dict[str, float] = field(default_factory=dict)
    uncertainty: dict[str, Any] = field(default_factory=dict)
    replicates: np.ndarray | None = field(default=None, repr=False)
    interval_level: float = DEFAULT_LEVEL
    fit_flops_range: tuple[float, float] | None = None  # (min, max) 6ND of the runs a fitted law came from

    # ------------------------------------------------------------------ basic properties
    @property
    def has_loss(self) -> bool:
        return self.kind in ("parametric", "kaplan")

    @property
    def a(self) -> float:
        """Exponent of N_opt ∝ C^a."""
        if self.kind == "parametric":
            return self.beta / (self.alpha + self.beta)
        if not math.isnan(self.n_exp):
            return self.n_exp
        return 1.0 - self.d_exp

    @property
    def b(self) -> float:
        """Exponent of D_opt ∝ C^b (a + b = 1 under C = 6ND)."""
        if self.kind == "parametric":
            return self.alpha / (self.alpha + self.beta)
        return 1.0 - self.a

    @property
    def G(self) -> float:
        return float(frontier_g(self.A, self.B, self.alpha, self.beta)) if self.kind == "parametric" else _NAN

    @property
    def params(self) -> np.ndarray:
        """(E, A, B, alpha, beta) as an array."""
        return np.array([self.E, self.A, self.B, self.alpha, self.beta])

    def _require_loss(self, what: str) -> None:
        if not self.has_loss:
            raise ScalingError(
                f"law {self.name!r} is an allocation line without a loss model, so it cannot give {what}; "
                "use a parametric law such as 'chinchilla', 'epoch' or 'muennighoff', or a fitted law JSON"
            )

    # ------------------------------------------------------------------ loss
    def predict(self, N, D, *, unique_tokens=None):
        """Predicted loss for N parameters trained on D tokens (broadcasts). With ``unique_tokens`` the
        data-constrained loss of Muennighoff et al. 2023 (repeated tokens count as effective data D')."""
        self._require_loss("a loss prediction")
        N = np.asarray(N, dtype=float)
        D = np.asarray(D, dtype=float)
        if np.any(~(N > 0)) or np.any(~(D > 0)):
            raise ScalingError(f"parameters and tokens must be positive, got N={N!r}, D={D!r}")
        if self.kind == "kaplan":
            return _scalar(
                np.power(np.power(self.N_c / N, self.alpha_N / self.alpha_D) + self.D_c / D, self.alpha_D)
            )
        if unique_tokens is not None:
            r_d, r_n = self._repetition_constants()
            D_eff = effective_data(D, unique_tokens, r_d)
            N_eff = effective_params(N, unique_tokens, r_n, self.A, self.B, self.alpha, self.beta)
            return _scalar(parametric_loss(N_eff, D_eff, *self.params))
        return _scalar(parametric_loss(N, D, *self.params))

    def _repetition_constants(self) -> tuple[float, float]:
        if not math.isnan(self.R_D_star):
            return self.R_D_star, self.R_N_star
        base = get_law("muennighoff")
        return base.R_D_star, base.R_N_star

    # ------------------------------------------------------------------ frontier
    def n_opt(self, C):
        """Compute-optimal parameters for C training FLOPs (broadcasts)."""
        C = _flops_array(C)
        if self.kind == "parametric":
            return _scalar(parametric_n_opt(C, self.A, self.B, self.alpha, self.beta))
        if not math.isnan(self.n_coef):
            return _scalar(self.n_coef * np.power(C / self.flops_scale, self.n_exp))
        return _scalar(C / (SIX * self.d_coef * np.power(C / self.flops_scale, self.d_exp)))

    def d_opt(self, C):
        """Compute-optimal training tokens, D = C/(6 N_opt) (broadcasts)."""
        return _scalar(_flops_array(C) / (SIX * np.asarray(self.n_opt(C))))

    def loss_opt(self, C):
        """L*(C): the loss of the compute-optimal model (broadcasts)."""
        self._require_loss("L*(C)")
        if self.kind == "parametric":
            return _scalar(parametric_loss_opt(_flops_array(C), *self.params))
        return self.predict(self.n_opt(C), self.d_opt(C))

    def flops_for_loss(self, L):
        """Inverse of L*(C): training FLOPs the compute-optimal model needs to reach loss L (broadcasts)."""
        self._require_loss("the compute for a loss")
        L = np.asarray(L, dtype=float)
        if self.kind == "parametric":
            if np.any(~(L > self.E)):
                raise ScalingError(f"loss {L!r} is not above the law's irreducible loss E = {self.E:.4g}")
            G = self.G
            k = self.A * G**-self.alpha + self.B * G**self.beta
            return _scalar(
                SIX * np.power((L - self.E) / k, -(self.alpha + self.beta) / (self.alpha * self.beta))
            )
        from scipy.optimize import brentq

        def one(target):
            f = lambda x: float(self.loss_opt(10.0**x)) - target  # noqa: E731
            if not f(0.0) > 0 > f(40.0):
                raise ScalingError(
                    f"loss {target!r} is outside what law {self.name!r} reaches for 1 to 1e40 FLOPs"
                )
            return 10.0 ** brentq(f, 0.0, 40.0, xtol=1e-12)

        return _scalar(np.vectorize(one, otypes=[float])(L))

    def overhead(self, k_N):
        """Training-compute overhead of a model k_N times the compute-optimal size at equal loss ("Harm's law",
        Harm de Vries, HF Space lvwerra/harms-law; fitting.md section 1.5). Independent of C; inf where the
        smaller model can never reach that loss."""
        if self.kind != "parametric":
            raise ScalingError(
                f"law {self.name!r} is not parametric; the overhead needs E, A, B, alpha, beta"
            )
        k_N = np.asarray(k_N, dtype=float)
        if np.any(~(k_N > 0)):
            raise ScalingError(f"k_N must be positive, got {k_N!r}")
        G = self.G
        inner = 1.0 - (k_N**-self.alpha - 1.0) * (self.A / self.B) * G ** -(self.alpha + self.beta)
        with np.errstate(divide="ignore", invalid="ignore"):
            k_D = np.where(inner > 0, np.power(np.where(inner > 0, inner, 1.0), -1.0 / self.beta), np.inf)
        return _scalar(k_N * k_D - 1.0)

    # ------------------------------------------------------------------ the allocation
    def optimal(
        self, C, *, unique_tokens=None, inference_tokens=None, level: float | None = None
    ) -> Allocation:
        """The compute-optimal allocation for C training FLOPs (scalar or array).

        ``unique_tokens``: data-constrained optimum (Muennighoff); ``inference_tokens``: inference-aware
        optimum (Sardana); see the module docstring for what each answers. ``level``: interval coverage
        (default 0.8) where the law carries uncertainty.
        """
        level = self.interval_level if level is None else level
        if not 0 < level < 1:
            raise ScalingError(f"interval level {level!r} must be in (0, 1)")
        C = _flops_array(C)
        U = None if unique_tokens is None else _positive(unique_tokens, "unique tokens")
        D_inf = (
            None
            if inference_tokens is None
            else _positive(inference_tokens, "inference tokens", allow_zero=True)
        )
        warnings = list(self.warnings)
        notes = [f"law {self.name}: {self.source}", f"convention: {self.convention}"]
        if self.fit_flops_range is not None:
            lo, hi = self.fit_flops_range
            decades = math.log10(float(np.max(C)) / hi)
            if decades > 1.0:
                warnings.append(
                    f"extrapolation: the budget is {decades:.1f} decades beyond the largest run this law was fitted "
                    f"on (C = {hi:.3g}); Hoffmann et al. extrapolated about 2, and exponents fitted at small scale "
                    "drift (Pearce & Song 2024, Porian et al. 2024)"
                )
        special = (U is not None or (D_inf is not None and D_inf > 0)) and self.kind == "parametric"

        if not special:
            N = np.asarray(self.n_opt(C), dtype=float)
            D = C / (SIX * N)
            loss = np.asarray(self.loss_opt(C)) if self.has_loss else np.full_like(C, np.nan)
            if self.kind != "parametric" and (U is not None or D_inf):
                warnings.append(
                    f"law {self.name!r} has no parametric loss, so the allocation is not adjusted for "
                    + ("repeated data" if U is not None else "inference demand")
                )
            intervals = self._intervals(C, level)
        else:
            N, D, loss = np.vectorize(self._special_optimum, otypes=[float, float, float])(
                C, -1.0 if U is None else U, 0.0 if D_inf is None else D_inf
            )
            intervals = {}
            if self.replicates is not None or self.uncertainty:
                notes.append("intervals are given for the plain compute-optimal allocation only")
            if U is not None:
                notes.append(
                    "data-constrained optimum: Muennighoff et al. 2023 effective data D' and parameters N' "
                    f"(R_D* = {self._repetition_constants()[0]:.4g}, R_N* = {self._repetition_constants()[1]:.4g}"
                    + (
                        ", from the muennighoff preset, applied to this law's constants)"
                        if math.isnan(self.R_D_star)
                        else ")"
                    )
                )
            if D_inf:
                notes.append(
                    "inference-aware optimum (Sardana et al. 2024): the least 6·N·D_train + 2·N·D_inference "
                    "that reaches the compute-optimal loss L*(C); training FLOPs exceed the budget"
                )
        flops = SIX * N * D
        epochs = None if U is None else _scalar(D / U)
        repeated = None if U is None else epochs_warning(D, U)
        if repeated:
            warnings.append(repeated)
        inference_flops = total = None
        if D_inf is not None:
            inference_flops = _scalar(2.0 * N * D_inf)  # 2N FLOPs per generated/processed token
            total = _scalar(flops + 2.0 * N * D_inf)
        if self.kind == "parametric" and np.any(np.asarray(D / N) > 1e4):
            warnings.append("more than 10,000 tokens per parameter: beyond where these laws have been tested")
        return Allocation(
            flops=_scalar(flops),
            params=_scalar(N),
            tokens=_scalar(D),
            tokens_per_param=_scalar(D / N),
            loss=_scalar(loss),
            law=self.name,
            budget_flops=_scalar(C),
            epochs=epochs,
            unique_tokens=U,
            inference_tokens=D_inf,
            inference_flops=inference_flops,
            total_flops=total,
            intervals=intervals,
            interval_level=level,
            warnings=tuple(dict.fromkeys(warnings)),
            notes=tuple(notes),
        )

    def _special_optimum(self, C: float, U: float, D_inf: float) -> tuple[float, float, float]:
        """One data-constrained and/or inference-aware optimum (scalar C)."""
        from scipy.optimize import brentq, minimize_scalar

        U_or_none = None if U < 0 else U
        loss = lambda N, D: float(self.predict(N, D, unique_tokens=U_or_none))  # noqa: E731
        n0 = float(self.n_opt(C))
        lo, hi = math.log(n0) - math.log(1e4), math.log(n0) + math.log(1e2)
        # 1) the data-constrained optimum (or plain Chinchilla when U is None): min over log N of L(N, C/6N)
        if U_or_none is None:
            n_star = n0
        else:
            f = lambda x: loss(math.exp(x), C / (SIX * math.exp(x)))  # noqa: E731
            grid = np.linspace(lo, hi, 121)
            i = int(np.argmin([f(x) for x in grid]))
            res = minimize_scalar(
                f,
                bounds=(grid[max(i - 1, 0)], grid[min(i + 1, 120)]),
                method="bounded",
                options={"xatol": 1e-9},
            )
            n_star = math.exp(res.x)
        d_star = C / (SIX * n_star)
        target = loss(n_star, d_star)
        if D_inf <= 0:
            return n_star, d_star, target

        # 2) Sardana: min over log N of 6 N D_tr(N) + 2 N D_inf with L(N, D_tr(N)) = L*(C)
        def tokens_for(N):
            if U_or_none is None:
                gap = target - self.E - self.A * N**-self.alpha
                return (self.B / gap) ** (1.0 / self.beta) if gap > 0 else math.inf
            g = lambda y: loss(N, math.exp(y)) - target  # noqa: E731
            if g(math.log(1e35)) >= 0:
                return math.inf
            return math.exp(brentq(g, math.log(1.0), math.log(1e35), xtol=1e-12))

        cost = lambda x: SIX * math.exp(x) * tokens_for(math.exp(x)) + 2.0 * math.exp(x) * D_inf  # noqa: E731
        grid = np.linspace(lo, math.log(n_star) + 0.01, 161)
        values = np.array([cost(x) for x in grid])
        i = int(np.argmin(values))
        res = minimize_scalar(
            cost,
            bounds=(grid[max(i - 1, 0)], grid[min(i + 1, 160)]),
            method="bounded",
            options={"xatol": 1e-9},
        )
        n_inf = math.exp(res.x)
        return n_inf, tokens_for(n_inf), target

    # ------------------------------------------------------------------ uncertainty
    def _intervals(self, C: np.ndarray, level: float) -> dict[str, tuple[Any, Any]]:
        q = (0.5 - level / 2.0, 0.5 + level / 2.0)
        if self.replicates is not None and len(self.replicates):
            R = np.asarray(self.replicates, dtype=float)
            E, A, B, al, be = (R[:, i][:, None] for i in range(5))
            Cc = C.reshape(1, -1)
            N = parametric_n_opt(Cc, A, B, al, be)
            D = Cc / (SIX * N)
            draws = {
                "params": N,
                "tokens": D,
                "tokens_per_param": D / N,
                "loss": parametric_loss_opt(Cc, E, A, B, al, be),
            }
        elif self.uncertainty.get("method") == "exponent-pivot" and "a" in self.se:
            # Epoch publishes SEs, not the covariance: propagate SE(a) about the data's centre C0 only.
            rng = np.random.default_rng(0)
            a = self.a + self.se["a"] * rng.standard_normal(10_000)[:, None]
            C0 = float(self.uncertainty.get("pivot_flops", 1e20))
            Cc = C.reshape(1, -1)
            N = float(self.n_opt(C0)) * np.power(Cc / C0, a)
            D = Cc / (SIX * N)
            draws = {"params": N, "tokens": D, "tokens_per_param": D / N}
        else:
            return {}
        out = {}
        for key, values in draws.items():
            lo, hi = np.nanquantile(values, q, axis=0)
            out[key] = (_scalar(lo.reshape(C.shape)), _scalar(hi.reshape(C.shape)))
        return out

    def parameter_intervals(self, level: float | None = None) -> dict[str, tuple[float, float]]:
        """Intervals of E, A, B, alpha, beta, a, b: bootstrap percentiles, or normal ± z·SE from a published SE."""
        level = self.interval_level if level is None else level
        if self.replicates is not None and len(self.replicates):
            R = np.asarray(self.replicates, dtype=float)
            cols = dict(zip(PARAM_NAMES, R.T))
            cols["a"] = cols["beta"] / (cols["alpha"] + cols["beta"])
            cols["b"] = cols["alpha"] / (cols["alpha"] + cols["beta"])
            q = (0.5 - level / 2.0, 0.5 + level / 2.0)
            return {k: tuple(float(x) for x in np.quantile(v, q)) for k, v in cols.items()}
        if self.se:
            from scipy.stats import norm

            z = float(norm.ppf(0.5 + level / 2.0))
            values = {
                "E": self.E,
                "A": self.A,
                "B": self.B,
                "alpha": self.alpha,
                "beta": self.beta,
                "a": self.a,
            }
            out = {k: (values[k] - z * s, values[k] + z * s) for k, s in self.se.items() if k in values}
            if "a" in out:
                out["b"] = (1.0 - out["a"][1], 1.0 - out["a"][0])
            return out
        return {}

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "convention": self.convention,
            "form": self.form,
            "notes": self.notes,
            "aliases": list(self.aliases),
            "warnings": list(self.warnings),
            "has_loss": self.has_loss,
        }
        if self.kind == "parametric":
            out.update({k: float(getattr(self, k)) for k in PARAM_NAMES})
            out["G"] = self.G
            if not math.isnan(self.R_D_star):
                out["R_D_star"], out["R_N_star"] = self.R_D_star, self.R_N_star
        if self.kind == "kaplan":
            out.update({k: getattr(self, k) for k in ("alpha_N", "alpha_D", "N_c", "D_c")})
        if self.kind != "parametric":
            out.update(
                {
                    k: getattr(self, k)
                    for k in ("n_coef", "n_exp", "d_coef", "d_exp", "flops_scale")
                    if not math.isnan(getattr(self, k))
                }
            )
        out["a"], out["b"] = float(self.a), float(self.b)
        ci = self.parameter_intervals()
        if ci:
            out["ci"] = {k: list(v) for k, v in ci.items()}
            out["ci_level"] = self.interval_level
        if self.se:
            out["se"] = dict(self.se)
        if self.uncertainty:
            out["uncertainty"] = dict(self.uncertainty)
        return out


# ------------------------------------------------------------------------------------------ loading
def _flops_array(C) -> np.ndarray:
    C = np.asarray(C, dtype=float)
    if C.size == 0 or np.any(~np.isfinite(C)) or np.any(C <= 0):
        raise ScalingError(f"invalid compute budget {C!r}: FLOPs must be finite and greater than zero")
    return C


def _positive(value, what: str, allow_zero: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ScalingError(f"invalid {what} {value!r}: expected a positive number of tokens") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise ScalingError(f"invalid {what} {value!r}: expected a positive number of tokens")
    return x


def law_from_dict(entry: dict[str, Any]) -> Law:
    """A `Law` from a ``data/laws.json`` entry or a saved law JSON (``scaling fit -o``).

    Constants may sit in a ``constants`` object or at the top level (the ``--json`` output of ``scaling fit``);
    bootstrap replicates, if any, are ``bootstrap.replicates`` rows of [E, A, B, alpha, beta].
    """
    try:
        kind = entry.get("kind", "parametric")
        constants = dict(entry.get("constants", {}))
        for key in (*PARAM_NAMES, "R_D_star", "R_N_star"):
            if key in entry and key not in constants:
                constants[key] = entry[key]
        fields: dict[str, Any] = {
            "name": str(entry.get("name", "law")),
            "kind": kind,
            "source": entry.get("source", ""),
            "form": entry.get("form", ""),
            "notes": entry.get("notes", ""),
            "aliases": tuple(entry.get("aliases", ())),
            "warnings": tuple(entry.get("warnings", ())),
            "se": dict(entry.get("se", {})),
            "uncertainty": dict(entry.get("uncertainty", {})),
        }
        if entry.get("convention"):
            fields["convention"] = entry["convention"]
        if kind == "parametric":
            for key in PARAM_NAMES:
                fields[key] = float(constants[key])
            for key in ("R_D_star", "R_N_star"):
                if key in constants:
                    fields[key] = float(constants[key])
        elif kind in ("allocation", "kaplan"):
            if "m_opt" in entry:  # DeepSeek: M = non-embedding FLOPs/token, N ≈ M/6
                fields["n_coef"] = float(entry["m_opt"]["coef"]) / SIX
                fields["n_exp"] = float(entry["m_opt"]["exp"])
            elif "n_opt" in entry:
                fields["n_coef"] = float(entry["n_opt"]["coef"])
                fields["n_exp"] = float(entry["n_opt"]["exp"])
                unit = float(entry["n_opt"].get("flops_unit", 1.0))
                fields["flops_scale"] = unit * float(entry["n_opt"].get("flops_divisor", 1.0))
            if "d_opt" in entry:
                fields["d_coef"] = float(entry["d_opt"]["coef"])
                fields["d_exp"] = float(entry["d_opt"]["exp"])
            if math.isnan(fields.get("n_coef", _NAN)) and math.isnan(fields.get("d_coef", _NAN)):
                raise KeyError("n_opt or d_opt")
            if kind == "kaplan":
                for key in ("alpha_N", "alpha_D", "N_c", "D_c"):
                    fields[key] = float(entry["joint_law"][key])
        else:
            raise ScalingError(f"unknown law kind {kind!r}: expected parametric, allocation or kaplan")
        boot = entry.get("bootstrap") or {}
        if boot.get("replicates"):
            fields["replicates"] = np.asarray(boot["replicates"], dtype=float).reshape(-1, 5)
            fields["interval_level"] = float(boot.get("level", DEFAULT_LEVEL))
        flops_range = (entry.get("fit") or {}).get("flops_range")
        if flops_range:
            fields["fit_flops_range"] = (float(flops_range[0]), float(flops_range[1]))
        law = Law(**fields)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ScalingError):
            raise
        raise ScalingError(f"bad law entry {entry.get('name', '?')!r}: missing or invalid {exc}") from None
    if law.kind == "parametric":
        bad = [k for k in PARAM_NAMES if not (getattr(law, k) > 0)]
        if bad:
            raise ScalingError(f"law {law.name!r}: {', '.join(bad)} must be positive numbers")
    return law


def _laws_file() -> Path:
    return catalog.data_path("laws.json")


@lru_cache(maxsize=4)
def _presets(path: str) -> dict[str, Law]:
    entries = catalog.read_json(Path(path))["laws"]
    return {catalog.normalize_name(e["name"]): law_from_dict(e) for e in entries}


def list_laws() -> list[Law]:
    """Every published preset in ``data/laws.json``."""
    return list(_presets(str(_laws_file())).values())


def load_law(path: str | Path) -> Law:
    """A law JSON saved by ``scaling fit -o`` (or written by hand in the ``data/laws.json`` entry format)."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScalingError(f"cannot read law file {str(path)!r}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ScalingError(f"law file {str(path)!r} is not valid JSON: {exc}") from None
    if isinstance(payload, dict) and "law" in payload and isinstance(payload["law"], dict):
        payload = payload["law"]
    if not isinstance(payload, dict):
        raise ScalingError(f"law file {str(path)!r} must hold a JSON object")
    payload.setdefault("name", path.stem)
    return law_from_dict(payload)


def get_law(name_or_path: str | Law) -> Law:
    """A preset by name or alias (case-insensitive), a path to a saved law JSON, or a `Law` as is."""
    if isinstance(name_or_path, Law):
        return name_or_path
    text = str(name_or_path).strip()
    presets = _presets(str(_laws_file()))
    key = catalog.normalize_name(text)
    if key in presets:
        return presets[key]
    for law in presets.values():
        if key in (catalog.normalize_name(a) for a in law.aliases):
            return law
    if text.lower().endswith(".json") or Path(text).is_file():
        if not Path(text).is_file():
            raise ScalingError(
                f"law file {text!r} does not exist (a law is a preset name or a law JSON path)"
            )
        return load_law(text)
    names = list(presets) + [catalog.normalize_name(a) for law in presets.values() for a in law.aliases]
    raise catalog.unknown("law", text, names, "scaling laws")


def with_replicates(law: Law, replicates: np.ndarray, level: float = DEFAULT_LEVEL) -> Law:
    """A copy of a law carrying bootstrap replicates (R x 5 rows of E, A, B, alpha, beta)."""
    return replace(law, replicates=np.asarray(replicates, dtype=float), interval_level=level)
