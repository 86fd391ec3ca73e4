"""The sweep's ETA from a calibration file (``scaling sweep --calibration FILE``) instead of its throughput
probe.

What a calibration says about a sweep of tiny models:

* a probe file (``scaling calibrate --probe`` on this machine) holds the machine's measured peak: the FLOP/s
  of its largest square GEMM. Every shape is predicted at that rate. A tiny model's step also does work that
  is no GEMM (softmax, norms, the optimizer) and smaller GEMMs, so this ETA is a lower bound; the progress
  bar rescales it by the finished runs' measured times (`Progress.factor`), as it does the probe's;
* a training calibration (``scaling calibrate LOGS``) of the GPU the sweep runs on: its compute efficiency
  times the catalog's dense peak at the sweep's precision.

The calibration must be of the device the sweep runs on (`Calibration.check_for`): ``probe-cpu`` for a CPU
sweep, the catalog's GPU for a GPU sweep. A serving calibration says nothing about training and is refused.
"""

from __future__ import annotations

from scaling.calibration.file import Calibration
from scaling.errors import ScalingError


def device_accelerator(device: str) -> str:
    """The accelerator name a calibration of ``device`` carries: probe-cpu, or the catalog's GPU."""
    if device == "cpu":
        return "probe-cpu"
    import torch

    from scaling.catalog import accelerator_for_device

    name = torch.cuda.get_device_name(0)
    found = accelerator_for_device(name)
    if found is None:
        raise ScalingError(f"{name} is not in the catalog: a GPU sweep's calibration needs its catalog entry")
    return found.name


def calibrated_rate(cal: Calibration, device: str, precision: str) -> tuple[float, str]:
    """FLOP/s per worker for every shape, from ``cal``, and the line that says where it came from."""
    cal.check_for(device_accelerator(device))
    if cal.kind == "probe":
        row = cal.source.get("accelerator_row", {})
        key = next((k for k in row if k.endswith("_tflops")), None)
        if key is None:
            raise ScalingError(f"{cal.label} holds no measured peak (rerun 'scaling calibrate --probe')")
        rate = float(row[key]) * 1e12
        return rate, (
            f"from {cal.label}: its measured peak {rate / 1e9:.3g} GFLOP/s ({key[:-7]} GEMM) for every "
            "shape, a lower bound (no time for the work that is not a GEMM), rescaled as runs finish"
        )
    if cal.kind == "training":
        from scaling.catalog import get_accelerator

        efficiency = cal.value("compute_efficiency", 1.0)
        dtype = "bf16" if precision in ("auto", "bf16") else precision
        rate = efficiency * get_accelerator(cal.accelerator).peak(dtype)
        return rate, f"from {cal.label}: compute efficiency {efficiency:.1%} of the {dtype} peak"
    raise ScalingError(
        f"{cal.label} is a {cal.kind} calibration: a sweep's ETA needs a probe or training one"
    )
