"""`probe_machine`: this machine's own peak, measured with PyTorch, as an accelerator row and a calibration.

What it times, as the EleutherAI cookbook's ``mm_flops.py`` and nccl-tests do:

* a GEMM sweep, square n x n x n matmuls: 2 n^3 FLOPs over the fastest of a few repeats (the cookbook
  reports the minimum time too); the largest size's rate is the measured peak;
* a memory copy (``clone`` of a large tensor): bytes read + bytes written over the fastest repeat;
* an all-reduce across devices: only with several accelerators in one process group, which a single process
  does not have, so the probe says it was not measured rather than guess (run nccl-tests' ``all_reduce_perf``
  and give the bus bandwidth as the row's link).

On a GPU the matmuls run in bf16, on a CPU in fp32 (the peak it measures is then the CPU's). Where the device
is in the catalog, the calibration holds the measured fraction of the catalog's peak and bandwidth.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from scaling.calibration.file import Calibration, Factor
from scaling.catalog import accelerator_for_device
from scaling.errors import ScalingError

GEMM_SIZES = (256, 512, 1024, 2048)
REPEATS = 3
COPY_BYTES = 256 * 2**20


def _fastest(run: Any, sync: Any) -> float:
    run()  # warm-up
    sync()
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def _memory_bytes(torch: Any, cuda: bool) -> float:
    """The device's memory: the GPU's, or the machine's RAM for a CPU."""
    if cuda:
        return float(torch.cuda.get_device_properties(0).total_memory)
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def probe_machine() -> Calibration:
    """Time the GEMM sweep and the memory copy on this machine's first device."""
    try:
        import torch
    except ImportError:
        raise ScalingError(
            "scaling calibrate --probe times PyTorch kernels: install PyTorch (pip install 'scaling[train]')"
        ) from None

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    name = torch.cuda.get_device_name(0) if cuda else (platform.processor() or platform.machine() or "cpu")
    gemm = []
    for n in GEMM_SIZES:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        seconds = _fastest(lambda a=a, b=b: a @ b, sync)
        gemm.append({"m": n, "n": n, "k": n, "seconds": seconds, "flops_per_s": 2.0 * n**3 / seconds})
    source = torch.empty(COPY_BYTES // 4, device=device, dtype=torch.float32)
    copy_s = _fastest(lambda: source.clone(), sync)
    bandwidth = 2.0 * COPY_BYTES / copy_s  # read + write
    peak = max(g["flops_per_s"] for g in gemm)
    catalog = accelerator_for_device(name) if cuda else None
    key = "bf16" if cuda else "fp32"
    row = {
        "name": catalog.name if catalog else f"probe-{device}",
        "vendor": "measured",
        f"{key}_tflops": round(peak / 1e12, 4),
        "memory": f"{_memory_bytes(torch, cuda) / 2**30:.0f}GiB",
        "bandwidth_gbps": round(bandwidth / 1e9, 2),
        "source": f"scaling calibrate --probe on {name} ({device}, {dtype}): largest GEMM, memory copy",
    }
    factors: dict[str, Factor] = {}
    notes = [
        "all-reduce not measured: one process sees one device (nccl-tests' all_reduce_perf gives the bus "
        "bandwidth of a node)"
    ]
    if catalog is not None and key in catalog.peak_flops:
        factors["gemm_efficiency"] = Factor(
            peak / catalog.peak(key), None, "fraction of catalog dense peak", "largest GEMM of the sweep"
        )
        factors["memory_bandwidth_fraction"] = Factor(
            bandwidth / catalog.bandwidth_bytes_per_s, None, "fraction of catalog memory bandwidth", "copy"
        )
    else:
        notes.append(f"{name} is not in the catalog: the row below is its measured peak and bandwidth")
        factors["gemm_efficiency"] = Factor(
            1.0, None, "fraction of catalog dense peak", "the measured row is its own peak"
        )
    return Calibration(
        kind="probe",
        accelerator=row["name"],
        factors=factors,
        source={"device": name, "torch": torch.__version__, "accelerator_row": row},
        measurements=tuple(
            [
                {
                    "test": f"gemm {g['m']}^3",
                    "seconds": g["seconds"],
                    "rate": f"{g['flops_per_s'] / 1e12:.4g} TFLOP/s",
                }
                for g in gemm
            ]
            + [
                {
                    "test": f"copy {COPY_BYTES // 2**20} MiB",
                    "seconds": copy_s,
                    "rate": f"{bandwidth / 1e9:.4g} GB/s",
                }
            ]
        ),
        notes=tuple(notes),
    )
