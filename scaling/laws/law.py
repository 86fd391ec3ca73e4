"""The protocol every kind of law follows, and the allocation it answers with.

A law answers: N_opt(C), D_opt(C) = C / (6 N_opt), and, when it has a loss model, L(N, D), L*(C) and the
compute for a loss. Each kind (`ParametricLaw`, `AllocationLaw`, `KaplanLaw`) implements what it can; what it
cannot is refused with one message here. `Law.optimal` composes them into an `Allocation`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from scaling import checks
from scaling.errors import ScalingError
from scaling.laws.rules import epochs_warning
from scaling.render import Displayable, json_safe
from scaling.units import FLOPS_PER_PARAM_TOKEN, six_nd

DEFAULT_LEVEL = 0.8  # 80% intervals, as Epoch AI draw their D/N bands (epoch-research/analyzing-chinchilla)
DEFAULT_CONVENTION = "C = 6ND; N = total parameters including embeddings; D = training tokens"


def as_scalar(value: Any) -> Any:
    """A 0-d array as a float; arrays stay arrays (every law method broadcasts)."""
    value = np.asarray(value, dtype=float)
    return float(value) if value.ndim == 0 else value


# laws are evaluated from 1 to 1e40 FLOPs: 1e14 x beyond the largest run trained so far
MAX_LOG10_FLOPS = 40.0


def flops_array(C: Any) -> np.ndarray:
    """Training FLOPs as an array, refused unless finite, positive and at most 1e40."""
    with np.errstate(over="ignore"):
        C = np.asarray(C, dtype=float)
    bad = C[~(np.isfinite(C) & (C > 0) & (C <= 10.0**MAX_LOG10_FLOPS))] if C.size else C
    if C.size == 0 or bad.size:
        shown = f"{float(bad.flat[0]):.4g}" if bad.size else "(none)"
        raise ScalingError(
            f"invalid compute budget {shown}: FLOPs must be finite, greater than zero and at most "
            f"1e{MAX_LOG10_FLOPS:.0f}"
        )
    return C


@dataclass(frozen=True, eq=False)
class Allocation(Displayable):
    """A compute allocation: how big a model, how many tokens, and the loss it should reach.

    ``flops`` is the training compute 6·params·tokens. With ``inference_tokens`` it exceeds the budget asked
    for (``budget_flops``) by ``extra_flops``; see `scaling.laws` for the question answered.
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
    loss_unit: str = "nats/token"

    @property
    def extra_flops(self) -> Any:
        """Training FLOPs beyond the budget asked for (0 unless the allocation is inference-aware)."""
        return as_scalar(np.maximum(np.asarray(self.flops) - np.asarray(self.budget_flops), 0.0))

    @property
    def extra_fraction(self) -> Any:
        """`extra_flops` as a fraction of the budget."""
        return as_scalar(np.asarray(self.extra_flops) / np.asarray(self.budget_flops))

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("flops", "params", "tokens", "loss", "tokens_per_param")}
        out.update(law=self.law, budget_flops=self.budget_flops, extra_flops=self.extra_flops)
        for key in ("epochs", "unique_tokens", "inference_tokens", "inference_flops", "total_flops"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["intervals"] = {k: [lo, hi] for k, (lo, hi) in self.intervals.items()}
        out.update(interval_level=self.interval_level, loss_unit=self.loss_unit)
        out.update(warnings=list(self.warnings), notes=list(self.notes))
        return json_safe(out)


@dataclass(frozen=True, eq=False)
class LossPrediction(Displayable):
    """The loss a law predicts for N parameters on D tokens, with the compute-optimal model of the same
    6ND compute beside it."""

    params: float
    tokens: float
    flops: float  # 6ND
    loss: float
    loss_unit: str
    law: str
    compute_optimal: Allocation
    unique_tokens: float | None = None

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.params

    def to_dict(self) -> dict[str, Any]:
        names = ("params", "tokens", "flops", "loss", "loss_unit", "tokens_per_param", "law", "unique_tokens")
        return json_safe(
            {**{k: getattr(self, k) for k in names}, "compute_optimal": self.compute_optimal.to_dict()}
        )


@dataclass(frozen=True, eq=False, kw_only=True)
class Law(Displayable, ABC):
    """What every scaling law is: a name, its source and convention, its uncertainty, the unit of its loss.

    Subclasses set ``kind`` and ``has_loss`` and implement `n_opt` and `a`; those with a loss model implement
    `predict` (and may give closed forms of `loss_opt` and `flops_for_loss`). Uncertainty comes from
    ``replicates`` (bootstrap fits, parametric laws) or a published standard error of the exponent
    (``uncertainty = {"method": "exponent-pivot", ...}``, Epoch's preset).
    """

    kind: ClassVar[str] = "law"
    has_loss: ClassVar[bool] = False

    name: str
    source: str = ""
    convention: str = DEFAULT_CONVENTION
    form: str = ""
    notes: str = ""
    aliases: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    se: dict[str, float] = field(default_factory=dict)
    uncertainty: dict[str, Any] = field(default_factory=dict)
    replicates: np.ndarray | None = field(default=None, repr=False)
    interval_level: float = DEFAULT_LEVEL
    fit_flops_range: tuple[float, float] | None = None  # (min, max) 6ND of the runs a fitted law came from
    loss_unit: str = "nats/token"  # or "nats/byte" for a law fitted on byte-level runs
    tokenizer: str | None = None
    vocab_size: int | None = None
    seq_len: int | None = None  # the training context of the runs a fitted law came from
    eval_data: str | None = None  # what the loss is measured on (a downstream map needs the same)
    hyperparameters: dict[str, Any] | None = field(default=None, repr=False)  # fitted eta_opt, B_opt
    downstream: dict[str, Any] | None = field(default=None, repr=False)  # fitted ladder maps per task
    curve: dict[str, Any] | None = field(default=None, repr=False)  # schedule-aware constants (laws.curve)

    # ------------------------------------------------------------------ the protocol
    @property
    @abstractmethod
    def a(self) -> float:
        """Exponent of N_opt ∝ C^a."""

    @property
    def b(self) -> float:
        """Exponent of D_opt ∝ C^b (a + b = 1 under C = 6ND)."""
        return 1.0 - self.a

    @abstractmethod
    def n_opt(self, C: Any) -> Any:
        """Compute-optimal parameters for C training FLOPs (broadcasts)."""

    def d_opt(self, C: Any) -> Any:
        """Compute-optimal training tokens, D = C/(6 N_opt) (broadcasts)."""
        return as_scalar(flops_array(C) / (FLOPS_PER_PARAM_TOKEN * np.asarray(self.n_opt(C))))

    def predict(self, N: Any, D: Any, *, unique_tokens: float | None = None) -> Any:
        """Predicted loss for N parameters trained on D tokens (broadcasts). A law without a loss model
        (``has_loss`` false) refuses; every law with one overrides this."""
        self.require_loss("a loss prediction")
        raise ScalingError(f"law {self.name!r} has no loss model")

    def loss_opt(self, C: Any) -> Any:
        """L*(C): the loss of the compute-optimal model (broadcasts)."""
        self.require_loss("L*(C)")
        return self.predict(self.n_opt(C), self.d_opt(C))

    def flops_for_loss(self, L: Any) -> Any:
        """Inverse of L*(C): training FLOPs the compute-optimal model needs to reach loss L (broadcasts)."""
        self.require_loss("the compute for a loss")
        from scipy.optimize import brentq

        def one(target: float) -> float:
            f = lambda x: float(self.loss_opt(10.0**x)) - target  # noqa: E731
            top = MAX_LOG10_FLOPS
            if not f(0.0) > 0 > f(top):
                raise ScalingError(
                    f"loss {target!r} is outside what law {self.name!r} reaches for 1 to 1e{top:.0f} FLOPs"
                )
            return 10.0 ** brentq(f, 0.0, top, xtol=1e-12)

        return as_scalar(np.vectorize(one, otypes=[float])(np.asarray(L, dtype=float)))

    def overhead(self, k_N: Any) -> Any:
        """Training-compute overhead of a model k_N times the compute-optimal size at equal loss."""
        raise ScalingError(f"law {self.name!r} is not parametric; the overhead needs E, A, B, alpha, beta")

    def loss_at(self, params: float, tokens: float, *, unique_tokens: float | None = None) -> LossPrediction:
        """`predict` for one model and token count, with the compute-optimal allocation at its 6ND under the
        same unique tokens (so the optimum is scored by the rules the model was)."""
        loss = float(self.predict(params, tokens, unique_tokens=unique_tokens))
        flops = float(six_nd(params, tokens))
        optimum = self.optimal(flops, unique_tokens=unique_tokens)
        return LossPrediction(
            float(params), float(tokens), flops, loss, self.loss_unit, self.name, optimum, unique_tokens
        )

    def require_loss(self, what: str) -> None:
        """Refuse a question about loss for a law without a loss model."""
        if not self.has_loss:
            raise ScalingError(
                f"law {self.name!r} is an allocation line without a loss model, so it cannot give {what}; "
                "use a parametric law such as 'chinchilla', 'epoch' or 'muennighoff', or a fitted law JSON"
            )

    def constants(self) -> dict[str, Any]:
        """The law's own constants, as saved in its JSON."""
        return {}

    # ------------------------------------------------------------------ the allocation
    def optimal(
        self,
        C: Any,
        *,
        unique_tokens: float | None = None,
        inference_tokens: float | None = None,
        level: float | None = None,
        intervals: bool = True,
    ) -> Allocation:
        """The compute-optimal allocation for C training FLOPs (scalar or array).

        ``unique_tokens``: data-constrained optimum (Muennighoff); ``inference_tokens``: inference-aware
        optimum (Sardana); see `scaling.laws` for what each answers. ``level``: interval coverage (default
        0.8) where the law carries uncertainty; ``intervals=False`` leaves them out (they cost thousands of
        draws, and numpy's random and masked-array modules, that a caller using only the allocation
        need not pay).
        """
        level = self.interval_level if level is None else level
        if not 0 < level < 1:
            raise ScalingError(
                f"invalid interval level {level!r}: expected a fraction strictly between 0 and 1"
            )
        C = flops_array(C)
        if unique_tokens is not None:
            unique_tokens = checks.positive(unique_tokens, "unique tokens")
            unique_tokens = checks.at_least(unique_tokens, 1.0, "unique tokens", "a count of tokens")
        U = unique_tokens
        D_inf = (
            None
            if inference_tokens is None
            else checks.positive(inference_tokens, "inference tokens", allow_zero=True)
        )
        warnings = list(self.warnings) + self.extrapolation_warnings(C)
        notes = [f"law {self.name}: {self.source}", f"convention: {self.convention}"]
        self.check_allocation(
            C, np.asarray(self.n_opt(C)), np.asarray(self.d_opt(C))
        )  # the plain answer first
        N, D, loss, spread = self.allocate(C, U, D_inf or 0.0, level if intervals else None, warnings, notes)
        self.check_allocation(C, N, D)
        repeated = None if U is None else epochs_warning(D, U)
        if repeated:
            warnings.append(repeated)
        if self.has_loss and np.any(np.asarray(D / N) > 1e4):
            warnings.append("more than 10,000 tokens per parameter: beyond where these laws have been tested")
        inference_flops = None if D_inf is None else as_scalar(2.0 * N * D_inf)  # 2N FLOPs per token served
        flops = FLOPS_PER_PARAM_TOKEN * N * D
        return Allocation(
            flops=as_scalar(flops),
            params=as_scalar(N),
            tokens=as_scalar(D),
            tokens_per_param=as_scalar(D / N),
            loss=as_scalar(loss),
            law=self.name,
            budget_flops=as_scalar(C),
            epochs=None if U is None else as_scalar(D / U),
            unique_tokens=U,
            inference_tokens=D_inf,
            inference_flops=inference_flops,
            total_flops=None if D_inf is None else as_scalar(flops + 2.0 * N * D_inf),
            intervals=spread,
            interval_level=level,
            warnings=tuple(dict.fromkeys(warnings)),
            notes=tuple(notes),
            loss_unit=self.loss_unit,
        )

    def allocate(
        self, C: np.ndarray, U: float | None, D_inf: float, level: float | None, warnings: list, notes: list
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """(N, D, loss, intervals) of the plain compute-optimal allocation (no intervals when ``level`` is
        None); laws that can adjust for repeated data or inference demand override this. Appends to
        ``warnings`` and ``notes``."""
        N = np.asarray(self.n_opt(C), dtype=float)
        D = C / (FLOPS_PER_PARAM_TOKEN * N)
        loss = np.asarray(self.loss_opt(C)) if self.has_loss else np.full_like(C, np.nan)
        if U is not None or D_inf:
            warnings.append(
                f"law {self.name!r} has no parametric loss, so the allocation is not adjusted for "
                + ("repeated data" if U is not None else "inference demand")
            )
        return N, D, loss, self.intervals(C, level)

    def extrapolation_warnings(self, C: np.ndarray) -> list[str]:
        """A fitted law far beyond the compute of its runs says so."""
        if self.fit_flops_range is None:
            return []
        decades = math.log10(float(np.max(C)) / self.fit_flops_range[1])
        if decades <= 1.0:
            return []
        return [
            f"extrapolation: the budget is {decades:.1f} decades beyond the largest run this law was "
            f"fitted on (C = {self.fit_flops_range[1]:.3g}); Hoffmann et al. extrapolated about 2, and "
            "exponents fitted at small scale drift (Pearce & Song 2024, Porian et al. 2024)"
        ]

    def check_allocation(self, C: np.ndarray, N: np.ndarray, D: np.ndarray) -> None:
        """Refuse budgets for which the law's answer is not a model (under one parameter or one token)."""
        if not (np.all(np.isfinite(N)) and np.all(np.isfinite(D))):
            raise ScalingError(f"law {self.name!r} gives no finite allocation for budget {C!r} FLOPs")
        if np.any(N < 1) or np.any(D < 1):
            raise ScalingError(
                f"budget {float(np.min(C)):.3g} FLOPs is too small for law {self.name!r}: its "
                f"compute-optimal model would have {float(np.min(N)):.3g} parameters and "
                f"{float(np.min(D)):.3g} tokens"
            )

    # ------------------------------------------------------------------ uncertainty
    def predict_replicates(self, N: Any, D: Any) -> np.ndarray | None:
        """Every bootstrap replicate's L(N, D): an (R, n) array over N and D flattened, or None without
        replicates (or without a loss model)."""
        return None

    def replicate_draws(self, C: np.ndarray) -> dict[str, np.ndarray] | None:
        """Per-replicate params, tokens, tokens_per_param (and loss) at C, for laws with replicates."""
        return None

    def intervals(self, C: np.ndarray, level: float | None) -> dict[str, tuple[Any, Any]]:
        """Percentile intervals of the allocation at C: from replicates, or from a published SE of a (none
        when ``level`` is None)."""
        if level is None:
            return {}
        draws = self.replicate_draws(C)
        if draws is None and self.uncertainty.get("method") == "exponent-pivot" and "a" in self.se:
            # Epoch publishes SEs, not the covariance: propagate SE(a) about the data's centre C0 only.
            rng = np.random.default_rng(0)
            a = self.a + self.se["a"] * rng.standard_normal(10_000)[:, None]
            C0 = float(self.uncertainty.get("pivot_flops", 1e20))
            N = float(self.n_opt(C0)) * np.power(C.reshape(1, -1) / C0, a)
            D = C.reshape(1, -1) / (FLOPS_PER_PARAM_TOKEN * N)
            draws = {"params": N, "tokens": D, "tokens_per_param": D / N}
        if draws is None:
            return {}
        q = (0.5 - level / 2.0, 0.5 + level / 2.0)
        out = {}
        for key, values in draws.items():
            lo, hi = np.nanquantile(values, q, axis=0)
            out[key] = (as_scalar(lo.reshape(C.shape)), as_scalar(hi.reshape(C.shape)))
        return out

    def parameter_intervals(self, level: float | None = None) -> dict[str, tuple[float, float]]:
        """Intervals of the constants and of a, b: normal ± z·SE from a published SE."""
        if not self.se:
            return {}
        from scipy.stats import norm

        level = self.interval_level if level is None else level
        z = float(norm.ppf(0.5 + level / 2.0))
        values = {**self.constants(), "a": self.a}
        out = {k: (values[k] - z * s, values[k] + z * s) for k, s in self.se.items() if k in values}
        if "a" in out:
            out["b"] = (1.0 - out["a"][1], 1.0 - out["a"][0])
        return out

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """The law as JSON (the format `scaling.laws.law_from_dict` reads back)."""
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
            "loss_unit": self.loss_unit,
            "tokenizer": self.tokenizer,
            "vocab_size": self.vocab_size,
            "seq_len": self.seq_len,
        }
        for key in ("eval_data", "hyperparameters", "downstream", "curve"):  # data, HPs, maps, curve
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out.update(self.constants())
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
