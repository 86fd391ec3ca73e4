"""The memory model against a real PyTorch training step (skipped without torch).

A tiny GPT-2-style decoder is built from the same `ModelSpec` layout (LayerNorm with bias, learned positions,
biased QKV/O/MLP, GELU, dropout, tied embeddings) and trained for one step in fp32 on the CPU:

* weights, gradients and AdamW's two moments are compared **exactly** (sum of tensor nbytes);
* activations are every tensor autograd saves for the backward pass (``saved_tensors_hooks``), deduplicated
  by storage and excluding parameters, compared with Korthikanti et al. 2022's per-layer terms (at 4-byte
  values) plus the embedding-dropout mask, final LayerNorm / LM-head inputs and the
  fp32 logits. PyTorch's CPU dropout saves its mask as fp32 (CUDA's fused ``native_dropout`` saves a 1-byte
  bool, the paper's count), so the prediction is made with ``mask_bytes=4``. Tolerance 2 %: the terms the formula leaves out are O(1/h) of what it counts -- each
  LayerNorm's fp32 mean and rstd (8·b·s bytes, 2L + 1 of them), the int64 token ids, positions and targets,
  and each block's s x s boolean causal-mask buffer -- 0.6 % at this size; the test also checks that the difference is
  exactly those terms.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from scaling.memory import estimate_memory  # noqa: E402
from scaling.model import ModelSpec  # noqa: E402

SPEC = ModelSpec(
    n_layer=2, d_model=64, n_head=4, vocab_size=96, n_ctx=32, qkv_bias=True, out_bias=True, mlp_bias=True,
    tied_embeddings=True, name="tiny-gpt",
)  # fmt: skip
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
        self.register_buffer("causal", torch.ones(spec.n_ctx, spec.n_ctx, dtype=torch.bool).triu(1), persistent=False)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        # contiguous copies: each of Q, K, V is then saved once, as Korthikanti counts them
        q, k, v = (t.view(b, s, self.n_head, d // self.n_head).transpose(1, 2).contiguous() for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.n_head))
        att = att.masked_fill(self.causal[:s, :s], float("-inf"))
        att = F.dropout(F.softmax(att, dim=-1), P_DROP, self.training)
        y = (att @ v).transpose(1, 2).contiguous().view(b, s, d)
        x = x + F.dropout(self.c_proj(y), P_DROP, self.training)
        return x + F.dropout(self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)))), P_DROP, self.training)


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
    idx = torch.randint(0, SPEC.vocab_size, (BATCH, SEQ))
    targets = torch.randint(0, SPEC.vocab_size, (BATCH, SEQ))
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
    opt.step()
    params = list(model.parameters())
    states = [s for p in params for key, s in opt.state[p].items() if key in ("exp_avg", "exp_avg_sq")]
    return model, params, states, sum(saved.values())


def test_torch_model_matches_spec_param_count():
    model, params, _, _ = _one_step()
    assert sum(p.numel() for p in params) == SPEC.params


def test_weights_gradients_adamw_states_exact():
    _, params, states, _ = _one_step()
    predicted = estimate_memory(SPEC, precision="fp32", micro_batch=BATCH, seq_len=SEQ, overhead_bytes=0)
    assert predicted.master_weights_bytes == 0  # fp32 training keeps no master copy
    assert _nbytes(params) == predicted.weights_bytes == 4 * SPEC.params
    assert _nbytes(p.grad for p in params) == predicted.gradients_bytes
    assert _nbytes(states) == predicted.optimizer_bytes == 8 * SPEC.params


def test_activations_one_training_step():
    _, _, _, measured = _one_step()
    predicted = estimate_memory(SPEC, precision="fp32", micro_batch=BATCH, seq_len=SEQ, overhead_bytes=0, mask_bytes=4,
                               flash_attention=False)  # the model above stores the s x s scores
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
