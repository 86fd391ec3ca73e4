"""Compute budgets: every way a user can state how much training they can afford, turned into FLOPs.

A `Budget` is the FLOPs plus the one line that says how they were computed, and what was given (a deadline,
dollars, device-hours). The forms, one constructor each:

* FLOPs or PF-days directly (`Budget.of_flops`);
* a cluster for some time at some MFU: devices x dense peak x MFU x seconds (`Budget.of_time`);
* dollars at a price per device-hour, or device-hours, at some MFU (`Budget.of_usd`, `Budget.of_gpu_hours`);
* a given model trained on given tokens, 6ND (`Budget.of_model`);
* the compute a law needs to reach a target loss (`Budget.of_loss`).

`parse_budget` reads the one-string form used by ``scaling optimal --budget``: ``1e24``, ``100PF-days`` or
``'512xH100 30d 40%'``. Peaks come from the accelerator catalog (data/accelerators.csv).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from scaling import units
from scaling.cluster import parse_cluster
from scaling.errors import ScalingError
from scaling.render import Displayable

if TYPE_CHECKING:
    from scaling.catalog import Accelerator
    from scaling.laws import Law
    from scaling.model import ModelSpec

KINDS = ("flops", "time", "usd", "gpu-hours", "model", "target-loss")
_ACCEPTED = (
    "FLOPs such as 1e24 or 100PF-days, or a cluster, a duration and an MFU such as '512xH100 30d 40%' "
    "(dense bf16 peak from the accelerator catalog)"
)


@dataclass(frozen=True)
class Budget(Displayable):
    """Training FLOPs and how they were arrived at.

    ``kind`` is one of `KINDS`; ``seconds`` is the deadline of a time budget, ``usd`` the dollars of a money
    budget, ``mfu`` the utilisation the FLOPs were computed at (None when the FLOPs were given directly).
    """

    flops: float
    kind: str
    source: str
    seconds: float | None = None
    usd: float | None = None
    mfu: float | None = None
    usd_per_second: float | None = None  # a cluster budget's cost per wall-clock second at the catalog price

    def beyond(self, flops: float) -> dict[str, float]:
        """What ``flops`` more than this budget cost at the budget's own rate: ``seconds`` (a cluster budget)
        and ``usd`` (a dollar budget, or a cluster whose catalog price is known); empty for plain FLOPs."""
        share = float(flops) / self.flops
        out = {}
        if self.seconds is not None:
            out["seconds"] = self.seconds * share
            if self.usd_per_second is not None:
                out["usd"] = out["seconds"] * self.usd_per_second
        if self.usd is not None:
            out["usd"] = self.usd * share
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ----------------------------------------------------------------------------------- constructors
    @classmethod
    def of_flops(cls, flops: float) -> Budget:
        """FLOPs given directly."""
        value = units.parse_flops(flops, "--flops")
        return cls(value, "flops", f"given: {units.format_flops(value)} = {units.format_pf_days(value)}")

    @classmethod
    def of_time(
        cls, accelerator: Accelerator, devices: int, seconds: float, mfu: float, dtype: str
    ) -> Budget:
        """``devices`` x ``accelerator`` for ``seconds`` at ``mfu`` of the dense ``dtype`` peak."""
        from scaling.cost import flops_from_time

        value = _finite(
            flops_from_time(accelerator=accelerator, devices=devices, seconds=seconds, mfu=mfu, dtype=dtype)
        )
        source = (
            f"{devices} x {accelerator.name} for {units.format_duration(seconds)} at "
            f"{units.format_fraction(mfu)} MFU ({dtype} peak {accelerator.peak(dtype) / 1e12:.4g} TFLOP/s)"
        )
        price = accelerator.price_usd_per_hour
        per_second = None if price is None else devices * price / 3600.0
        return cls(value, "time", source, seconds=float(seconds), mfu=mfu, usd_per_second=per_second)

    @classmethod
    def of_usd(
        cls, usd: float, price: float | None, accelerator: Accelerator, mfu: float, dtype: str
    ) -> Budget:
        """Dollars at ``price`` per device-hour (default: the catalog's price) at ``mfu``."""
        from scaling.cost import flops_from_usd

        price = price if price is not None else accelerator.price_usd_per_hour
        if price is None:
            raise ScalingError(
                f"a dollar budget needs a price per device-hour: give --price (the catalog has none for "
                f"{accelerator.name})"
            )
        value = _finite(
            flops_from_usd(usd, accelerator=accelerator, mfu=mfu, price_usd_per_hour=price, dtype=dtype)
        )
        source = (
            f"{units.format_usd(usd)} at ${price:g}/device-hour on {accelerator.name} at "
            f"{units.format_fraction(mfu)} MFU"
        )
        return cls(value, "usd", source, usd=float(usd), mfu=mfu)

    @classmethod
    def of_gpu_hours(cls, gpu_hours: float, accelerator: Accelerator, mfu: float, dtype: str) -> Budget:
        """Device-hours at ``mfu``."""
        from scaling.cost import flops_from_gpu_hours

        value = _finite(flops_from_gpu_hours(gpu_hours, accelerator=accelerator, mfu=mfu, dtype=dtype))
        source = (
            f"{units.format_count(gpu_hours)} {accelerator.name}-hours at {units.format_fraction(mfu)} MFU"
        )
        return cls(value, "gpu-hours", source, mfu=mfu)

    @classmethod
    def of_model(cls, spec: ModelSpec, tokens: float) -> Budget:
        """A given model on given tokens: 6ND with N the parameters a token meets (the total for a dense
        model, the active ones for a mixture of experts, as `scaling.flops.training_flops` counts them)."""
        from scaling.flops import six_nd

        value = _finite(six_nd(float(spec.active_params), float(tokens)))
        active = f", {units.format_count(spec.active_params)} active" if spec.is_moe else ""
        source = (
            f"{spec.name} ({units.format_count(spec.params)} params{active}) on "
            f"{units.format_count(tokens)} tokens, 6ND"
        )
        return cls(value, "model", source)

    @classmethod
    def of_loss(cls, law: Law, loss: float) -> Budget:
        """The compute ``law`` needs to reach ``loss`` at the compute-optimal allocation."""
        if not law.has_loss:
            raise ScalingError(
                f"law {law.name!r} predicts no loss, so --target-loss needs a parametric law (e.g. "
                "chinchilla, epoch)"
            )
        value = float(law.flops_for_loss(float(loss)))
        if not math.isfinite(value) or value <= 0:
            raise ScalingError(
                f"invalid --target-loss {loss!r}: at or below law {law.name!r}'s irreducible loss E "
                f"= {law.E:.4g}"
            )
        return cls(value, "target-loss", f"compute for loss {loss:g} under {law.name}")


def _finite(flops: float) -> float:
    """Budgets beyond floating point (e.g. 1e300 device-hours) are refused, not carried as infinity."""
    value = float(flops)
    if not math.isfinite(value):
        raise ScalingError(
            "invalid budget: the FLOPs overflow a floating-point number; give a smaller budget"
        )
    return value


def parse_budget(text: object, dtype: str = "bf16") -> tuple[float, str]:
    """Return (FLOPs, a one-line description of how they were computed) for the one-string form."""
    budget = budget_from_text(text, dtype)
    return budget.flops, budget.source


def budget_from_text(text: object, dtype: str = "bf16") -> Budget:
    """A `Budget` from ``1e24``, ``100PF-days`` or ``'512xH100 30d 40%'``."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return Budget.of_flops(units.parse_flops(text, "budget"))
    raw = str(text).strip()
    parts = raw.split()
    if len(parts) <= 2 and not any(p.endswith("%") for p in parts):
        try:
            flops = units.parse_flops(raw, "budget")
        except ScalingError:
            if len(parts) == 1:
                raise ScalingError(f"invalid budget {raw!r}: expected {_ACCEPTED}") from None
        else:
            return Budget(flops, "flops", units.format_flops(flops))
    if len(parts) != 3:
        raise ScalingError(f"invalid budget {raw!r}: expected {_ACCEPTED}")
    cluster = parse_cluster(parts[0], "budget cluster")
    seconds = units.parse_duration(parts[1], "budget duration")
    mfu = units.parse_utilization(parts[2], "budget MFU")
    if cluster.accelerator is None:
        raise ScalingError(f"invalid budget {raw!r}: the cluster must name an accelerator, e.g. 512xH100")
    from scaling.catalog import get_accelerator

    accelerator = get_accelerator(cluster.accelerator)
    budget = Budget.of_time(accelerator, cluster.devices, seconds, mfu, dtype)
    peak = accelerator.peak(dtype)
    description = (
        f"{cluster.devices} x {accelerator.name} x {peak / 1e12:.4g} TFLOP/s {dtype} peak x {mfu:.0%} MFU x "
        f"{units.format_duration(seconds)} = {units.format_flops(budget.flops)}"
    )
    return Budget(
        budget.flops, "time", description, seconds=seconds, mfu=mfu, usd_per_second=budget.usd_per_second
    )
