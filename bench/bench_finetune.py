"""LoRA against full fine-tuning on a real PyTorch step: counted FLOPs and measured time beside the estimate.

Builds the project's own GPT (`scaling.train.model.GPT`) from a `ModelSpec`, then trains it two ways on the
CPU: every weight (full fine-tuning) and LoRA adapters on the attention projections over a frozen base.
For each it prints the FLOPs `scaling.finetune.finetune_flops_per_token` predicts (exact convention, no
embedding matmul: the model looks tokens up), the FLOPs PyTorch's `FlopCounterMode` counts for one
forward + backward, and the median time of a training step (AdamW on what is trained). The last column is
the ratio to full fine-tuning (the baseline): the FLOPs saved bound the speedup a LoRA step can show.

    python bench/bench_finetune.py [--layers 4] [--width 256] [--steps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from scaling.finetune import finetune_flops_per_token, model_flops_per_token  # noqa: E402
from scaling.model import ModelSpec  # noqa: E402
from scaling.render import table  # noqa: E402
from scaling.train.model import GPT  # noqa: E402


class LoRALinear(nn.Module):
    """W x + B A x with W frozen (Hu et al. 2021); A random, B zero at the start."""

    def __init__(self, base: nn.Linear, rank: int):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.A = nn.Parameter(torch.randn(rank, base.in_features) / base.in_features**0.5)
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.A.T) @ self.B.T


def build(spec: ModelSpec, rank: int | None) -> GPT:
    torch.manual_seed(0)
    model = GPT(spec)
    if rank:
        model.requires_grad_(False)
        for block in model.h:
            block.attn.c_attn = LoRALinear(block.attn.c_attn, rank)
            block.attn.c_proj = LoRALinear(block.attn.c_proj, rank)
    return model


def counted_flops(model: GPT, idx: torch.Tensor) -> float:
    """FLOPs of one forward + backward as PyTorch's counter sees them."""
    # the math kernel runs attention as matmuls the counter sees (the fused CPU kernel has no FLOP formula)
    with FlopCounterMode(display=False) as counter, sdpa_kernel(SDPBackend.MATH):
        _, loss = model(idx, idx)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def step_seconds(models: list[GPT], idx: torch.Tensor, steps: int) -> list[float]:
    """Median seconds of a training step (AdamW on what is trained) per model, the models' steps interleaved
    so that load from other processes falls on all of them alike."""
    optimizers = [torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4) for m in models]
    times: list[list[float]] = [[] for _ in models]
    for _ in range(steps + 1):  # the first round warms up
        for model, optimizer, spent in zip(models, optimizers, times):
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            _, loss = model(idx, idx)
            loss.backward()
            optimizer.step()
            spent.append(time.perf_counter() - start)
    return [statistics.median(t[1:]) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = ModelSpec(
        n_layer=args.layers,
        d_model=args.width,
        n_head=max(1, args.width // 64),
        vocab_size=256,
        n_ctx=args.context,
        name="bench",
    )
    tokens = args.batch * args.context
    idx = torch.randint(0, spec.vocab_size, (args.batch, args.context))
    runs = (("full fine-tuning", None), (f"LoRA r={args.rank} on attention", args.rank))
    models = [build(spec, rank) for _, rank in runs]
    seconds = step_seconds(models, idx, args.steps)
    rows: list[tuple[str, ...]] = []
    base = (0.0, 0.0)  # full fine-tuning's (FLOPs, seconds), the first run
    for (label, rank), model, spent in zip(runs, models, seconds):
        adapters = sum(p.numel() for p in model.parameters() if p.requires_grad) if rank else 0.0
        terms = finetune_flops_per_token(
            spec,
            adapter_params=adapters,
            full=rank is None,
            convention="exact",
            seq_len=args.context,
            include_embeddings=False,
        )
        predicted = model_flops_per_token(terms) * tokens
        counted = counted_flops(model, idx)
        if rank is None:
            base = (predicted, spent)
        rows.append(
            (
                label,
                f"{predicted:.4g}",
                f"{counted:.4g}",
                f"{counted / predicted:.3f}",
                f"{spent * 1e3:.1f}",
                f"{base[0] / predicted:.2f}x",
                f"{base[1] / spent:.2f}x",
            )
        )
    print(
        f"{spec.n_layer} layers, d_model {spec.d_model}, {args.batch} x {args.context} tokens, CPU, 1 thread"
    )
    print(
        table(
            rows,
            headers=[
                "run",
                "predicted FLOPs",
                "counted FLOPs",
                "counted/pred",
                "step ms",
                "FLOPs saved",
                "speedup",
            ],
        )
    )
    print(
        "counted: torch.utils.flop_counter (matmuls, attention by the math kernel); FLOPs saved bounds "
        "the speedup"
    )


if __name__ == "__main__":
    main()
