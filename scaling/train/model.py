"""A nanoGPT-style decoder built from a `ModelSpec`, so the model trained is the model the estimators count.

`GPT(spec)` has exactly ``spec.params`` parameters (tests/test_train.py checks ``sum(p.numel())``) and does
exactly the matmuls `scaling.flops` counts under the "exact" convention (checked against PyTorch's FLOP
counter). The default training shape (`gpt_spec`) is the one measured for this recipe on 2 CPU cores: pre-norm
blocks, bias-free LayerNorm and linears, GELU MLP 4x, causal scaled-dot-product attention, learned positions,
and a token embedding tied to the LM head, over a 256-byte vocabulary.

Only the spec fields this file implements are accepted; anything else (RoPE, gated FFN, MoE, GQA, ...) raises
a `ScalingError` rather than silently training a different model than the one counted.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from scaling.errors import ScalingError
from scaling.model import ModelSpec


def gpt_spec(
    d_model: int,
    n_layer: int,
    n_head: int | None = None,
    *,
    vocab_size: int = 256,
    seq_len: int = 128,
) -> ModelSpec:
    """The training shape for a (width, depth): heads of 32 dims, at least 2 (narrower heads trained worse in
    our measurements)."""
    if n_head is None:
        n_head = max(2, d_model // 32)
        while d_model % n_head:  # e.g. d=80: 2 heads of 40
            n_head -= 1
    return ModelSpec(
        n_layer=n_layer,
        d_model=d_model,
        n_head=n_head,
        vocab_size=vocab_size,
        n_ctx=seq_len,
        position="learned",
        norm="layernorm-nobias",
        qkv_bias=False,
        out_bias=False,
        mlp_bias=False,
        tied_embeddings=True,
        name=f"gpt-d{d_model}-l{n_layer}",
        source="scaling.train.model.gpt_spec",
    )


def check_trainable(spec: ModelSpec) -> None:
    """Raise if `GPT` cannot build this spec exactly (so the counted model and the trained one never
    differ)."""
    unsupported = {
        "arch": spec.arch != "decoder",
        "position": spec.position != "learned",
        "gated_ffn": spec.gated_ffn,
        "activation": spec.activation not in ("gelu", "relu", "silu"),
        "n_kv_head": spec.kv_heads != spec.n_head,
        "d_head": spec.head_dim * spec.n_head != spec.d_model,
        "n_experts": spec.is_moe,
        "parallel_block": spec.parallel_block,
        "norms_per_layer": spec.norms_per_layer != 2,
        "final_norm": not spec.final_norm,
        "embedding_norm": spec.embedding_norm,
        "token_types": spec.token_types != 0,
        "pooler": spec.pooler,
        "n_positions": (spec.n_positions or spec.n_ctx) != spec.n_ctx,
        "qk_norm": spec.qk_norm != "none",
        "kv_lora_rank": spec.is_mla,
        "sliding_window": spec.windowed_layers > 0,
        "d_embed": spec.embed_dim != spec.d_model,
        "norm": spec.norm == "nonparametric",
        "norm_placement": spec.norm_placement != "pre",
    }
    bad = [name for name, is_bad in unsupported.items() if is_bad]
    if bad:
        raise ScalingError(
            f"model {spec.name!r}: the training GPT cannot build {', '.join(bad)} as specified; it supports "
            "decoder-only, learned positions, multi-head attention with d_head*n_head = d_model, a plain "
            "gelu/relu/silu MLP, 2 norms per layer plus a final norm, tied or untied embeddings, "
            "optional biases"
        )


def _norm(spec: ModelSpec) -> nn.Module:
    if spec.norm == "rmsnorm":
        return nn.RMSNorm(spec.d_model)
    return nn.LayerNorm(spec.d_model, bias=spec.norm == "layernorm")


class CausalSelfAttention(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.n_head = spec.n_head
        # One fused d -> 3d projection: the same parameters as separate Q, K, V, one matmul instead of three.
        self.c_attn = nn.Linear(spec.d_model, 3 * spec.d_model, bias=spec.qkv_bias)
        self.c_proj = nn.Linear(spec.d_model, spec.d_model, bias=spec.out_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        # SDPA picks the fused (flash-style) kernel on CPU and GPU; causal masking without a stored mask
        # buffer.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.c_fc = nn.Linear(spec.d_model, spec.ffn_dim, bias=spec.mlp_bias)
        self.act = {"gelu": nn.GELU(), "relu": nn.ReLU(), "silu": nn.SiLU()}[spec.activation]
        self.c_proj = nn.Linear(spec.ffn_dim, spec.d_model, bias=spec.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.c_fc(x)))


class Block(nn.Module):
    """Pre-norm residual block (GPT-2): the residual stream itself is never normalised, which keeps deep and
    shallow models trainable at the same learning rate."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.ln_1 = _norm(spec)
        self.attn = CausalSelfAttention(spec)
        self.ln_2 = _norm(spec)
        self.mlp = MLP(spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        check_trainable(spec)
        self.spec = spec
        self.wte = nn.Embedding(spec.vocab_size, spec.d_model)
        self.wpe = nn.Embedding(spec.n_ctx, spec.d_model)
        self.h = nn.ModuleList(Block(spec) for _ in range(spec.n_layer))
        self.ln_f = _norm(spec)
        self.lm_head = nn.Linear(spec.d_model, spec.vocab_size, bias=spec.lm_head_bias)
        if spec.tied_embeddings:
            # Weight tying (Press & Wolf 2017): the input embedding doubles as the output projection, so the
            # vocabulary costs one V x d matrix, which ModelSpec counts once.
            self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        # GPT-2: scale residual projections by 1/sqrt(2L) so the residual stream's variance does not grow with
        # depth.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * spec.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        T = idx.shape[1]
        if T > self.spec.n_ctx:
            raise ScalingError(f"sequence of {T} tokens is longer than the model's context {self.spec.n_ctx}")
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: decay matrices and embeddings (nanoGPT), never norms' scales or biases."""
        params = {id(p): p for p in self.parameters()}.values()  # the tied weight once
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
