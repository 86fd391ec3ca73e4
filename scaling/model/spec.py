"""Model specs: a transformer described by its parts, and its exact parameter count.

One `ModelSpec` describes a decoder-only (GPT, Llama, DeepSeek), encoder-only (BERT) or encoder-decoder (T5,
BART) transformer. Every estimator in the package (FLOPs, memory, serving, the training code) reads the same
spec, so a model has one parameter count everywhere. Counts are exact to the parameter for the presets in
``data/models.csv`` and for real checkpoints' ``config.json`` (see ``scaling.model.hf_config``); the published
counts they reproduce are listed in ``tests/test_model.py`` and ``tests/test_hf_config.py``.

A spec is a handful of parts, each a few fields; a new family is a mapping of its config keys onto them:

* attention: Q and O are d_model x (n_head*d_head); K and V are d_model x (n_kv_head*d_head) (MHA, GQA, MQA);
  biases on Q/K/V and on O; QK-norm, a scale per head width (Qwen3, Gemma 3) or over all heads (OLMo 2,
  OLMoE); or multi-head latent attention (DeepSeek-V2/V3: Q through a rank-``q_lora_rank`` bottleneck, K and V
  from a ``kv_lora_rank`` latent plus a shared rotary key of ``qk_rope_head_dim``);
* positions: learned tables (``n_positions`` rows, which include OPT's and RoBERTa's offset of 2), rotary
  (partial or not: no parameters), ALiBi (none), T5's relative buckets, Transformer-XL projections;
* norms: LayerNorm with or without bias, RMSNorm, or a parameter-free LayerNorm (OLMo); ``norms_per_layer``
  of them (1 shared by a parallel block, 2 pre- or post-norm, 4 sandwich: Gemma 2/3);
* feed-forward: 2 matrices d_model x d_ff, or 3 when gated (SwiGLU / GeGLU); MoE layers hold ``n_experts``
  routed experts of width ``d_ff_expert`` plus a d_model x n_experts router, of which ``experts_per_token``
  are active, an always-active shared expert of width ``d_ff_shared`` (DeepSeek, Qwen2-MoE, with Qwen's
  d_model x 1 shared gate), and the first ``dense_layers`` layers dense with width d_ff (DeepSeek);
* embeddings: token (vocab x d_embed), learned positions, token types (BERT), an untied LM head, and OPT's
  projections in and out when ``d_embed`` differs from d_model.

"Non-embedding" parameters (Kaplan et al. 2020) are the total less the token, position and token-type
embeddings and an untied LM head.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from scaling.checks import at_most, choice, fraction, positive_int
from scaling.errors import ScalingError

ARCHS = ("decoder", "encoder", "encoder-decoder")
NORMS = ("layernorm", "rmsnorm", "layernorm-nobias", "nonparametric")
POSITIONS = ("learned", "rope", "alibi", "relative", "relative-xl", "sinusoidal", "none")
QK_NORMS = ("none", "head", "full")
NORM_PLACEMENTS = ("pre", "post", "sandwich")

# Upper bounds on sizes: far beyond any trained model, low enough that a damaged config (1e12 layers, a
# 400-digit width) is refused with a message instead of overflowing an estimate later.
SIZE_LIMITS = {
    "layers": 100_000,
    "width": 10_000_000,
    "heads": 1_000_000,
    "vocab": 100_000_000,
    "tokens": 10**10,
}
_SIZE_KIND = {
    "n_layer": "layers",
    "n_encoder_layer": "layers",
    "dense_layers": "layers",
    "sliding_layers": "layers",
    "norms_per_layer": "layers",
    "d_model": "width",
    "d_head": "width",
    "d_ff": "width",
    "d_ff_expert": "width",
    "d_ff_shared": "width",
    "d_embed": "width",
    "q_lora_rank": "width",
    "kv_lora_rank": "width",
    "qk_rope_head_dim": "width",
    "v_head_dim": "width",
    "n_head": "heads",
    "n_kv_head": "heads",
    "n_experts": "heads",
    "experts_per_token": "heads",
    "relative_buckets": "heads",
    "token_types": "vocab",
    "vocab_size": "vocab",
    "n_ctx": "tokens",
    "n_positions": "tokens",
    "sliding_window": "tokens",
}
_REQUIRED_POSITIVE = {"n_layer", "d_model", "n_head", "vocab_size", "n_ctx", "n_experts"}
_SIZE_CHECKS = tuple(
    (name, SIZE_LIMITS[kind], int(name in _REQUIRED_POSITIVE)) for name, kind in _SIZE_KIND.items()
)


@dataclass(frozen=True)
class ModelSpec:
    """A transformer's architecture. Only ``n_layer``, ``d_model`` and ``n_head`` are required.

    For encoder-decoder models ``n_layer`` is the decoder's depth and ``n_encoder_layer`` the encoder's; for
    encoder-only models ``n_layer`` is the encoder's depth. ``assumptions`` lists what a reader had to assume
    (a config of an unknown family read with the generic rules).
    """

    n_layer: int
    d_model: int
    n_head: int
    name: str = "custom"
    arch: str = "decoder"
    # attention
    n_kv_head: int | None = None  # None: same as n_head (MHA); 1 is MQA; in between is GQA
    d_head: int | None = None  # None: d_model // n_head; for MLA the Q/K head width (no-rope + rope parts)
    qkv_bias: bool = False
    out_bias: bool = False
    qk_norm: str = "none"  # "head": a d_head scale for Q and one for K; "full": over all Q and all K heads
    q_lora_rank: int = 0  # MLA: Q through a bottleneck of this rank; 0: a full Q projection
    kv_lora_rank: int = 0  # MLA: K and V expanded from a cached latent of this width; 0: standard attention
    qk_rope_head_dim: int = 0  # MLA: the rotary part of d_head, one key shared by all heads and cached
    v_head_dim: int | None = None  # MLA: the value head width; None: d_head
    sliding_window: int = 0  # tokens a sliding-window attention layer sees (Mistral, Gemma 2/3); 0: none
    sliding_layers: int | None = None  # decoder layers that use the window; None: all of them
    # feed-forward
    d_ff: int | None = None  # None: 4 * d_model; the dense FFN's width
    gated_ffn: bool = False  # SwiGLU / GeGLU: three matrices instead of two
    activation: str = "gelu"
    mlp_bias: bool = False
    n_experts: int = 1  # routed experts per MoE layer
    experts_per_token: int | None = 1  # None: a config's null top-k: the total counts, `top_k` refuses
    d_ff_expert: int | None = None  # a routed expert's width; None: d_ff
    d_ff_shared: int = 0  # width of the always-active shared expert(s) of a MoE layer; 0: none
    shared_expert_gate: bool = False  # Qwen2-MoE: a d_model x 1 sigmoid gate on the shared expert
    dense_layers: int = 0  # decoder layers with a dense d_ff FFN instead of experts (DeepSeek's first k)
    # positions and embeddings
    vocab_size: int = 50257
    n_ctx: int = 2048  # training context (decoder) or source length (encoder)
    n_encoder_layer: int = 0
    position: str = "learned"
    n_positions: int | None = None  # rows of a learned position table (per stack); None: n_ctx
    relative_buckets: int = 0  # T5 relative attention buckets
    rotary_fraction: float = (
        1.0  # share of d_head rotary positions turn (partial rotary: GPT-J, Phi); no parameters
    )
    d_embed: int | None = None  # token embedding width; None: d_model (OPT-350m: 512, projected to 1024)
    tied_embeddings: bool = True
    lm_head_bias: bool = False
    token_types: int = 0  # BERT's segment embeddings
    pooler: bool = False  # BERT's pooler
    # norms and block structure
    norm: str = "layernorm"
    norms_per_layer: int = 2  # 1: parallel block with a shared norm (GPT-J, Falcon-7B); 4: sandwich
    norm_placement: str = "pre"  # pre, post (OLMo 2, BERT) or sandwich (Gemma 2/3): where the norms sit
    final_norm: bool = True
    embedding_norm: bool = False  # a norm after the embeddings, per stack: BERT, BLOOM, BART
    parallel_block: bool = False  # attention and MLP read the same input (GPT-J, PaLM, Falcon, Cohere)
    training_tokens: float | None = None
    source: str = ""
    family: str = ""
    aliases: tuple[str, ...] = field(default=(), compare=False)
    assumptions: tuple[str, ...] = field(default=(), compare=False)

    # ------------------------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        try:
            self._check_sizes()
            for what, choices in (
                ("arch", ARCHS),
                ("norm", NORMS),
                ("position", POSITIONS),
                ("qk_norm", QK_NORMS),
                ("norm_placement", NORM_PLACEMENTS),
            ):
                value = getattr(self, what)
                if choice(value, choices, what) != value:  # the canonical spelling only: counts compare it
                    raise ScalingError(f"unknown {what} {value!r}: expected one of {', '.join(choices)}")
            fraction(self.rotary_fraction, "rotary_fraction")
            self._check_shape()
        except ScalingError as exc:
            raise ScalingError(f"model {self.name!r}: {exc}") from None

    def _check_sizes(self) -> None:
        for name, limit, required in _SIZE_CHECKS:
            value = getattr(self, name)
            if type(value) is int and required <= value <= limit:
                continue  # the common case, checked fast: specs are built by the thousand in searches
            if value is None and not required:
                continue  # None: the documented default (n_kv_head = n_head, d_ff = 4 d_model, ...)
            import numbers  # only for values that are not plain ints: kept off startup

            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ScalingError(f"invalid {name} {value!r}: expected a whole number")
            positive_int(int(value), name, allow_zero=not required)
            at_most(int(value), limit, name, f"no model has more {_SIZE_KIND[name]}")

    def _check_shape(self) -> None:
        if self.arch == "encoder-decoder" and self.n_encoder_layer <= 0:
            raise ScalingError("an encoder-decoder model needs n_encoder_layer > 0")
        if self.d_head is None and self.d_model % self.n_head:
            raise ScalingError(
                f"d_model {self.d_model} is not divisible by n_head {self.n_head}; give d_head"
            )
        if self.kv_heads <= 0 or self.n_head % self.kv_heads:
            raise ScalingError(f"n_kv_head {self.kv_heads} must divide n_head {self.n_head}")
        if self.experts_per_token is not None and not 1 <= self.experts_per_token <= self.n_experts:
            raise ScalingError(
                f"experts_per_token {self.experts_per_token} must be 1 to n_experts {self.n_experts}"
            )
        if self.ffn_dim <= 0 or self.head_dim <= 0 or self.expert_ffn_dim <= 0:
            raise ScalingError("d_ff, d_ff_expert and d_head must be positive")
        if self.sliding_layers is not None and self.sliding_layers > self.decoder_layers:
            raise ScalingError(
                f"sliding_layers {self.sliding_layers} exceeds the {self.decoder_layers} decoder layers"
            )
        if self.dense_layers and not (self.is_moe and self.dense_layers < self.decoder_layers):
            raise ScalingError(f"dense_layers {self.dense_layers} needs a MoE model with more decoder layers")
        if (self.d_ff_shared or self.shared_expert_gate) and not self.is_moe:
            raise ScalingError("a shared expert (d_ff_shared, shared_expert_gate) needs n_experts > 1")
        if self.is_mla and not 0 < self.qk_rope_head_dim < self.head_dim:
            raise ScalingError(
                f"MLA needs 0 < qk_rope_head_dim < d_head {self.head_dim}, got {self.qk_rope_head_dim}"
            )
        if not self.is_mla and (self.q_lora_rank or self.qk_rope_head_dim or self.v_head_dim is not None):
            raise ScalingError(
                "q_lora_rank, qk_rope_head_dim and v_head_dim describe MLA: give kv_lora_rank too"
            )

    # --------------------------------------------------------------------------------- derived shape
    @property
    def kv_heads(self) -> int:
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def head_dim(self) -> int:
        return self.d_head if self.d_head is not None else self.d_model // self.n_head

    @property
    def value_head_dim(self) -> int:
        return self.head_dim if self.v_head_dim is None else self.v_head_dim

    @property
    def ffn_dim(self) -> int:
        return self.d_ff if self.d_ff is not None else 4 * self.d_model

    @property
    def expert_ffn_dim(self) -> int:
        """A routed expert's width (``d_ff_expert``, else ``d_ff``)."""
        return self.d_ff_expert if self.d_ff_expert is not None else self.ffn_dim

    @property
    def embed_dim(self) -> int:
        return self.d_model if self.d_embed is None else self.d_embed

    @property
    def d_attn(self) -> int:
        """Width of the attention's inner space, n_head * d_head (Kaplan's d_attn)."""
        return self.n_head * self.head_dim

    @property
    def d_kv(self) -> int:
        """Width of K (and of V): n_kv_head * d_head."""
        return self.kv_heads * self.head_dim

    @property
    def is_mla(self) -> bool:
        """Multi-head latent attention (DeepSeek-V2, Bi et al. 2024 §2.1)."""
        return self.kv_lora_rank > 0

    @property
    def attention_kind(self) -> str:
        if self.is_mla:
            return "MLA"
        kv = self.kv_heads
        return "MHA" if kv == self.n_head else ("MQA" if kv == 1 else f"GQA-{kv}")

    @property
    def encoder_layers(self) -> int:
        return {"decoder": 0, "encoder": self.n_layer, "encoder-decoder": self.n_encoder_layer}[self.arch]

    @property
    def decoder_layers(self) -> int:
        return 0 if self.arch == "encoder" else self.n_layer

    @property
    def total_layers(self) -> int:
        return self.encoder_layers + self.decoder_layers

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def moe_layers(self) -> int:
        """Layers whose FFN is a mixture of experts (all but ``dense_layers``)."""
        return self.total_layers - self.dense_layers if self.is_moe else 0

    @property
    def windowed_layers(self) -> int:
        """Decoder layers whose attention sees at most ``sliding_window`` tokens."""
        if not self.sliding_window:
            return 0
        return self.decoder_layers if self.sliding_layers is None else self.sliding_layers

    # ------------------------------------------------------------------------------------- KV cache
    def kv_cache_elements_per_token(self, context: Any = None, *, tp: Any = 1) -> Any:
        """Self-attention KV-cache elements per token of a ``context``-token sequence (decoder layers).

        A standard layer caches K and V: 2 x kv_heads x d_head elements per token; with tensor parallelism
        ``tp`` each rank holds kv_heads/tp heads, at least one (replicated when tp > kv_heads). An MLA layer
        caches its latent and the shared rotary key, kv_lora_rank + qk_rope_head_dim elements (DeepSeek-V2,
        Bi et al. 2024 §2.1.2), on every rank. Sliding-window layers hold at most ``sliding_window`` tokens,
        so with a longer context their share per token shrinks; ``context`` defaults to the model's ``n_ctx``.
        Encoder-only models cache nothing. Broadcasts over numpy arrays; multiply by bytes per element.
        """
        import numpy as np  # only when called: importing the model stays numpy-free for the light commands

        context = np.asarray(self.n_ctx if context is None else context, dtype=float)
        if self.is_mla:
            per_layer = np.asarray(float(self.kv_lora_rank + self.qk_rope_head_dim)) + 0.0 * np.asarray(tp)
        else:
            heads = np.maximum(self.kv_heads / np.asarray(tp, dtype=float), 1.0)
            per_layer = 2.0 * heads * self.head_dim  # 2 = K and V
        windowed = self.windowed_layers
        held = (self.decoder_layers - windowed) * context
        if windowed:
            held = held + windowed * np.minimum(context, float(self.sliding_window))
        per_token = per_layer * held / context
        return float(per_token) if np.ndim(per_token) == 0 else per_token

    @property
    def kv_cache_rule(self) -> str:
        """The KV-cache rule `kv_cache_elements_per_token` applies, in words (for a report's
        "rule" column)."""
        layers = self.decoder_layers
        if self.is_mla:
            rule = f"{layers} layers x (latent {self.kv_lora_rank} + rope key {self.qk_rope_head_dim}) (MLA)"
        else:
            rule = (
                f"2 x {layers} layers x {self.kv_heads} KV heads ({self.attention_kind}) x "
                f"d_head {self.head_dim}"
            )
        if self.windowed_layers:
            rule += f"; {self.windowed_layers} layers hold at most a {self.sliding_window}-token window"
        return rule

    def cross_kv_cache_elements_per_token(self, *, tp: Any = 1) -> Any:
        """Cross-attention KV-cache elements per *source* token (encoder-decoder models; 0 otherwise).

        Every decoder layer caches K and V of the encoder's output: 2 x kv_heads x d_head per source token.
        """
        if self.arch != "encoder-decoder":
            return 0.0
        import numpy as np

        heads = np.maximum(self.kv_heads / np.asarray(tp, dtype=float), 1.0)
        per_token = 2.0 * self.decoder_layers * heads * self.head_dim
        return float(per_token) if np.ndim(per_token) == 0 else per_token

    # ------------------------------------------------------------------------------------ per block
    def norm_params(self, width: int | None = None) -> int:
        """One norm over ``width`` (default d_model): scale and bias, a scale only, or nothing (OLMo)."""
        width = self.d_model if width is None else width
        return {"layernorm": 2 * width, "nonparametric": 0}.get(self.norm, width)

    def attention_params(self) -> int:
        """One attention block (self- or cross-attention): its projections, biases and QK-norm scales."""
        if self.is_mla:
            return self._mla_params()
        d, q, kv = self.d_model, self.d_attn, self.d_kv
        weights = d * q + 2 * d * kv + q * d
        biases = (q + 2 * kv if self.qkv_bias else 0) + (d if self.out_bias else 0)
        # QK-norm scales (no bias in any released family): per head width, or over all heads
        qk_norm = {"none": 0, "head": 2 * self.head_dim, "full": q + kv}[self.qk_norm]
        return weights + biases + qk_norm

    def _mla_params(self) -> int:
        # DeepSeek-V2 (Bi et al. 2024, §2.1): one named term per projection, as the released checkpoints hold
        d, h, dh, dv, rope = (
            self.d_model,
            self.n_head,
            self.head_dim,
            self.value_head_dim,
            self.qk_rope_head_dim,
        )
        q_rank, kv_rank = self.q_lora_rank, self.kv_lora_rank
        q = (
            (d * q_rank + q_rank + q_rank * h * dh) if q_rank else d * h * dh
        )  # W_DQ, its RMSNorm, W_UQ (or W_Q)
        kv_down = (
            d * (kv_rank + rope) + kv_rank
        )  # W_DKV with the shared rotary key W_KR, the latent's RMSNorm
        kv_up = kv_rank * h * (dh - rope + dv)  # W_UK (the no-rope part of each key) and W_UV
        out = h * dv * d  # W_O
        biases = ((q_rank + kv_rank + rope) if self.qkv_bias else 0) + (d if self.out_bias else 0)
        return q + kv_down + kv_up + out + biases

    def ffn_params(self, width: int | None = None) -> int:
        """One feed-forward network of ``width`` (default d_ff): 2 or 3 (gated) matrices and their biases."""
        d, f = self.d_model, self.ffn_dim if width is None else width
        matrices = 3 if self.gated_ffn else 2
        biases = ((2 if self.gated_ffn else 1) * f + d) if self.mlp_bias else 0
        return matrices * d * f + biases

    def expert_params(self) -> int:
        """One feed-forward network: a routed expert in a MoE model, the FFN otherwise."""
        return self.ffn_params(self.expert_ffn_dim)

    def mlp_params(self, active: bool = False) -> int:
        """One MoE layer's feed-forward block (all routed experts, or the active ones, plus router and shared
        expert), or a dense model's FFN."""
        if not self.is_moe:
            return self.ffn_params()
        experts = self.top_k if active else self.n_experts
        shared = (self.ffn_params(self.d_ff_shared) if self.d_ff_shared else 0) + (
            self.d_model if self.shared_expert_gate else 0
        )
        return experts * self.expert_params() + self.d_model * self.n_experts + shared

    def _relative_xl_params(self) -> int:
        # Transformer-XL relative position projection W_R (d x d) and the u, v biases (2*d).
        return self.d_model * self.d_model + 2 * self.d_model if self.position == "relative-xl" else 0

    def _layer_params(self, mlp: int, *, cross: bool) -> int:
        if cross:  # an encoder-decoder's decoder layer: self- and cross-attention, three norms
            return 2 * self.attention_params() + mlp + 3 * self.norm_params()
        return (
            self.attention_params()
            + mlp
            + self.norms_per_layer * self.norm_params()
            + self._relative_xl_params()
        )

    def encoder_layer_params(self, active: bool = False) -> int:
        return self._layer_params(self.mlp_params(active), cross=False)

    def decoder_layer_params(self, active: bool = False) -> int:
        """A decoder layer (a MoE layer in a MoE model); in an encoder-decoder model it also holds
        cross-attention and a third norm."""
        return self._layer_params(self.mlp_params(active), cross=self.arch == "encoder-decoder")

    def layers_params(self, active: bool = False) -> int:
        """All layers of all stacks: MoE layers and the ``dense_layers`` with a dense FFN."""
        dense = (
            self._layer_params(self.ffn_params(), cross=self.arch == "encoder-decoder")
            if self.dense_layers
            else 0
        )
        return (
            self.encoder_layers * self.encoder_layer_params(active)
            + (self.decoder_layers - self.dense_layers) * self.decoder_layer_params(active)
            + self.dense_layers * dense
        )

    def ffn_weights_per_layer(self, active: bool = True) -> float:
        """Feed-forward weight-matrix entries per layer, averaged over the layers: what a token multiplies by
        (``active``: the top-k routed experts and the shared expert; else all experts). Twice this is the
        FFN's forward FLOPs per token per layer (Hoffmann et al. 2022, App. F),
        for dense layers and MoE alike."""
        matrices = 3 if self.gated_ffn else 2
        if not self.is_moe:
            return float(matrices * self.d_model * self.ffn_dim)
        experts = self.top_k if active else self.n_experts
        moe = matrices * self.d_model * (experts * self.expert_ffn_dim + self.d_ff_shared)
        dense = matrices * self.d_model * self.ffn_dim
        return (self.moe_layers * moe + self.dense_layers * dense) / self.total_layers

    def attention_weights(self) -> int:
        """Attention projection weight-matrix entries (Q, K, V, O; MLA's down- and up-projections): twice this
        is the projections' forward FLOPs per token (the scores and values come on top)."""
        if not self.is_mla:
            return 2 * self.d_model * self.d_attn + 2 * self.d_model * self.d_kv
        biases_and_norms = (
            self.q_lora_rank
            + self.kv_lora_rank
            + (self.q_lora_rank + self.kv_lora_rank + self.qk_rope_head_dim if self.qkv_bias else 0)
            + (self.d_model if self.out_bias else 0)
        )
        return self._mla_params() - biases_and_norms

    @property
    def routed_expert_params(self) -> int:
        """Parameters of all routed experts in all layers (what expert parallelism divides); 0 if dense."""
        return self.moe_layers * self.n_experts * self.expert_params() if self.is_moe else 0

    # ------------------------------------------------------------------------------------- totals
    def param_breakdown(self, active: bool = False) -> dict[str, int]:
        """Parameters by named term. ``active=True`` counts only the experts a token uses (MoE)."""
        d, v, e = self.d_model, self.vocab_size, self.embed_dim
        stacks = (1 if self.encoder_layers else 0) + (1 if self.decoder_layers else 0)
        positions = (self.n_positions or self.n_ctx) * d * stacks if self.position == "learned" else 0
        norms = (
            (stacks if self.final_norm else 0) + (stacks if self.embedding_norm else 0)
        ) * self.norm_params()
        relative = self.relative_buckets * self.n_head * stacks if self.position == "relative" else 0
        return {
            "token_embedding": v * e,
            "position_embedding": positions,
            "token_type_embedding": self.token_types * d,
            "embedding_projection": 2 * e * d if e != d else 0,  # OPT: project_in and project_out, no bias
            "layers": self.layers_params(active),
            "final_norms": norms,
            "relative_attention_bias": relative,
            "pooler": d * d + d if self.pooler else 0,
            "lm_head": (0 if self.tied_embeddings else v * e) + (v if self.lm_head_bias else 0),
        }

    @property
    def params(self) -> int:
        """Total parameters, embeddings included (Chinchilla's convention)."""
        return sum(self.param_breakdown().values())

    @property
    def embedding_params(self) -> int:
        """Token, position and token-type embeddings plus an untied LM head."""
        b = self.param_breakdown()
        lm_head_weights = 0 if self.tied_embeddings else self.vocab_size * self.embed_dim
        return b["token_embedding"] + b["position_embedding"] + b["token_type_embedding"] + lm_head_weights

    @property
    def params_non_embedding(self) -> int:
        """Kaplan et al. 2020's N: the total less the embeddings (and an untied LM head)."""
        return self.params - self.embedding_params

    @property
    def top_k(self) -> int:
        """The routed experts a token uses (``experts_per_token``), what every active count and FLOP count
        reads; refused when it was not given, as transformers' own DeepSeek-V2 config leaves it (null)."""
        if self.experts_per_token is None:
            raise ScalingError(
                f"model {self.name!r} gives no top-k (num_experts_per_tok: the routed experts a token "
                f"uses, of {self.n_experts}): its total, {self.params:,} parameters, is exact, but the "
                "active count and the FLOPs need top-k; set num_experts_per_tok in its config"
            )
        return self.experts_per_token

    @property
    def active_params(self) -> int:
        """Parameters used per token: the total for dense models; for MoE the top-k routed experts, the
        shared expert, the router and everything outside the experts."""
        return sum(self.param_breakdown(active=True).values())

    @property
    def active_params_non_embedding(self) -> int:
        return self.active_params - self.embedding_params

    @property
    def largest_layer_params(self) -> int:
        """The largest single weight tensor's parameter count (DeepSpeed's ``largest_layer_params``)."""
        d = self.d_model
        candidates = [
            self.vocab_size * self.embed_dim,
            d * self.d_attn,
            d * self.ffn_dim,
            (self.n_positions or self.n_ctx) * d,
        ]
        return max(candidates)

    # ------------------------------------------------------------------------------------- output
    def describe(self) -> str:
        kind = {"decoder": "decoder-only", "encoder": "encoder-only", "encoder-decoder": "encoder-decoder"}[
            self.arch
        ]
        layers = (
            f"{self.n_encoder_layer}+{self.n_layer} layers"
            if self.arch == "encoder-decoder"
            else f"{self.n_layer} layers"
        )
        attention = f"{self.attention_kind}, d_head {self.head_dim}"
        if self.is_mla:
            attention += f", latent {self.kv_lora_rank} + rope {self.qk_rope_head_dim}"
        if self.qk_norm != "none":
            attention += ", QK-norm"
        if self.position == "rope" and self.rotary_fraction < 1:
            attention += f", rotary on {self.rotary_fraction:.0%} of d_head"
        if self.sliding_window:
            attention += f", window {self.sliding_window} on {self.windowed_layers} layers"
        ffn = f"{'gated ' if self.gated_ffn else ''}FFN {self.ffn_dim}"
        if self.is_moe:
            top_k = "top-k not given" if self.experts_per_token is None else self.experts_per_token
            ffn += f", MoE {top_k}/{self.n_experts} experts of {self.expert_ffn_dim}"
            ffn += f" + shared {self.d_ff_shared}" if self.d_ff_shared else ""
            ffn += f", first {self.dense_layers} layers dense" if self.dense_layers else ""
        block = ", parallel block" if self.parallel_block else ""
        block += f", {self.norm_placement}-norm" if self.norm_placement != "pre" else ""
        return (
            f"{kind}, {layers}, d_model {self.d_model}, {self.n_head} heads ({attention}), {ffn}{block}, "
            f"vocab {self.vocab_size}, context {self.n_ctx}"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        out["assumptions"] = list(self.assumptions)
        out.update(
            n_kv_head=self.kv_heads,
            d_head=self.head_dim,
            d_ff=self.ffn_dim,
            attention_kind=self.attention_kind,
            params=self.params,
            params_non_embedding=self.params_non_embedding,
            active_params=None if self.experts_per_token is None else self.active_params,
            kv_cache_elements_per_token=self.kv_cache_elements_per_token(),
        )
        return out

    def with_(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)
