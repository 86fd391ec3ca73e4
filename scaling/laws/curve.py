"""The loss curve through training under a learning-rate schedule (Tissue et al. 2024, "Scaling Law with
Learning Rate Annealing", arXiv 2408.11029): L(s) = L0 + A·S1^(-alpha) - C·S2, with an N term so that one law
covers every model size of a sweep:

    L(N, s) = E + A/N^alpha + B/S1(s)^beta - C·S2(s)

* S1(s), the forward area: the sum of the learning rates up to step s. Here each step's rate is a fraction of
  the peak and counts the tokens of its step, so S1 is in tokens (S1 = D at a constant rate, and the law is
  Hoffmann et al. 2022's Eq. 2 plus an annealing term). Warmup steps count at the peak, as in AI2's
  implementation (``allenai/OLMo`` ``olmo/scaling/scaling_laws/utils.py`` ``get_data_by_name``, "fake_lr").
* S2(s), the annealing area: m_i = lambda·m_(i-1) + (eta_(i-1) - eta_i), S2 = sum of m_i (Tissue et al.
  2024; lambda = 0.999 in AI2's implementation), here times (1 - lambda) so that S2 is the fraction of the
  peak annealed so far, with a lag of about 1/(1 - lambda) steps: 0 at a constant rate, 0.9 long after a
  cosine to 10% ends. C is then the loss a full anneal removes, in the law's loss unit.

What the form leaves out: the peak learning rate's size (each step's rate is a fraction of its run's peak,
so the law assumes every run's peak is tuned as the fitted runs' were) and the batch size beyond its steps.
A law file carries the constants under the key ``curve`` (written by ``scaling fit RUNS --curves``), beside
its final-loss law; `CurveLaw.from_dict` is the one reader and validator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaling import checks
from scaling.errors import ScalingError, quoted
from scaling.laws.rules import EXPONENT_RANGE

KEY = "curve"  # the law file's key
LAMBDA = 0.999  # the annealing momentum of AI2's implementation (get_data_by_name: lam = 0.999)
CURVE_NAMES = ("E", "A", "B", "alpha", "beta", "C")
CURVE_FORMULA = "E + A/N^alpha + B/S1^beta - C S2 (Tissue et al. 2024, with an N term)"
CURVE_SOURCE = (
    "Tissue et al. 2024 (arXiv 2408.11029) L = L0 + A S1^-alpha - C S2, with A/N^alpha for the model size; "
    "S1 in LR-weighted tokens, warmup at the peak, S2 with momentum lambda (AI2 OLMo get_data_by_name)"
)
MILESTONES = (0.1, 0.25, 0.5, 0.75, 0.9, 1.0)  # fractions of the run the text output prints
CURVE_POINTS = 200  # points of a predicted curve in JSON and charts
# the longest run a curve is computed for, step by step (~30 MB an array): Llama 3 405B took ~1M steps
MAX_CURVE_STEPS = 4_000_000


def check_steps(steps: int) -> int:
    """A run's number of steps, refused beyond `MAX_CURVE_STEPS`."""
    if steps > MAX_CURVE_STEPS:
        raise ScalingError(
            f"a run of {steps:,} optimizer steps is too long for a step-by-step loss curve (at most "
            f"{MAX_CURVE_STEPS:,}); give fewer tokens or a larger batch"
        )
    return int(steps)


def annealing_areas(lr: Any, tokens_per_step: float, lam: float = LAMBDA) -> tuple[np.ndarray, np.ndarray]:
    """(S1, S2) after each step of a run whose learning rate at step i (0-based) is ``lr[i]`` (any scale:
    only the fraction of the peak counts): S1 in tokens, S2 the fraction of the peak annealed so far."""
    from scipy.signal import lfilter

    rate = np.asarray(lr, dtype=float)
    check_steps(rate.size)
    if rate.ndim != 1 or rate.size == 0 or not np.all(np.isfinite(rate)) or np.any(rate < 0):
        raise ScalingError("a learning-rate schedule must be a non-empty list of finite rates >= 0")
    peak = float(rate.max())
    if not peak > 0:
        raise ScalingError("a learning-rate schedule must reach a positive peak")
    fraction = rate / peak
    top = int(np.argmax(fraction))
    fraction[:top] = 1.0  # warmup counts at the peak (AI2's "fake_lr")
    s1 = np.cumsum(fraction) * float(tokens_per_step)
    drops = np.concatenate([[0.0], fraction[:-1] - fraction[1:]])
    momentum = lfilter([1.0], [1.0, -lam], drops)
    return s1, (1.0 - lam) * np.cumsum(momentum)


def curve_loss(N, S1, S2, E, A, B, alpha, beta, C):
    """E + A/N^alpha + B/S1^beta - C S2 (broadcasts over every argument)."""
    return E + A * np.power(N, -alpha) + B * np.power(S1, -beta) - C * S2


@dataclass(frozen=True)
class CurvePrediction:
    """A predicted loss curve: tokens seen (and the learning rate as a fraction of the peak) at
    `CURVE_POINTS` steps, the loss there, and the final loss."""

    params: float
    tokens: np.ndarray
    loss: np.ndarray
    lr_fraction: np.ndarray
    final_loss: float
    loss_unit: str
    schedule: dict[str, Any]
    batch_tokens: float
    source: str
    interval: tuple[float, float] | None = None  # of the final loss, from the bootstrap replicates
    interval_level: float = 0.8

    def milestones(self) -> list[tuple[float, float, float]]:
        """(fraction of the run, tokens, loss) at `MILESTONES`."""
        total = float(self.tokens[-1])
        out = []
        for fraction in MILESTONES:
            i = int(np.searchsorted(self.tokens, fraction * total - 1e-9 * total))
            i = min(i, len(self.tokens) - 1)
            out.append((fraction, float(self.tokens[i]), float(self.loss[i])))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "tokens": [float(v) for v in self.tokens],
            "loss": [float(v) for v in self.loss],
            "lr_fraction": [float(v) for v in self.lr_fraction],
            "final_loss": self.final_loss,
            "final_loss_interval": list(self.interval) if self.interval else None,
            "interval_level": self.interval_level,
            "loss_unit": self.loss_unit,
            "schedule": self.schedule,
            "batch_tokens": self.batch_tokens,
            "source": self.source,
        }


@dataclass(frozen=True)
class CurveLaw:
    """The fitted constants of `curve_loss`, with bootstrap replicates (rows of `CURVE_NAMES`) when fitted
    with them; ``fit`` records how (runs, points, what was set aside)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    C: float
    lam: float = LAMBDA
    replicates: np.ndarray | None = field(default=None, repr=False)
    interval_level: float = 0.8
    fit: dict[str, Any] = field(default_factory=dict)

    @property
    def constants(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, k)) for k in CURVE_NAMES)

    def loss(self, N: Any, S1: Any, S2: Any) -> Any:
        return curve_loss(N, S1, S2, *self.constants)

    def run_curve(self, params: float, lr: Any, tokens_per_step: float) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, loss) after every step of a run of ``params`` whose rate at step i is ``lr[i]``."""
        s1, s2 = annealing_areas(lr, tokens_per_step, self.lam)
        steps = np.arange(1, len(s1) + 1)
        return steps * float(tokens_per_step), self.loss(float(params), s1, s2)

    def predict(
        self, params: float, lr: Any, tokens_per_step: float, *, schedule: dict, loss_unit: str
    ) -> CurvePrediction:
        """The curve at `CURVE_POINTS` steps from the end of the warmup (the form describes the loss after
        it; a fit from curves leaves warmup points out) to the last step, with the final loss's interval."""
        rate = np.asarray(lr, dtype=float)
        s1, s2 = annealing_areas(rate, tokens_per_step, self.lam)
        first = int(np.argmax(rate))
        picks = np.unique(np.linspace(first, len(s1) - 1, CURVE_POINTS).round().astype(int))
        loss = self.loss(float(params), s1[picks], s2[picks])
        interval = None
        if self.replicates is not None and len(self.replicates):
            R = np.asarray(self.replicates)
            finals = curve_loss(float(params), s1[-1], s2[-1], *(R[:, i] for i in range(len(CURVE_NAMES))))
            q = (0.5 - self.interval_level / 2, 0.5 + self.interval_level / 2)
            interval = tuple(float(v) for v in np.quantile(finals, q))
        return CurvePrediction(
            params=float(params),
            tokens=(picks + 1) * float(tokens_per_step),
            loss=np.asarray(loss, dtype=float),
            lr_fraction=rate[picks] / rate.max(),
            final_loss=float(loss[-1]),
            loss_unit=loss_unit,
            schedule=schedule,
            batch_tokens=float(tokens_per_step),
            source=CURVE_SOURCE,
            interval=interval,
            interval_level=self.interval_level,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: float(getattr(self, k)) for k in CURVE_NAMES}
        out.update(lam=self.lam, formula=CURVE_FORMULA, source=CURVE_SOURCE, fit=dict(self.fit))
        if self.replicates is not None and len(self.replicates):
            out["bootstrap"] = {
                "level": self.interval_level,
                "replicates": np.asarray(self.replicates).tolist(),
            }
        return out

    @classmethod
    def from_dict(cls, payload: Any, law_name: str = "law") -> CurveLaw:
        """A law file's ``curve`` key, validated: E, A, B, C finite and positive, alpha and beta within
        `EXPONENT_RANGE`, lambda in (0, 1), replicates rows of six such numbers."""
        where = f"law {law_name!r} {KEY}"
        if not isinstance(payload, dict):
            raise ScalingError(f"invalid {where} {quoted(payload)}: expected a JSON object")
        values = {}
        for key in CURVE_NAMES:
            if key not in payload:
                raise ScalingError(
                    f"{where}: missing constant {key} (a curve law needs {', '.join(CURVE_NAMES)})"
                )
            values[key] = float(checks.positive(payload[key], f"{where}.{key}"))
        low, high = EXPONENT_RANGE
        for key in ("alpha", "beta"):
            if not low <= values[key] <= high:
                raise ScalingError(
                    f"invalid {where}.{key} {quoted(values[key])}: expected a number from {low:g} to {high:g}"
                )
        lam = float(checks.fraction(payload.get("lam", LAMBDA), f"{where}.lam"))
        if not 0 < lam < 1:
            raise ScalingError(f"invalid {where}.lam {quoted(lam)}: expected a number between 0 and 1")
        replicates, level = None, 0.8
        boot = payload.get("bootstrap")
        if boot is not None:
            rows = boot.get("replicates") if isinstance(boot, dict) else None
            width = len(CURVE_NAMES)
            if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == width for r in rows):
                raise ScalingError(
                    f"invalid {where}.bootstrap: expected replicates as rows of {width} numbers"
                )
            replicates = np.asarray(checks.finite(rows, f"{where}.bootstrap.replicates"), dtype=float)
            replicates = replicates.reshape(-1, width)
            level = float(checks.fraction(boot.get("level", 0.8), f"{where}.bootstrap.level"))
        fit = payload.get("fit") or {}
        if not isinstance(fit, dict):
            raise ScalingError(f"invalid {where}.fit {quoted(fit)}: expected a JSON object")
        return cls(**values, lam=lam, replicates=replicates, interval_level=level, fit=fit)


def curve_law(law: Any) -> CurveLaw | None:
    """The curve constants a law carries, or None."""
    payload = getattr(law, KEY, None)
    return None if not payload else CurveLaw.from_dict(payload, getattr(law, "name", "law"))


def no_curve_message(law: Any) -> str:
    """The one line for a law without curve constants."""
    return (
        f"law {getattr(law, 'name', law)!r} has no schedule-aware constants, so there is no loss curve: the "
        "curve needs a fit from curves ('scaling fit RUNS --curves -o law.json', RUNS a sweep folder)"
    )
