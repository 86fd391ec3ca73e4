"""The memory model against a real CUDA training step: predicted vs measured bytes, term by term.

Builds GPT-2-style decoders from a `ModelSpec` on the GPU and trains one AdamW step, reading
``torch.cuda.memory_allocated`` between phases:

* weights: after the model is on the device;
* activations: allocated after the forward pass (loss computed, backward not started) minus before it;
* gradients: after backward, once the activations are freed;
* optimizer states: after ``optimizer.step()``;
* peak and the caching allocator's reserve (``max_memory_reserved``), which is what the overhead term covers.

Two settings: fp32 with standard attention (Korthikanti et al. 2022's counts at 4-byte values, 1-byte CUDA
dropout masks), and bf16 autocast with PyTorch's fused scaled-dot-product attention (FlashAttention-style: no
s x s scores stored; the bf16 weight copies autocast keeps for the backward pass are added to the prediction).
Prints a table of predicted vs measured and the ratio. Needs a CUDA device.

    python bench/bench_memory_gpu.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from scaling.memory import Precision, Workload, estimate_memory  # noqa: E402
from scaling.model import ModelSpec  # noqa: E402

P_DROP = 0.1


class Block(nn.Module):
    def __init__(self, spec: ModelSpec, fused: bool):
        super().__init__()
        d = spec.d_model
        self.n_head, self.fused = spec.n_head, fused
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, spec.ffn_dim), nn.Linear(spec.ffn_dim, d)
        self.register_buffer(
            "causal", torch.ones(spec.n_ctx, spec.n_ctx, dtype=torch.bool).triu(1), persistent=False
        )

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (
            t.view(b, s, self.n_head, d // self.n_head).transpose(1, 2).contiguous() for t in (q, k, v)
        )
        if self.fused:
            y = F.scaled_dot_product_attention(
                q, k, v, dropout_p=P_DROP if self.training else 0.0, is_causal=True
            )
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.n_head))
            att = att.masked_fill(self.causal[:s, :s], float("-inf"))
            y = F.dropout(F.softmax(att, dim=-1), P_DROP, self.training) @ v
        y = y.transpose(1, 2).contiguous().view(b, s, d)
        x = x + F.dropout(self.c_proj(y), P_DROP, self.training)
        return x + F.dropout(self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)))), P_DROP, self.training)


class GPT(nn.Module):
    def __init__(self, spec: ModelSpec, fused: bool):
        super().__init__()
        self.wte = nn.Embedding(spec.vocab_size, spec.d_model)
        self.wpe = nn.Embedding(spec.n_ctx, spec.d_model)
        self.blocks = nn.ModuleList(Block(spec, fused) for _ in range(spec.n_layer))
        self.ln_f = nn.LayerNorm(spec.d_model)

    def forward(self, idx, targets):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = F.dropout(self.wte(idx) + self.wpe(pos), P_DROP, self.training)
        for block in self.blocks:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight).float()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def measure(spec: ModelSpec, batch: int, seq: int, mixed: bool) -> dict[str, float]:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    model = GPT(spec, fused=mixed).cuda().train()
    weights = torch.cuda.memory_allocated() - base
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    idx = torch.randint(0, spec.vocab_size, (batch, seq), device="cuda")
    tgt = torch.randint(0, spec.vocab_size, (batch, seq), device="cuda")
    inputs = torch.cuda.memory_allocated()
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mixed):
        loss = model(idx, tgt)
    activations = torch.cuda.memory_allocated() - inputs
    loss.backward()
    del loss
    gradients = torch.cuda.memory_allocated() - inputs
    opt.step()
    optimizer = torch.cuda.memory_allocated() - inputs - gradients
    torch.cuda.synchronize()
    out = dict(
        weights=weights,
        activations=activations,
        gradients=gradients,
        optimizer=optimizer,
        peak=torch.cuda.max_memory_allocated() - base,
        reserved=torch.cuda.max_memory_reserved(),
    )
    del model, opt, idx, tgt
    return out


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA device")
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    cases = [
        (
            "gpt-350m fp32, standard attention",
            ModelSpec(
                n_layer=24,
                d_model=1024,
                n_head=16,
                vocab_size=50304,
                n_ctx=1024,
                qkv_bias=True,
                out_bias=True,
                mlp_bias=True,
                name="gpt-350m",
            ),
            4,
            1024,
            False,
        ),
        (
            "gpt-1.3b bf16 autocast, fused SDPA",
            ModelSpec(
                n_layer=24,
                d_model=2048,
                n_head=16,
                vocab_size=50304,
                n_ctx=2048,
                qkv_bias=True,
                out_bias=True,
                mlp_bias=True,
                name="gpt-1.3b",
            ),
            4,
            2048,
            True,
        ),
    ]
    header = f"{'case':38s} {'term':12s} {'predicted GiB':>14s} {'measured GiB':>13s} {'measured/pred':>14s}"
    print(header)
    print("-" * len(header))
    for label, spec, batch, seq, mixed in cases:
        measured = measure(spec, batch, seq, mixed)
        if mixed:
            # autocast keeps fp32 weights (4 B) and fp32 grads (4 B), Adam 8 B: the same 16 B/param as
            # bf16 weights + fp32 master + bf16 grads; compare the model states with the fp32 convention.
            states = estimate_memory(
                spec,
                precision=Precision.of("fp32"),
                workload=Workload.of(micro_batch=0),
                mode="train",
                overhead_bytes=0,
            )
            acts = estimate_memory(
                spec,
                precision=Precision.of("bf16"),
                workload=Workload.of(micro_batch=batch, seq_len=seq, flash_attention=True),
                mode="train",
                overhead_bytes=0,
            )
        else:
            states = acts = estimate_memory(
                spec,
                precision=Precision.of("fp32"),
                workload=Workload.of(micro_batch=batch, seq_len=seq, flash_attention=False),
                mode="train",
                overhead_bytes=0,
            )
        predicted = dict(
            weights=states.weights_bytes + states.master_weights_bytes,
            gradients=states.gradients_bytes,
            optimizer=states.optimizer_bytes,
            activations=acts.activations_bytes,
        )
        if mixed:
            # Autocast casts each Linear weight to bf16 and autograd keeps that copy for the backward pass:
            # 2 B per parameter that passes through a matmul (all but the position table and the norms).
            norms = (2 * spec.n_layer + 1) * 2 * spec.d_model
            predicted["activations"] += 2 * (spec.params - spec.n_ctx * spec.d_model - norms)
        predicted["peak"] = sum(predicted.values())
        for term in ("weights", "gradients", "optimizer", "activations", "peak"):
            p, m = predicted[term], measured[term]
            print(f"{label:38s} {term:12s} {p / 2**30:14.3f} {m / 2**30:13.3f} {m / p:14.3f}")
        print(
            f"{label:38s} {'reserved':12s} {'':14s} {measured['reserved'] / 2**30:13.3f} "
            "(allocator reserve over peak: "
            f"{format(measured['reserved'] / measured['peak'] - 1, '.1%')})"
        )


if __name__ == "__main__":
    main()
