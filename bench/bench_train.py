"""Training throughput against a measured matmul peak, side by side, on this machine (and a GPU if present).

    python bench/bench_train.py                 # CPU: 1 thread and all threads; a few model sizes
    python bench/bench_train.py --device cuda   # GPU too (fp32 peak measured the same way)
    python bench/bench_train.py --json
    python bench/bench_train.py --clock wall    # wall-clock time instead of CPU time

With one thread, time is CPU time by default: on a machine shared with other work, wall-clock rates fall with the
load while CPU-time rates stay near what a quiet machine gives (caches shared with other work still cost some), and
the fraction of peak compares the two on the same clock. Several threads and GPUs are timed by the wall clock (idle
OpenMP threads spin, so CPU time would count their waiting); ``--clock wall`` times everything that way.

For each device and thread count it measures the fp32 matmul peak (``a @ b``, square, best of a few sizes), then
trains each model for ~``--seconds`` (batch 8 x 128 tokens, AdamW, the sweep's recipe on random tokens) and prints
tokens/s, achieved FLOP/s (exact convention, the same count as the runs.csv ``C`` column: forward + backward,
attention in full, LM head in) and that as a fraction of the measured peak. Small models are bound by per-op
overhead, not by the matmul units, so expect 5-30% for d_model <= 64 and more for the larger ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPES = [(16, 2), (32, 2), (64, 2), (128, 3), (256, 4)]


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


CLOCK = time.process_time


def clock(device: str) -> float:
    return time.perf_counter() if device == "cuda" else CLOCK()


def matmul_peak(device: str, sizes=(512, 1024, 2048), seconds: float = 1.0) -> tuple[float, int]:
    """Best fp32 a @ b FLOP/s over a few square sizes, and the size that reached it."""
    import torch

    best = (0.0, 0)
    for n in sizes:
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        for _ in range(2):
            a @ b
        sync(device)
        reps, start = 0, clock(device)
        while clock(device) - start < seconds / len(sizes):
            a @ b
            reps += 1
        sync(device)
        rate = 2 * n**3 * reps / (clock(device) - start)
        best = max(best, (rate, n))
    return best


def train_rate(shape, device: str, seconds: float, batch: int = 8, seq_len: int = 128) -> dict:
    import torch

    from scaling.train.model import GPT, gpt_spec
    from scaling.train.run import exact_flops_per_token

    spec = gpt_spec(*shape, seq_len=seq_len)
    model = GPT(spec).to(device)
    opt = torch.optim.AdamW(model.param_groups(0.1), lr=1e-3, betas=(0.9, 0.95), fused=True)
    x = torch.randint(0, 256, (batch, seq_len), device=device)
    times = []
    start = clock(device)
    while clock(device) - start < seconds or len(times) < 5:
        tick = clock(device)
        _, loss = model(x, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        times.append(clock(device) - tick)
    step = sorted(times[2:])[len(times[2:]) // 2]  # median: the machine is shared and noisy
    tokens_per_s = batch * seq_len / step
    return {"shape": f"d{shape[0]}l{shape[1]}", "params": spec.params, "tokens_per_s": tokens_per_s,
            "flops_per_s": tokens_per_s * exact_flops_per_token(spec)}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--seconds", type=float, default=1.5, help="per model and setting")
    parser.add_argument(
        "--batch", type=int, default=8, help="sequences of 128 tokens per step (the sweep's 8)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--clock", choices=["cpu", "wall"], default="cpu", help="CPU time (default) or wall-clock"
    )
    args = parser.parse_args(argv)
    global CLOCK

    import torch

    settings = []
    if args.device in ("cpu", "all"):
        settings += [("cpu", 1)] + ([("cpu", os.cpu_count())] if (os.cpu_count() or 1) > 1 else [])
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        settings.append(("cuda", None))
    results = []
    for device, threads in settings:
        if threads:
            torch.set_num_threads(threads)
        # CPU time only for one thread: idle OpenMP threads spin, so with several the CPU time counts waiting
        cpu = args.clock == "cpu" and threads == 1
        CLOCK = time.process_time if cpu else time.perf_counter
        peak, n = matmul_peak(device)
        name = (
            torch.cuda.get_device_name()
            if device == "cuda"
            else f"cpu x{threads} thread(s), {'cpu' if cpu else 'wall'}"
        )
        for shape in SHAPES:
            r = train_rate(shape, device, args.seconds, batch=args.batch)
            r.update(
                device=name, peak_flops_per_s=peak, peak_matmul_n=n, fraction_of_peak=r["flops_per_s"] / peak
            )
            results.append(r)
            if not args.json:
                print(f"{name:22s} {r['shape']:8s} {r['params']:>9,d} params  {r['tokens_per_s']:>10,.0f} tok/s  "
                      f"{r['flops_per_s'] / 1e9:7.1f} GFLOP/s  of peak {peak / 1e9:7.1f} (fp32 {n}^3 matmul) = "
                      f"{100 * r['fraction_of_peak']:5.1f}%", flush=True)  # fmt: skip
    if args.json:
        print(json.dumps({"torch": str(torch.__version__), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
