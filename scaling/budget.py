"""Compute budgets: FLOPs given directly or as a cluster running for a while at some MFU.

``parse_budget('1e24')``, ``parse_budget('100PF-days')`` or ``parse_budget('512xH100 30d 40%')``:
FLOPs = devices x dense bf16 peak FLOP/s (data/accelerators.csv) x MFU x seconds.
"""

from __future__ import annotations

from scaling import units
from scaling.errors import ScalingError

_ACCEPTED = (
    "FLOPs such as 1e24 or 100PF-days, or a cluster, a duration and an MFU such as '512xH100 30d 40%' "
    "(dense bf16 peak from the accelerator catalog)"
)


def parse_budget(text: object, dtype: str = "bf16") -> tuple[float, str]:
    """Return (FLOPs, a one-line description of how they were computed)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        flops = units.parse_flops(text, "budget")
        return flops, f"{flops:.3g} FLOPs"
    raw = str(text).strip()
    parts = raw.split()
    if len(parts) <= 2 and not any(p.endswith("%") for p in parts):
        try:
            flops = units.parse_flops(raw, "budget")
            return flops, f"{flops:.3g} FLOPs"
        except ScalingError:
            if len(parts) == 1:
                raise ScalingError(f"invalid budget {raw!r}: expected {_ACCEPTED}") from None
    if len(parts) != 3:
        raise ScalingError(f"invalid budget {raw!r}: expected {_ACCEPTED}")
    cluster = units.parse_cluster(parts[0], "budget cluster")
    seconds = units.parse_duration(parts[1], "budget duration")
    mfu = units.parse_fraction(parts[2], "budget MFU")
    if cluster.accelerator is None:
        raise ScalingError(f"invalid budget {raw!r}: the cluster must name an accelerator, e.g. 512xH100")
    from scaling import catalog
    from scaling import flops as flops_mod

    accelerator = catalog.get_accelerator(cluster.accelerator)
    peak = accelerator.peak(dtype)
    flops = flops_mod.flops_from_time(accelerator=accelerator, devices=cluster.devices, seconds=seconds, mfu=mfu,
                                      dtype=dtype)  # fmt: skip
    description = (
        f"{cluster.devices} x {accelerator.name} x {peak / 1e12:.4g} TFLOP/s {dtype} peak x {mfu:.0%} MFU x "
        f"{units.format_duration(seconds)} = {flops:.3g} FLOPs"
    )
    return flops, description
