"""Training throughput against a measured matmul peak, side by side, on this machine (and a GPU if present).

    python bench/bench_train.py                 # CPU: 1 thread and all threads; a few model sizes
    python bench/bench_train.py --device cuda   # GPU too (fp32 peak measured the same way)
    python bench/bench_train.py --device cuda --precision bf16   # the GPU sweep's default: bf16 autocast
    python bench/bench_train.py --json
    python bench/bench_train.py --clock wall    # wall-clock time instead of CPU time

With one thread, time is CPU time by default: on a machine shared with other work, wall-clock rates fall with
the load while CPU-time rates stay near what a quiet machine gives (caches shared with other work still cost
some), and the fraction of peak compares the two on the same clock. Several threads and GPUs are timed by the
wall clock (idle OpenMP threads spin, so CPU time would count their waiting);
``--clock wall`` times everything that way.

For each device and thread count it measures the matmul peak (``a @ b``, square, best of a few sizes; fp32, or
bf16 with ``--precision bf16``, when the step runs under bf16 autocast), then
trains each model for ~``--seconds`` (batch 8 x 128 tokens, AdamW, the sweep's recipe on random
tokens) and prints tokens/s, achieved FLOP/s (exact convention, the same count as the runs.csv ``C`` column:
forward + backward, attention in full, LM head in) and that as a fraction of the measured peak.

Beside the run's own step it prints what cutting per-step overhead could buy at most, so that ideas are judged
by numbers: ``x8 batch`` is the same step on 8x the sequences, per token (every fixed per-step cost -- Python,
op dispatch, autograd bookkeeping, clipping, the optimizer, host syncs -- spread over 8x the tokens; an upper
bound for any overhead cut at the recipe's batch), and with ``--compile`` the step under ``torch.compile``
(its compile time in wall seconds beside it: a run must be long enough to pay it back). ``attn`` is the share
of a size's counted FLOPs spent on attention scores (QK^T, softmax, AV over the full window): on 8- and 16-dim
heads these run far below the matmul peak, and at d_model 16 they are nearly half the count, so the smallest
sizes stay well below the larger ones whatever the per-step overhead.
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


def matmul_peak(
    device: str, sizes=(512, 1024, 2048), seconds: float = 1.0, precision: str = "fp32"
) -> tuple[float, int]:
    """Best a @ b FLOP/s (fp32, or bf16 operands for ``precision="bf16"``) over a few square sizes, and the
    size that reached it; on a GPU larger sizes too, which its peak needs."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    if device == "cuda":
        sizes = (*sizes, 4096, 8192)
    best = (0.0, 0)
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
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


def train_rate(
    shape,
    device: str,
    seconds: float,
    batch: int = 8,
    seq_len: int = 128,
    compile: bool = False,
    precision: str = "fp32",
) -> dict:
    """Tokens/s of the sweep's training step (fused AdamW, clipping at 1.0, the loss read back every step):
    the median step after warm-up. With ``compile`` the model runs under ``torch.compile``; ``compile_s`` is
    the wall time of its first step (tracing and code generation; from the on-disk cache on a second run)."""
    import torch

    from scaling.train.model import GPT, gpt_spec
    from scaling.train.run import autocast, exact_flops_per_token

    spec = gpt_spec(*shape, seq_len=seq_len)
    model = GPT(spec).to(device)
    forward = torch.compile(model) if compile else model
    opt = torch.optim.AdamW(model.param_groups(0.1), lr=1e-3, betas=(0.9, 0.95), fused=True)
    x = torch.randint(0, 256, (batch, seq_len), device=device)

    def step() -> None:
        with autocast(torch.device(device), precision):
            _, loss = forward(x, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()

    first = time.perf_counter()
    step()
    sync(device)
    compile_s = time.perf_counter() - first
    times = []
    start = clock(device)
    while clock(device) - start < seconds or len(times) < 5:
        tick = clock(device)
        step()
        sync(device)
        times.append(clock(device) - tick)
    step_s = sorted(times[2:])[len(times[2:]) // 2]  # median: the machine is shared and noisy
    tokens_per_s = batch * seq_len / step_s
    return {
        "shape": f"d{shape[0]}l{shape[1]}",
        "params": spec.params,
        "tokens_per_s": tokens_per_s,
        "flops_per_s": tokens_per_s * exact_flops_per_token(spec),
        **({"compile_s": compile_s} if compile else {}),
    }


def attention_share(shape, seq_len: int = 128) -> float:
    """Share of a size's exact training FLOPs spent on attention scores (QK^T, softmax, AV)."""
    from scaling.flops import training_flops
    from scaling.train.model import gpt_spec
    from scaling.train.run import exact_options

    spec = gpt_spec(*shape, seq_len=seq_len)
    count = training_flops(spec, 1.0, convention="exact", **exact_options(spec))
    scores = sum(count.breakdown[k] for k in ("attention_logits", "attention_softmax", "attention_values"))
    return scores / count.flops_per_token


def measure(shape, device: str, args, peak: float) -> dict:
    """One size: the run's step, the x8-batch ceiling and (with --compile) the compiled step,
    against the peak."""
    r = train_rate(shape, device, args.seconds, batch=args.batch, precision=args.precision)
    wide = train_rate(shape, device, args.seconds, batch=8 * args.batch, precision=args.precision)
    r.update(
        peak_flops_per_s=peak,
        fraction_of_peak=r["flops_per_s"] / peak,
        attention_flops_share=attention_share(shape),
        ceiling_tokens_per_s=wide["tokens_per_s"],
        ceiling_fraction_of_peak=wide["flops_per_s"] / peak,
    )
    if args.compile:
        c = train_rate(shape, device, args.seconds, batch=args.batch, compile=True, precision=args.precision)
        r.update(
            compiled_tokens_per_s=c["tokens_per_s"],
            compiled_fraction_of_peak=c["flops_per_s"] / peak,
            compile_s=c["compile_s"],
        )
    return r


def line(r: dict) -> str:
    text = (
        f"  {r['shape']:7s} {r['params']:>9,d}  {100 * r['attention_flops_share']:4.0f}%  "
        f"{r['tokens_per_s']:>9,.0f} {r['flops_per_s'] / 1e9:7.1f} {100 * r['fraction_of_peak']:5.1f}%   "
        f"{r['ceiling_tokens_per_s']:>9,.0f} {100 * r['ceiling_fraction_of_peak']:5.1f}%"
    )
    if "compiled_tokens_per_s" in r:
        text += (
            f"   {r['compiled_tokens_per_s']:>9,.0f} {100 * r['compiled_fraction_of_peak']:5.1f}% "
            f"{r['compile_s']:6.1f}"
        )
    return text


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
    parser.add_argument("--compile", action="store_true", help="also time the step under torch.compile")
    parser.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="the step under bf16 autocast, against a bf16 matmul peak (fp32: both in fp32)",
    )
    parser.add_argument("--threads", type=int, nargs="*", help="CPU thread counts [1 and all cores]")
    args = parser.parse_args(argv)
    global CLOCK

    import torch

    settings = []
    if args.device in ("cpu", "all"):
        cores = os.cpu_count() or 1
        settings += [("cpu", t) for t in (args.threads or ([1, cores] if cores > 1 else [1]))]
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        settings.append(("cuda", None))
    results = []
    for device, threads in settings:
        if threads:
            torch.set_num_threads(threads)
        # CPU time only for one thread: idle OpenMP threads spin, so with several the CPU time counts waiting
        cpu = args.clock == "cpu" and threads == 1
        CLOCK = time.process_time if cpu else time.perf_counter
        peak, n = matmul_peak(device, precision=args.precision)
        name = (
            torch.cuda.get_device_name()
            if device == "cuda"
            else f"cpu x{threads} thread(s), {'cpu' if cpu else 'wall'} time"
        )
        if not args.json:
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"{name}: {args.precision} matmul peak {peak / 1e9:.1f} GFLOP/s ({n}^3); load average {load}"
            )
            print(
                f"  {'size':7s} {'params':>9s}  attn   {'step tok/s':>9s} {'GFLOP/s':>7s} {'peak':>6s}   "
                f"{'x8 batch':>9s} {'peak':>6s}"
                + (f"   {'compiled':>9s} {'peak':>6s} {'comp s':>6s}" if args.compile else "")
            )
        for shape in SHAPES:
            r = measure(shape, device, args, peak)
            r.update(device=name, peak_matmul_n=n)
            results.append(r)
            if not args.json:
                print(line(r), flush=True)
    if args.json:
        print(
            json.dumps(
                {"torch": str(torch.__version__), "precision": args.precision, "results": results}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
