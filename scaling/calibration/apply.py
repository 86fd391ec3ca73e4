"""A calibration applied to a face's question: the MFU of a plan, of a FLOPs estimate or of a fine-tune,
and the memory overhead, each from the one calibrated model (`scaling.calibration.training`)."""

from __future__ import annotations

from scaling.calibration.file import Calibration
from scaling.calibration.training import calibrated_mfu
from scaling.cluster import Cluster
from scaling.errors import ScalingError


def check_mfu_not_given(given_mfu: bool) -> None:
    if given_mfu:
        raise ScalingError("give --mfu or --calibration, not both: the calibration predicts the MFU")


def calibration_note(cal: Calibration, mfu: float) -> str:
    """The line every output prints: which number came from the calibration, and from what."""
    factors = "; ".join(f"{name} {f.text()}" for name, f in cal.factors.items())
    return f"MFU {mfu:.1%} from {cal.label}: the calibrated step model ({factors})"


def run_mfu(cal: Calibration, spec, cluster: Cluster, *, seq_len: int, flops: float, dtype: str = "bf16"):
    """The calibrated MFU of a run of ``flops`` (6ND) for ``spec`` on ``cluster``, at the default global
    batch (`scaling.layout.default_global_batch`) on the layout the search ranks first, and the line that
    says so."""
    from scaling.layout import default_global_batch
    from scaling.units import FLOPS_PER_PARAM_TOKEN

    if cluster.accelerator is None:
        raise ScalingError(f"--calibration needs --gpus with an accelerator, e.g. {cluster.devices}xH100")
    tokens = flops / (FLOPS_PER_PARAM_TOKEN * float(spec.active_params))  # the run's D from its 6ND FLOPs
    batch = default_global_batch(spec, tokens, seq_len).tokens
    mfu = calibrated_mfu(cal, spec, cluster, seq_len=seq_len, batch_tokens=batch, dtype=dtype)
    return mfu, calibration_note(cal, mfu)


TRAINING_SIDE = ("training", "probe")  # a probe measures the training hardware (its peak, its links)


def by_side(calibrations: tuple[Calibration, ...]) -> tuple[Calibration | None, Calibration | None]:
    """(training, serving): the calibrations a plan was given, at most one of each side; a second of one
    side is refused in one line naming both files."""
    sides: dict[str, Calibration] = {}
    for cal in calibrations:
        side = "training" if cal.kind in TRAINING_SIDE else "serving"
        if side in sides:
            raise ScalingError(
                f"two {side} calibrations: {sides[side].path or 'given'} and {cal.path or 'given'}; give "
                "--calibration at most once per kind (one training or probe file, one serving file)"
            )
        sides[side] = cal
    return sides.get("training"), sides.get("serving")
