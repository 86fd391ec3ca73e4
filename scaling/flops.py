"""Training and inference FLOPs, counted by named term (their time and cost on a cluster: `scaling.cost`).

Every cost is a sum of named terms, one per line with its source, so each can be checked against the paper
it comes from. Multiply-accumulates count 2 FLOPs; biases, norms and activations are sub-leading and are
left out (Kaplan et al. 2020, Table 1 note), except the softmax (Hoffmann et al. 2022, App. F).

Conventions (``CONVENTIONS``), all per token; training = forward + backward with backward = 2 x forward:

* ``6nd``: 6·N with N the total parameters (active parameters for MoE). The default, and what most papers
  and MFU figures use (Kaplan et al. 2020 §2.1; GPT-3 Table D.1 with N including embeddings).
* ``6nd-nonembedding``: 6·N with Kaplan's non-embedding N.
* ``kaplan``: forward = 2·N + 2·n_layer·n_ctx·d_attn with non-embedding N (Kaplan et al. 2020, Eq. 2.2);
  training = 3 x forward. The context term counts one s² matmul and never halves it for causal masks.
* ``exact``: the per-component count of Hoffmann et al. 2022, App. F: embeddings, Q/K/V and output
  projections (K and V sized by the KV heads, so GQA/MQA are cheaper), attention logits, softmax,
  attention-over-V, the FFN (3 matrices when gated; the active experts and the router for MoE), logits.
* ``3nd``: GPT-3 Table D.1's encoder-decoder rule: 3·N·D, "only half of the parameters are active for
  each token" (T5 rows).

Attention over a causal mask is counted in full by default (``causal="full"``: PaLM, Megatron before
2025, Korthikanti, Narayanan, torchtitan, nanoGPT all do, and it is what published MFU numbers use) or
halved (``causal="half"``: Megatron since 2025-03, FlashAttention benchmarks). Encoders are bidirectional
and never halved.

What ``tokens`` means for an encoder-decoder: every token either stack processes, source plus target
(GPT-3 Table D.1's accounting, where each token meets half the parameters). The encoder runs over
``seq_len`` (default ``n_ctx``) source tokens and the decoder over ``target_len`` (default: the same)
target tokens, and per-token FLOPs are that sequence's FLOPs divided by source + target tokens.

Model FLOPs (for MFU) never include recomputation; hardware FLOPs (for HFU) do: ``recompute="full"`` adds
one forward of the transformer layers (the logits layer sits outside the checkpoints: Narayanan et al.
2021, Eq. 3), ``"selective"`` adds the attention scores (logits, softmax, over-V) once more at the cost
Korthikanti et al. 2022, App. A charges for them (its s/6h -> s/3h).

Numbers broadcast over numpy arrays of ``tokens``; numpy is imported only when an array is passed, and the
model package only when FLOPs are counted, so the CLI starts fast. The 6ND rule itself (`six_nd`,
``FLOPS_PER_PARAM_TOKEN``) lives with the units (`scaling.units`), below the model and the catalog, and is
read from here too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from scaling.checks import choice, finite, positive
from scaling.errors import ScalingError
from scaling.render import Displayable
from scaling.units import BACKWARD_MULTIPLIER, FLOPS_PER_PARAM_TOKEN, PF_DAY_FLOPS
from scaling.units import six_nd as six_nd  # re-exported: the 6ND rule is read from here too

if TYPE_CHECKING:
    from scaling.model import ModelSpec

CONVENTIONS = ("6nd", "6nd-nonembedding", "kaplan", "exact", "3nd")
CAUSAL = ("full", "half")
RECOMPUTE = ("none", "selective", "full")
# The fewest training tokens counted: a fraction of a token trains nothing (a sequence is whole tokens).
MIN_TOKENS = 1.0

Number = Any  # a float, or a numpy array of floats (broadcasting)


# ------------------------------------------------------------------------------- per-component terms
def _attention_terms(spec: ModelSpec, *, queries: float, pairs: float, kv_tokens: float) -> dict[str, float]:
    """One attention block's forward FLOPs (Hoffmann et al. 2022, App. F), for ``queries`` query tokens,
    ``pairs`` query-key pairs and ``kv_tokens`` tokens whose K and V are projected here."""
    d, d_attn, d_kv = spec.d_model, spec.d_attn, spec.d_kv
    d_value = spec.n_head * spec.value_head_dim
    # App. F: 2 x 3 x seq x d_model x (key_size x heads); K and V use the KV heads (GQA/MQA)
    qkv = 2.0 * d * d_attn * queries + 2.0 * d * 2 * d_kv * kv_tokens
    if spec.is_mla:  # DeepSeek-V2 §2.1: the down- and up-projections' weights, the output's excluded
        qkv = 2.0 * (spec.attention_weights() - d_value * d) * queries
    return {
        "qkv": qkv,
        "logits": 2.0 * d_attn * pairs,  # App. F: key @ query logits, 2 x seq^2 x (key_size x heads)
        "softmax": 3.0 * spec.n_head * pairs,  # App. F: 3 x heads x seq^2
        "values": 2.0 * d_value * pairs,  # App. F: softmax @ value reductions, 2 x seq^2 x (key_size x heads)
        "output": 2.0 * d_value * d * queries,  # App. F: final linear, 2 x seq x (key_size x heads) x d_model
    }


def _ffn_terms(spec: ModelSpec, tokens: float) -> dict[str, float]:
    # App. F: 2 x the FFN weights a token multiplies by (gated: 3 matrices); for MoE the top-k routed experts
    # at their own width, the shared expert and the dense first layers, averaged over the layers
    moe_share = spec.moe_layers / spec.total_layers if spec.is_moe else 0.0
    return {
        "ffn": 2.0 * spec.ffn_weights_per_layer() * tokens,
        "router": 2.0 * spec.d_model * spec.n_experts * moe_share * tokens,  # MoE gating
    }


def _stack_terms(spec: ModelSpec, layers: int, tokens: float, pairs: float) -> dict[str, float]:
    """Self-attention + FFN over ``layers`` layers for a sequence of ``tokens`` with ``pairs``
    query-key pairs."""
    out: dict[str, float] = {}
    for key, value in _attention_terms(spec, queries=tokens, pairs=pairs, kv_tokens=tokens).items():
        out[f"attention_{key}"] = layers * value
    for key, value in _ffn_terms(spec, tokens).items():
        out[key] = layers * value
    return out


def _add(total: dict[str, float], terms: dict[str, float]) -> None:
    for key, value in terms.items():
        total[key] = total.get(key, 0.0) + value


def _pairs(length: float, causal: str) -> float:
    # full: every query against every key (the PaLM / Megatron convention); half: a causal mask's s^2/2
    return length * length / (2.0 if causal == "half" else 1.0)


def forward_flops_per_sequence(
    spec: ModelSpec,
    *,
    seq_len: int | None = None,
    causal: str = "full",
    include_embeddings: bool = True,
    include_logits: bool = True,
    target_len: int | None = None,
) -> tuple[dict[str, float], float]:
    """Forward FLOPs for one sequence by named term, and the number of tokens they cover."""
    choice(causal, CAUSAL, "causal")
    source = float(positive(seq_len if seq_len is not None else spec.n_ctx, "sequence length"))
    d, v = spec.d_model, spec.vocab_size
    terms: dict[str, float] = {}
    if spec.arch == "decoder":
        tokens = source
        _add(terms, _stack_terms(spec, spec.n_layer, source, _pairs(source, causal)))
    elif spec.arch == "encoder":
        tokens = source  # bidirectional: no causal halving
        _add(terms, _stack_terms(spec, spec.n_layer, source, source * source))
    else:  # encoder-decoder
        target = float(positive(target_len if target_len is not None else source, "target length"))
        tokens = source + target
        _add(terms, _stack_terms(spec, spec.n_encoder_layer, source, source * source))
        _add(terms, _stack_terms(spec, spec.n_layer, target, _pairs(target, causal)))
        # cross-attention: queries from the target, K and V projected once per source token
        cross = _attention_terms(spec, queries=target, pairs=target * source, kv_tokens=source)
        for key, value in cross.items():
            terms[f"cross_attention_{key}"] = spec.n_layer * value
    # Hoffmann et al. 2022, App. F: embeddings 2 x seq x vocab x d_model (a one-hot matmul; a lookup is free)
    terms["embeddings"] = 2.0 * tokens * v * d if include_embeddings else 0.0  # both stacks embed their input
    # App. F: final logits 2 x seq x d_model x vocab (decoder outputs only for encoder-decoder)
    logit_tokens = tokens if spec.arch != "encoder-decoder" else tokens - source
    terms["logits"] = 2.0 * logit_tokens * d * v if include_logits else 0.0
    terms = {k: val for k, val in terms.items() if val or k in ("embeddings", "logits")}
    terms["total"] = sum(terms.values())
    return terms, tokens


def forward_flops_per_token(
    spec: ModelSpec,
    *,
    seq_len: int | None = None,
    causal: str = "full",
    include_embeddings: bool = True,
    include_logits: bool = True,
    target_len: int | None = None,
) -> dict[str, float]:
    """Forward FLOPs per token by named term (Hoffmann et al. 2022, App. F), with a ``"total"``.

    Keys: ``attention_qkv``, ``attention_logits``, ``attention_softmax``, ``attention_values``,
    ``attention_output``, ``ffn``, ``router`` (MoE), ``cross_attention_*`` (encoder-decoder), ``embeddings``,
    ``logits``. For an encoder-decoder, "per token" is per source + target token (see the module docstring).
    """
    terms, tokens = forward_flops_per_sequence(
        spec,
        seq_len=seq_len,
        causal=causal,
        include_embeddings=include_embeddings,
        include_logits=include_logits,
        target_len=target_len,
    )
    return {key: value / tokens for key, value in terms.items()}


_SCORE_TERMS = ("attention_logits", "attention_softmax", "attention_values")


# -------------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainingFlops(Displayable):
    """Training FLOPs under one convention, with the assumptions they were computed under.

    ``flops`` are model FLOPs (for MFU); ``hardware_flops`` add recomputation (for HFU). ``breakdown`` is
    training FLOPs per token by named term and sums to ``flops_per_token``.
    """

    flops: Number
    hardware_flops: Number
    flops_per_token: float
    hardware_flops_per_token: float
    tokens: Number
    convention: str
    params: float
    params_non_embedding: float
    breakdown: dict[str, float]
    seq_len: int | None = None
    causal: str = "full"
    recompute: str = "none"
    include_embeddings: bool = True
    include_logits: bool = True
    model: str = "custom"
    warnings: list[str] = field(default_factory=list)

    @property
    def pf_days(self) -> Number:
        return self.flops / PF_DAY_FLOPS

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("flops", "hardware_flops", "tokens"):
            value = out[key]
            out[key] = value.tolist() if hasattr(value, "tolist") else value
        pf = self.pf_days
        out["pf_days"] = pf.tolist() if hasattr(pf, "tolist") else pf
        return out


def _selective_extra(spec: ModelSpec, seq_len: int | None, causal: str, target_len: int | None) -> float:
    """Forward FLOPs per token of the attention scores (Korthikanti et al. 2022, App. A: selective
    recompute)."""
    terms = forward_flops_per_token(spec, seq_len=seq_len, causal=causal, target_len=target_len)
    return sum(terms.get(k, 0.0) + terms.get(f"cross_{k}", 0.0) for k in _SCORE_TERMS)


def _breakdown(
    spec: ModelSpec | None,
    params: float,
    params_ne: float,
    convention: str,
    seq_len: int | None,
    causal: str,
    include_embeddings: bool,
    include_logits: bool,
    target_len: int | None,
) -> dict[str, float]:
    """Training FLOPs per token by term under ``convention``."""
    if convention == "6nd":
        # Kaplan et al. 2020 §2.1: C = 6ND, with N total (GPT-3 Table D.1 counts embeddings in N)
        return {"params": FLOPS_PER_PARAM_TOKEN * params}
    if convention == "6nd-nonembedding":
        # Kaplan et al. 2020 §2.1: N excludes the embeddings
        return {"params_non_embedding": FLOPS_PER_PARAM_TOKEN * params_ne}
    if convention == "3nd":
        # GPT-3 Table D.1: forward FLOPs per active param 2, with half the params active per token
        return {"params": 3.0 * params}
    assert spec is not None
    if convention == "kaplan":
        context = float(positive(seq_len if seq_len is not None else spec.n_ctx, "sequence length"))
        return {
            # Kaplan et al. 2020, Table 1 / Eq. 2.2: C_forward = 2N + 2 n_layer n_ctx d_attn, training 3x
            "params_non_embedding": 3.0 * 2.0 * params_ne,
            "attention_context": 3.0 * 2.0 * spec.total_layers * context * spec.d_attn,
        }
    forward = forward_flops_per_token(
        spec,
        seq_len=seq_len,
        causal=causal,
        include_embeddings=include_embeddings,
        include_logits=include_logits,
        target_len=target_len,
    )
    return {k: (1.0 + BACKWARD_MULTIPLIER) * val for k, val in forward.items() if k != "total"}


def _recompute_extra(
    spec: ModelSpec | None,
    breakdown: dict[str, float],
    convention: str,
    recompute: str,
    seq_len: int | None,
    causal: str,
    target_len: int | None,
) -> float:
    """Hardware FLOPs per token that recomputation adds (model FLOPs never include them)."""
    per_token = sum(breakdown.values())
    if recompute == "full":
        # Narayanan et al. 2021, Eq. 3: one more forward of the checkpointed layers (not the logits layer)
        if convention == "exact":
            layers = sum(v for k, v in breakdown.items() if k not in ("logits", "embeddings"))
            return layers / (1.0 + BACKWARD_MULTIPLIER)
        return per_token / (1.0 + BACKWARD_MULTIPLIER)  # 6ND -> 8ND (Narayanan Eq. 4)
    if recompute == "selective":
        if spec is None:
            raise ScalingError("selective recompute needs an architecture to count the attention scores")
        # Korthikanti et al. 2022, App. A: recompute QK^T, softmax and softmax @ V. App. A's hardware-FLOPs
        # formula 72BLsh^2(1 + s/3h + V/12hL) doubles the whole attention-score term of the model FLOPs
        # (s/6h -> s/3h), i.e. it charges the recompute at forward + backward cost; we follow it so that
        # Table 5's HFU column reproduces.
        return (1.0 + BACKWARD_MULTIPLIER) * _selective_extra(spec, seq_len, causal, target_len)
    return 0.0


def palm_attention_flops_per_token(spec: ModelSpec, seq_len: int, causal: str = "full") -> float:
    """Training FLOPs per token of the attention scores as PaLM's MFU counts them, 12·L·H·Q·T (Chowdhery et
    al. 2022, App. B: L layers, H heads, Q head width, T sequence length; nanoGPT's ``estimate_mfu`` and
    torchtitan count the same). Halved with ``causal="half"`` (Megatron-LM since 2025)."""
    choice(causal, CAUSAL, "causal")
    full = 12.0 * spec.n_layer * spec.n_head * spec.head_dim * float(positive(seq_len, "sequence length"))
    return full / 2.0 if causal == "half" else full


def _no_overflow(flops: Number, params: float, tokens: Number) -> Number:
    """FLOPs beyond floating point (e.g. 1e308 parameters) are refused, never printed as infinity."""
    try:
        return finite(flops, "training FLOPs")
    except ScalingError:
        raise ScalingError(
            f"invalid model size or tokens: {params:.3g} parameters on {tokens} tokens overflow the "
            "FLOP count (beyond 1.8e308); give a realistic size"
        ) from None


def _counted(spec: Any, convention: str) -> tuple[Any, float, float, str]:
    """(the spec whose terms are counted or None, N, non-embedding N, the model's name): a spec counts its
    active parameters (a MoE's too); a bare count is N itself (non-embedding N under ``6nd-nonembedding``)
    and serves only the conventions that need no architecture."""
    # imported here, not above: `scaling --help` reads this module's convention names and starts faster
    # without the model package (and the catalog it reads)
    from scaling.model import ModelSpec

    if isinstance(spec, ModelSpec):
        return spec, float(spec.active_params), float(spec.active_params_non_embedding), spec.name
    if convention in ("exact", "kaplan"):
        raise ScalingError(
            f"the {convention!r} convention needs an architecture (a model preset, config.json or "
            "dimensions), not a bare parameter count"
        )
    n = float(positive(spec, "parameter count"))
    return None, n, (n if convention == "6nd-nonembedding" else float("nan")), "custom"


def training_flops(
    spec: ModelSpec | float,
    tokens: Number,
    *,
    convention: str = "6nd",
    seq_len: int | None = None,
    causal: str = "full",
    recompute: str = "none",
    include_embeddings: bool = True,
    include_logits: bool = True,
    target_len: int | None = None,
) -> TrainingFlops:
    """Training FLOPs for ``tokens`` tokens (a number or a numpy array).

    ``spec`` is a `ModelSpec`, or a bare parameter count for the ``6nd``, ``6nd-nonembedding`` and ``3nd``
    conventions (the count is then N itself: total for 6nd/3nd, non-embedding for 6nd-nonembedding).
    ``include_embeddings`` / ``include_logits`` apply to the ``exact`` convention; Chinchilla Table A4's
    ratios leave both out (per-layer terms only), App. F's text puts them in.
    """
    choice(convention, CONVENTIONS, "convention")
    choice(causal, CAUSAL, "causal")
    choice(recompute, RECOMPUTE, "recompute")
    tokens = positive(tokens, "token count")
    fewest = float(tokens.min()) if hasattr(tokens, "min") else tokens
    if not fewest >= MIN_TOKENS:
        raise ScalingError(f"invalid token count {fewest:.3g}: expected at least {MIN_TOKENS:g} token")
    spec_for_terms, params, params_ne, name = _counted(spec, convention)
    breakdown = _breakdown(
        spec_for_terms,
        params,
        params_ne,
        convention,
        seq_len,
        causal,
        include_embeddings,
        include_logits,
        target_len,
    )
    per_token = sum(breakdown.values())
    extra = _recompute_extra(spec_for_terms, breakdown, convention, recompute, seq_len, causal, target_len)
    hardware_per_token = per_token + extra
    _no_overflow(hardware_per_token * tokens, params, tokens)

    encoder_decoder = spec_for_terms is not None and spec_for_terms.arch == "encoder-decoder"
    warnings = (
        [
            "6ND counts every parameter for every token; for an encoder-decoder GPT-3 Table D.1 uses 3ND "
            "(half the parameters active per token): try --convention 3nd or exact"
        ]
        if encoder_decoder and convention in ("6nd", "6nd-nonembedding")
        else []
    )
    return TrainingFlops(
        flops=per_token * tokens,
        hardware_flops=hardware_per_token * tokens,
        flops_per_token=per_token,
        hardware_flops_per_token=hardware_per_token,
        tokens=tokens,
        convention=convention,
        params=params,
        params_non_embedding=params_ne,
        breakdown=breakdown,
        seq_len=(seq_len if seq_len is not None else (spec.n_ctx if spec_for_terms is not None else None)),
        causal=causal,
        recompute=recompute,
        include_embeddings=include_embeddings,
        include_logits=include_logits,
        model=name,
        warnings=warnings,
    )


# ------------------------------------------------------------------------------------- inference
@dataclass(frozen=True)
class InferenceFlops(Displayable):
    """Forward FLOPs to serve ``batch`` requests of ``prompt_tokens`` in and ``new_tokens`` out (KV cache)."""

    prefill_flops: float
    decode_flops: float
    flops_per_new_token_first: float
    flops_per_new_token_last: float
    total_flops: float
    prompt_tokens: int
    new_tokens: int
    batch: int
    model: str = "custom"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _decode_step(spec: ModelSpec, context: float, source: float) -> float:
    """Forward FLOPs for one generated token that attends to ``context`` cached tokens (itself included)."""
    terms: dict[str, float] = {}
    for key, value in _attention_terms(spec, queries=1.0, pairs=context, kv_tokens=1.0).items():
        terms[f"attention_{key}"] = spec.n_layer * value
    _add(terms, {k: spec.n_layer * v for k, v in _ffn_terms(spec, 1.0).items()})
    if spec.arch == "encoder-decoder":  # cross-attention against the cached encoder K/V
        cross = _attention_terms(spec, queries=1.0, pairs=source, kv_tokens=0.0)
        _add(terms, {f"cross_attention_{k}": spec.n_layer * v for k, v in cross.items()})
    terms["logits"] = 2.0 * spec.d_model * spec.vocab_size
    return sum(terms.values())


def inference_flops(
    spec: ModelSpec, *, prompt_tokens: int, new_tokens: int, batch: int = 1, causal: str = "full"
) -> InferenceFlops:
    """Prefill (one forward over the prompt) plus autoregressive decoding with a KV cache.

    Generated token i (1-based) attends to ``prompt_tokens + i`` positions. For an encoder-decoder the prompt
    is the encoder's input and the prefill also projects the cross-attention K/V; embeddings are lookups (0).
    """
    if spec.arch == "encoder":
        raise ScalingError(f"model {spec.name!r} is encoder-only and does not generate tokens")
    prompt = int(positive(prompt_tokens, "prompt length"))
    new = int(positive(new_tokens, "number of new tokens"))
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ScalingError(f"invalid batch {batch!r}: must be a whole number, at least 1")
    choice(causal, CAUSAL, "causal")
    if spec.arch == "decoder":
        prefill, _ = forward_flops_per_sequence(spec, seq_len=prompt, causal=causal, include_embeddings=False)
        prefill_total = prefill["total"]
        source = 0.0
        first_ctx = prompt + 1.0
    else:
        # encoder over the prompt, plus the cross-attention K/V projections of its output
        enc = _stack_terms(spec, spec.n_encoder_layer, float(prompt), float(prompt) ** 2)
        cross_kv = spec.n_layer * 2.0 * spec.d_model * 2 * spec.d_kv * prompt
        prefill_total = sum(enc.values()) + cross_kv
        source = float(prompt)
        first_ctx = 1.0  # the decoder starts from its start token
    last_ctx = first_ctx + new - 1
    first = _decode_step(spec, first_ctx, source)
    last = _decode_step(spec, last_ctx, source)
    decode = (first + last) / 2.0 * new  # the per-step cost is linear in the context: an arithmetic series
    return InferenceFlops(
        prefill_flops=batch * prefill_total,
        decode_flops=batch * decode,
        flops_per_new_token_first=first,
        flops_per_new_token_last=last,
        total_flops=batch * (prefill_total + decode),
        prompt_tokens=prompt,
        new_tokens=new,
        batch=batch,
        model=spec.name,
    )
