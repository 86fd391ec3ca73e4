"""Decode throughput of the tiny GPT against the serving roofline, with this machine's peaks
measured beside it.

    python bench/bench_serving.py                  # CPU: 1 thread and all threads
    python bench/bench_serving.py --device cuda    # a GPU, if one is present (nothing depends on it)
    python bench/bench_serving.py --json

It measures the machine's fp32 matmul peak (``a @ b``, the same probe as bench_train.py) and its memory read
bandwidth (``x.sum()`` over a buffer far larger than the caches), builds an `Accelerator` from those two
numbers, and asks `scaling.serving.make_deployment` for the decode time per step of the training GPT
(`scaling.train.model.GPT`, fp32) at each batch. Then it decodes with that GPT's own weights and a KV cache
(prefill the prompt, then one token per sequence per step) and prints measured against predicted tokens/s
(the fastest step, as the peaks are the best of their repetitions).
The roofline is evaluated at 100% of the measured peaks (``IDEAL``) and at the default efficiencies, so the
measured efficiency of this machine reads off directly. Batch 1 reads every weight once per token
(memory-bound); a large batch reuses each weight read across the batch (compute-bound).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def read_bandwidth(device: str, megabytes: int = 512, seconds: float = 1.0) -> float:
    """Bytes/s of a full read of a ``megabytes`` fp32 buffer (``x.sum()``), best of the repetitions."""
    import torch

    x = torch.ones(megabytes * 2**20 // 4, device=device)
    x.sum()
    sync(device)
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        tick = time.perf_counter()
        x.sum()
        sync(device)
        best = max(best, x.numel() * 4 / (time.perf_counter() - tick))
    return best


class Decoder:
    """Greedy decoding with a KV cache through the training GPT's own modules (no change to the model)."""

    def __init__(self, model, batch: int, context: int, device: str):
        import torch

        spec = model.spec
        self.model, self.heads, self.hd = model, spec.n_head, spec.d_model // spec.n_head
        shape = (batch, spec.n_head, context, self.hd)
        self.k = [torch.zeros(shape, device=device) for _ in model.h]
        self.v = [torch.zeros(shape, device=device) for _ in model.h]

    def forward(self, idx, start: int):
        """Logits of the last position of ``idx`` (tokens at positions start..), filling the cache."""
        import torch
        import torch.nn.functional as F

        m, (B, T) = self.model, idx.shape
        x = m.wte(idx) + m.wpe(torch.arange(start, start + T, device=idx.device))
        for i, block in enumerate(m.h):
            q, k, v = block.attn.c_attn(block.ln_1(x)).split(x.shape[-1], dim=2)
            q, k, v = (t.view(B, T, self.heads, self.hd).transpose(1, 2) for t in (q, k, v))
            self.k[i][:, :, start : start + T], self.v[i][:, :, start : start + T] = k, v
            keys, values = self.k[i][:, :, : start + T], self.v[i][:, :, : start + T]
            y = F.scaled_dot_product_attention(q, keys, values, is_causal=T > 1)
            x = x + block.attn.c_proj(y.transpose(1, 2).reshape(B, T, -1))
            x = x + block.mlp(block.ln_2(x))
        return m.lm_head(m.ln_f(x[:, -1:]))


def measured_tokens_per_s(model, batch: int, prompt: int, steps: int, device: str) -> float:
    """Decode ``steps`` tokens for ``batch`` sequences after a ``prompt``-token prefill; output tokens/s of
    the fastest step (the peaks are best-of too: on a shared machine the best is the least disturbed)."""
    import torch

    with torch.no_grad():
        decoder = Decoder(model, batch, prompt + steps, device)
        token = decoder.forward(torch.randint(0, 256, (batch, prompt), device=device), 0).argmax(-1)
        fastest = float("inf")
        for t in range(steps):
            sync(device)
            tick = time.perf_counter()
            token = decoder.forward(token, prompt + t).argmax(-1)
            sync(device)
            fastest = min(fastest, time.perf_counter() - tick)
        return batch / fastest


def run(device: str, d_model: int, n_layer: int, batches: list[int], prompt: int, steps: int) -> dict:
    import torch
    from bench_train import matmul_peak

    from scaling.catalog import Accelerator
    from scaling.serving import IDEAL, make_deployment
    from scaling.train.model import GPT, gpt_spec

    peak, size = matmul_peak(device, sizes=(1024, 2048))
    bandwidth = read_bandwidth(device)
    machine = Accelerator(
        name=f"this {device}", memory_bytes=64e9, peak_flops={"fp32": peak}, bandwidth_bytes_per_s=bandwidth
    )
    spec = gpt_spec(d_model, n_layer, seq_len=prompt + steps)
    model = GPT(spec).to(device).eval()
    rows = []
    for batch in batches:
        measured = measured_tokens_per_s(model, batch, prompt, steps, device)
        row = {"batch": batch, "measured_tokens_per_s": measured}
        for label, assumptions in (("ideal", IDEAL), ("default", None)):
            dep = make_deployment(
                spec,
                machine,
                prompt_tokens=prompt,
                output_tokens=steps,
                precision="fp32",
                assumptions=assumptions,
            )
            t = dep.decode_seconds(batch)
            row[f"predicted_{label}_tokens_per_s"] = batch / float(t["total"])
            row["bound"] = "memory" if t["memory"] >= t["compute"] else "compute"
        rows.append(row)
    return {
        "device": device,
        "threads": torch.get_num_threads(),
        "matmul_peak_flops": peak,
        "matmul_size": size,
        "read_bandwidth_bytes_per_s": bandwidth,
        "model": spec.name,
        "params": spec.params,
        "prompt_tokens": prompt,
        "decode_steps": steps,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--d-model", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--batches", default="1,128", help="Comma-separated batch sizes.")
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    results = []
    for threads in (
        sorted({1, torch.get_num_threads()}) if args.device == "cpu" else [torch.get_num_threads()]
    ):
        torch.set_num_threads(threads)
        results.append(
            run(
                args.device,
                args.d_model,
                args.layers,
                [int(b) for b in args.batches.split(",")],
                args.prompt,
                args.steps,
            )
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        report(result)


def report(result: dict) -> None:
    print(
        f"{result['device']} ({result['threads']} threads): fp32 matmul peak "
        f"{result['matmul_peak_flops'] / 1e9:,.1f} GFLOP/s (n={result['matmul_size']}), memory read "
        f"{result['read_bandwidth_bytes_per_s'] / 1e9:,.1f} GB/s"
    )
    print(
        f"{result['model']}: {result['params'] / 1e6:,.1f}M params, fp32 weights "
        f"{result['params'] * 4 / 1e6:,.0f} MB; prompt {result['prompt_tokens']}, {result['decode_steps']} "
        "decode steps, KV cache"
    )
    print(
        f"{'batch':>6} {'bound':>8} {'measured tok/s':>15} {'roofline 100%':>14} {'ratio':>6} "
        f"{'roofline default':>17} {'ratio':>6}"
    )
    for r in result["rows"]:
        ideal, default = r["predicted_ideal_tokens_per_s"], r["predicted_default_tokens_per_s"]
        m = r["measured_tokens_per_s"]
        print(
            f"{r['batch']:>6} {r['bound']:>8} {m:>15,.0f} {ideal:>14,.0f} {m / ideal:>6.2f} "
            f"{default:>17,.0f} {m / default:>6.2f}"
        )


if __name__ == "__main__":
    main()
