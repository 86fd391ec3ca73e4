"""The memory model against a real PyTorch training step (skipped without torch).

A tiny GPT-2-style decoder is built from the same `ModelSpec` layout (LayerNorm with bias, learned positions,
biased QKV/O/MLP, GELU, dropout, tied embeddings) and trained for one step in fp32 on the CPU:

* weights, gradients and AdamW's two moments are compared **exactly** (sum of tensor nbytes);
* activations are every tensor autograd saves for the backward pass (``saved_tensors_hooks``), deduplicated
  by storage and excluding parameters, compared with Korthikanti et al. 2022's per-layer terms (at 4-byte
  values) plus the embedding-dropout mask, final LayerNorm / LM-head inputs and the
  fp32 logits. PyTorch's CPU dropout saves its mask as fp32 (CUDA's fused ``native_dropout`` saves a 1-byte
  bool, the paper's count), so the prediction is made with ``mask_bytes=4``. Tolerance 2 %: the terms the
  formula leaves out are O(1/h) of what it counts -- each LayerNorm's fp32 mean and rstd (8·b·s bytes,
  2L + 1 of them), the int64 token ids, positions and targets, and each block's s x s boolean causal-mask
  buffer -- 0.6 % at this size; the test also checks that the difference is exactly those terms.

The same is done for a DeepSeek-style MoE block (SwiGLU experts, a shared expert, the first layer
dense) and for multi-head latent attention, with fused SwiGLU and RMSNorm (what production kernels save); each
difference is exactly the enumerated small terms (norm statistics, int64 indices, gate weights).
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from scaling.memory import Precision, Workload, estimate_memory  # noqa: E402
from scaling.model import ModelSpec  # noqa: E402

SPEC = ModelSpec(
    n_layer=2,
    d_model=64,
    n_head=4,
    vocab_size=96,
    n_ctx=32,
    qkv_bias=True,
    out_bias=True,
    mlp_bias=True,
    tied_embeddings=True,
    name="tiny-gpt",
)
BATCH, SEQ, P_DROP = 2, 32, 0.1


class Block(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        d = spec.d_model
        self.n_head = spec.n_head
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, spec.ffn_dim)
        self.mlp_proj = nn.Linear(spec.ffn_dim, d)
        self.register_buffer(
            "causal", torch.ones(spec.n_ctx, spec.n_ctx, dtype=torch.bool).triu(1), persistent=False
        )

    def forward(self, x):
        x = x + F.dropout(self.attention(self.ln_1(x)), P_DROP, self.training)
        return x + F.dropout(self.feed_forward(self.ln_2(x)), P_DROP, self.training)

    def attention(self, x):
        b, s, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        return self.c_proj(self.scores_times_values(*(t.view(b, s, self.n_head, -1) for t in (q, k, v))))

    def scores_times_values(self, q, k, v):
        """(b, s, heads, width) Q, K, V -> (b, s, heads x value width), saving the s x s scores."""
        b, s, heads, width = q.shape
        # contiguous copies: each of Q, K, V is then saved once, as Korthikanti counts them
        q, k, v = (t.transpose(1, 2).contiguous() for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(width))
        att = att.masked_fill(self.causal[:s, :s], float("-inf"))
        att = F.dropout(F.softmax(att, dim=-1), P_DROP, self.training)
        return (att @ v).transpose(1, 2).contiguous().view(b, s, -1)

    def feed_forward(self, x):
        return self.mlp_proj(F.gelu(self.c_fc(x)))


class TinyGPT(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.wte = nn.Embedding(spec.vocab_size, spec.d_model)
        self.wpe = nn.Embedding(spec.n_ctx, spec.d_model)
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.n_layer))
        self.ln_f = nn.LayerNorm(spec.d_model)

    def forward(self, idx, targets):
        pos = torch.arange(idx.shape[1])
        x = F.dropout(self.wte(idx) + self.wpe(pos), P_DROP, self.training)
        for block in self.blocks:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied LM head
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def _nbytes(tensors) -> int:
    return sum(t.nelement() * t.element_size() for t in tensors)


def _one_step():
    torch.manual_seed(0)
    model = TinyGPT(SPEC).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    measured = _saved_activation_bytes(model, SPEC)  # one forward and backward
    opt.step()
    params = list(model.parameters())
    states = [s for p in params for key, s in opt.state[p].items() if key in ("exp_avg", "exp_avg_sq")]
    return model, params, states, measured


def test_torch_model_matches_spec_param_count():
    model, params, _, _ = _one_step()
    assert sum(p.numel() for p in params) == SPEC.params


def test_weights_gradients_adamw_states_exact():
    _, params, states, _ = _one_step()
    predicted = estimate_memory(
        SPEC,
        precision=Precision.of("fp32"),
        workload=Workload.of(micro_batch=BATCH, seq_len=SEQ),
        overhead_bytes=0,
    )
    assert predicted.master_weights_bytes == 0  # fp32 training keeps no master copy
    assert _nbytes(params) == predicted.weights_bytes == 4 * SPEC.params
    assert _nbytes(p.grad for p in params) == predicted.gradients_bytes
    assert _nbytes(states) == predicted.optimizer_bytes == 8 * SPEC.params


def test_activations_one_training_step():
    _, _, _, measured = _one_step()
    predicted = estimate_memory(
        SPEC,
        precision=Precision.of("fp32"),
        workload=Workload.of(micro_batch=BATCH, seq_len=SEQ, flash_attention=False, mask_bytes=4),
        overhead_bytes=0,
    )  # the model above stores the s x s scores
    expected = predicted.activations_bytes
    b, s, L = BATCH, SEQ, SPEC.n_layer
    unmodelled = (
        (2 * L + 1) * 2 * 4 * b * s  # LayerNorm mean + rstd (fp32) per LayerNorm
        + 8 * b * s  # token ids (int64) saved by the embedding
        + 8 * s  # positions (int64)
        + 8 * b * s  # targets (int64) saved by the loss
        + L * SPEC.n_ctx * SPEC.n_ctx  # each block's boolean causal-mask buffer
    )
    print(f"measured {measured} B, predicted {expected:.0f} B, unmodelled terms {unmodelled} B")
    assert abs(measured - expected) / expected < 0.02
    assert measured == pytest.approx(expected + unmodelled, abs=16)  # loss scalars (total_weight)


# --------------------------------------------------------------------------------------------- MoE
# DeepSeek-style layout, tiny: SwiGLU everywhere, the first layer dense (d_ff 96), then routed experts of
# width 32 (2 of 4 per token) beside a shared expert of width 32. The count assumes a fused SwiGLU, which
# saves gate|up and recomputes the SiLU (as Megatron's and DeepSpeed's fused kernels do), and a dispatch that
# gathers each expert's tokens (its first linear saves that copy) and weights each expert's output by the
# router's gate.
MOE = ModelSpec(
    n_layer=3,
    d_model=64,
    n_head=4,
    vocab_size=96,
    n_ctx=32,
    qkv_bias=True,
    out_bias=True,
    mlp_bias=False,
    gated_ffn=True,
    activation="silu",
    d_ff=96,
    n_experts=4,
    experts_per_token=2,
    d_ff_expert=32,
    d_ff_shared=32,
    dense_layers=1,
    tied_embeddings=True,
    name="tiny-moe",
)


class FusedSwiGLU(torch.autograd.Function):
    """silu(gate) * up from one gate|up tensor, saving only that tensor (the SiLU is recomputed)."""

    @staticmethod
    def forward(ctx, gate_up):
        gate, up = gate_up.chunk(2, dim=-1)
        ctx.save_for_backward(gate_up)
        return F.silu(gate) * up

    @staticmethod
    def backward(ctx, grad):
        (gate_up,) = ctx.saved_tensors
        gate, up = gate_up.chunk(2, dim=-1)
        sig = torch.sigmoid(gate)
        return torch.cat([grad * up * sig * (1 + gate * (1 - sig)), grad * gate * sig], dim=-1)


class SwiGLU(nn.Module):
    def __init__(self, d: int, width: int):
        super().__init__()
        self.gate_up = nn.Linear(d, 2 * width, bias=False)
        self.down = nn.Linear(width, d, bias=False)

    def forward(self, x):
        return self.down(FusedSwiGLU.apply(self.gate_up(x)))


class MoE(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.k = spec.experts_per_token
        self.router = nn.Linear(spec.d_model, spec.n_experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(spec.d_model, spec.expert_ffn_dim) for _ in range(spec.n_experts))
        self.shared = SwiGLU(spec.d_model, spec.d_ff_shared)

    def forward(self, x):
        b, s, d = x.shape
        flat = x.reshape(b * s, d)
        weights, chosen = torch.softmax(self.router(flat), dim=-1).topk(self.k, dim=-1)
        out = self.shared(flat)
        for e, expert in enumerate(self.experts):
            rows, slots = (chosen == e).nonzero(as_tuple=True)
            weighted = expert(flat[rows]) * weights[rows, slots, None]
            # scatter_add saves only the index (index_add would also keep the weighted outputs)
            out = out.scatter_add(0, rows[:, None].expand(-1, d), weighted)
        return out.view(b, s, d)


class MoEBlock(Block):
    def __init__(self, spec: ModelSpec, dense: bool):
        super().__init__(spec)
        del self.c_fc, self.mlp_proj
        self.ffn = SwiGLU(spec.d_model, spec.ffn_dim) if dense else MoE(spec)

    def feed_forward(self, x):
        return self.ffn(x)


def test_moe_activations_count_the_experts_width_and_the_dispatch():
    model = TinyGPT(MOE)
    model.blocks = nn.ModuleList(MoEBlock(MOE, dense=i < MOE.dense_layers) for i in range(MOE.n_layer))
    assert sum(p.numel() for p in model.parameters()) == MOE.params  # the measured model is the counted one
    measured = _saved_activation_bytes(model, MOE)
    predicted = estimate_memory(
        MOE,
        precision=Precision.of("fp32"),
        workload=Workload.of(micro_batch=BATCH, seq_len=SEQ, flash_attention=False, mask_bytes=4),
        overhead_bytes=0,
    ).activations_bytes
    b, s, L, k = BATCH, SEQ, MOE.n_layer, MOE.experts_per_token
    moe_layers = L - MOE.dense_layers
    unmodelled = (
        (2 * L + 1) * 2 * 4 * b * s
        + 8 * b * s
        + 8 * s
        + 8 * b * s
        + L * MOE.n_ctx**2  # as in the dense model
        + moe_layers
        * (
            8 * k * b * s  # the top-k expert ids (int64)
            + 2 * 8 * k * b * s  # each expert's token rows and gate slots (int64)
            + 4 * k * b * s
        )  # each routed token's gate weight
    )
    print(f"measured {measured} B, predicted {predicted:.0f} B, unmodelled terms {unmodelled} B")
    assert abs(measured - predicted) / predicted < 0.02
    assert measured == pytest.approx(predicted + unmodelled, rel=0.002)
    # Each routed expert counted at the dense d_ff (96, not 32) with no dispatch copies -- what the count did
    # before -- is 1.2% off here (the attention dominates this tiny model), far outside the accounting above.
    per_token = 4 * b * s * MOE.d_model * moe_layers
    dense_width = predicted + per_token * (3 * k * MOE.ffn_dim - 3 * (k * 32 + 32) - 2 * k * 64 - 4) / 64
    assert abs(dense_width - measured - unmodelled) / measured > 0.01


def _saved_activation_bytes(model, spec: ModelSpec) -> int:
    torch.manual_seed(0)
    model.train()
    idx = torch.randint(0, spec.vocab_size, (BATCH, SEQ))
    targets = torch.randint(0, spec.vocab_size, (BATCH, SEQ))
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in param_ptrs:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(idx, targets)
    loss.backward()
    return sum(saved.values())


# --------------------------------------------------------------------------------------------- MLA
# Multi-head latent attention (DeepSeek-V2 §2.1), tiny: Q through a rank-32 bottleneck, K and V from a
# rank-16 latent, query/key heads of 24 (16 + an 8-dim rotary part whose key is shared by the heads), value
# heads of 16. Rotary positions have no parameters and save nothing but their tables,
# so the model leaves them out.
MLA = ModelSpec(
    n_layer=2,
    d_model=64,
    n_head=4,
    d_head=24,
    v_head_dim=16,
    q_lora_rank=32,
    kv_lora_rank=16,
    qk_rope_head_dim=8,
    vocab_size=96,
    n_ctx=32,
    norm="layernorm",
    qkv_bias=False,
    out_bias=False,
    mlp_bias=True,
    tied_embeddings=True,
    name="tiny-mla",
)


class FusedRMSNorm(torch.autograd.Function):
    """RMSNorm saving its input and the fp32 1/rms per row, as fused kernels do (PyTorch's CPU RMSNorm is
    composite and also keeps the normalised input before the scale)."""

    @staticmethod
    def forward(ctx, x, weight, eps):
        rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        ctx.save_for_backward(x, weight, rstd)
        return x * rstd * weight

    @staticmethod
    def backward(ctx, grad):
        x, weight, rstd = ctx.saved_tensors
        gw = grad * weight
        dx = rstd * gw - x * rstd**3 * (gw * x).mean(-1, keepdim=True)
        return dx, (grad * x * rstd).sum(dim=tuple(range(grad.dim() - 1))), None


class RMSNorm(nn.RMSNorm):
    def forward(self, x):
        return FusedRMSNorm.apply(x, self.weight, 1e-6)


class LatentAttention(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        h, d = spec.n_head, spec.d_model
        self.h, self.dh, self.dv, self.rope = h, spec.head_dim, spec.value_head_dim, spec.qk_rope_head_dim
        self.q_down = nn.Linear(d, spec.q_lora_rank, bias=False)
        self.q_norm = RMSNorm(spec.q_lora_rank)
        self.q_up = nn.Linear(spec.q_lora_rank, h * self.dh, bias=False)
        self.kv_down = nn.Linear(d, spec.kv_lora_rank + self.rope, bias=False)
        self.kv_norm = RMSNorm(spec.kv_lora_rank)
        self.kv_up = nn.Linear(spec.kv_lora_rank, h * (self.dh - self.rope + self.dv), bias=False)
        self.out = nn.Linear(h * self.dv, d, bias=False)

    def forward(self, x, block):
        b, s, _ = x.shape
        q = self.q_up(self.q_norm(self.q_down(x))).view(b, s, self.h, self.dh)
        latent, k_rope = self.kv_down(x).split([self.kv_norm.normalized_shape[0], self.rope], dim=-1)
        kv = self.kv_up(self.kv_norm(latent)).view(b, s, self.h, -1)
        k_nope, v = kv.split([self.dh - self.rope, self.dv], -1)
        k = torch.cat([k_nope, k_rope[:, :, None, :].expand(b, s, self.h, self.rope)], dim=-1)
        return self.out(block.scores_times_values(q, k, v))


class MLABlock(Block):
    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        del self.c_attn, self.c_proj
        self.latent_attention = LatentAttention(spec)

    def attention(self, x):
        return self.latent_attention(x, self)


def test_mla_activations_count_the_latents_and_the_narrower_value_heads():
    model = TinyGPT(MLA)
    model.blocks = nn.ModuleList(MLABlock(MLA) for _ in range(MLA.n_layer))
    assert sum(p.numel() for p in model.parameters()) == MLA.params  # the measured model is the counted one
    measured = _saved_activation_bytes(model, MLA)
    predicted = estimate_memory(
        MLA,
        precision=Precision.of("fp32"),
        workload=Workload.of(micro_batch=BATCH, seq_len=SEQ, flash_attention=False, mask_bytes=4),
        overhead_bytes=0,
    ).activations_bytes
    b, s, L = BATCH, SEQ, MLA.n_layer
    unmodelled = (
        (2 * L + 1) * 2 * 4 * b * s
        + 8 * b * s
        + 8 * s
        + 8 * b * s
        + L * MLA.n_ctx**2  # as in the dense model
        + L * 2 * 4 * b * s  # each latent RMSNorm's fp32 1/rms
    )
    print(f"measured {measured} B, predicted {predicted:.0f} B, unmodelled terms {unmodelled} B")
    assert abs(measured - predicted) / predicted < 0.02
    assert measured == pytest.approx(predicted + unmodelled, rel=0.002)


def test_the_fused_reference_ops_have_the_right_gradients():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 8, dtype=torch.double, requires_grad=True)
    w = torch.randn(8, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: FusedRMSNorm.apply(x, w, 1e-6), (x, w))
    assert torch.autograd.gradcheck(
        FusedSwiGLU.apply, (torch.randn(4, 6, dtype=torch.double, requires_grad=True),)
    )
