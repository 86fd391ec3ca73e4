"""Model specs: a transformer's architecture, and its exact parameter count.

One `ModelSpec` describes a decoder-only (GPT, Llama), encoder-only (BERT) or encoder-decoder (T5) transformer.
Every estimator in the package (FLOPs, memory, the training code) reads the same spec, so a model has one
parameter count everywhere. Counts are exact to the parameter for the presets in ``data/models.csv`` and for
real checkpoints' ``config.json`` (see ``scaling.model.hf_config``); the published counts they reproduce are listed
in ``tests/test_model.py``.

Counting rules, one named term each (weights are d_in x d_out, biases where the architecture has them):

* attention: Q and O are d_model x (n_head*d_head); K and V are d_model x (n_kv_head*d_head) (MHA, GQA, MQA);
* feed-forward: 2 matrices d_model x d_ff, or 3 when gated (SwiGLU / GeGLU); MoE layers hold ``n_experts``
  copies plus a d_model x n_experts router, of which ``experts_per_token`` are active per token;
* norms: LayerNorm has a scale and a bias (2*d_model), RMSNorm and bias-free LayerNorm a scale only;
* embeddings: token (vocab x d_model), learned positions, token types (BERT), and an untied LM head;
* T5's relative attention bias (heads x buckets, first layer of each stack) and Transformer-XL-style relative
  position projections (d_model^2 + 2*d_model per layer: Gopher and Chinchilla).

"Non-embedding" parameters (Kaplan et al. 2020) are the total less the token, position and token-type
embeddings and an untied LM head.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from scaling.errors import ScalingError

ARCHS = ("decoder", "encoder", "encoder-decoder")
NORMS = ("layernorm", "rmsnorm", "layernorm-nobias")
POSITIONS = ("learned", "rope", "alibi", "relative", "relative-xl", "sinusoidal", "none")


@dataclass(frozen=True)
class ModelSpec:
    """A transformer's architecture. Only ``n_layer``, ``d_model`` and ``n_head`` are required.

    For encoder-decoder models ``n_layer`` is the decoder's depth and ``n_encoder_layer`` the encoder's; for
    encoder-only models ``n_layer`` is the encoder's depth.
    """

    n_layer: int
    d_model: int
    n_head: int
    name: str = "custom"
    arch: str = "decoder"
    n_kv_head: int | None = None  # None: same as n_head (MHA); 1 is MQA; in between is GQA
    d_head: int | None = None  # None: d_model // n_head
    d_ff: int | None = None  # None: 4 * d_model
    gated_ffn: bool = False  # SwiGLU / GeGLU: three matrices instead of two
    activation: str = "gelu"
    vocab_size: int = 50257
    n_ctx: int = 2048  # training context (decoder) or source length (encoder)
    n_encoder_layer: int = 0
    position: str = "learned"
    n_positions: int | None = None  # rows of a learned position table; None: n_ctx
    relative_buckets: int = 0  # T5 relative attention buckets
    qkv_bias: bool = False
    out_bias: bool = False
    mlp_bias: bool = False
    norm: str = "layernorm"
    norms_per_layer: int = 2  # 1 for parallel blocks with a shared norm (GPT-J, Falcon-7B, PaLM)
    final_norm: bool = True
    embedding_norm: bool = False  # BERT, BLOOM
    tied_embeddings: bool = True
    lm_head_bias: bool = False
    token_types: int = 0  # BERT's segment embeddings
    pooler: bool = False  # BERT's pooler
    parallel_block: bool = False  # attention and MLP read the same input (GPT-J, PaLM, Falcon)
    n_experts: int = 1
    experts_per_token: int = 1
    sliding_window: int = 0  # tokens a sliding-window attention layer sees (Mistral, Gemma 2/3); 0: none
    sliding_layers: int | None = None  # decoder layers that use the window; None: all of them
    training_tokens: float | None = None
    source: str = ""
    family: str = ""
    aliases: tuple[str, ...] = field(default=(), compare=False)

    # ------------------------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        def bad(message: str) -> ScalingError:
            return ScalingError(f"model {self.name!r}: {message}")

        for key in ("n_layer", "d_model", "n_head", "vocab_size", "n_ctx"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise bad(f"{key} must be a positive whole number, got {value!r}")
        if self.arch not in ARCHS:
            raise bad(f"arch {self.arch!r} is not one of {', '.join(ARCHS)}")
        if self.norm not in NORMS:
            raise bad(f"norm {self.norm!r} is not one of {', '.join(NORMS)}")
        if self.position not in POSITIONS:
            raise bad(f"position {self.position!r} is not one of {', '.join(POSITIONS)}")
        if self.arch == "encoder-decoder" and self.n_encoder_layer <= 0:
            raise bad("an encoder-decoder model needs n_encoder_layer > 0")
        if self.d_head is None and self.d_model % self.n_head:
            raise bad(
                f"d_model {self.d_model} is not divisible by n_head {self.n_head}; give d_head explicitly"
            )
        kv = self.kv_heads
        if kv <= 0 or self.n_head % kv:
            raise bad(f"n_kv_head {kv} must divide n_head {self.n_head}")
        if self.n_experts < 1 or not 1 <= self.experts_per_token <= self.n_experts:
            raise bad(
                f"experts_per_token {self.experts_per_token} must be between 1 and n_experts {self.n_experts}"
            )
        if self.ffn_dim <= 0 or self.head_dim <= 0:
            raise bad("d_ff and d_head must be positive")
        if self.sliding_window < 0:
            raise bad(
                f"sliding_window must be 0 (none) or a positive number of tokens, got {self.sliding_window}"
            )
        if self.sliding_layers is not None and not 0 <= self.sliding_layers <= self.decoder_layers:
            raise bad(
                f"sliding_layers {self.sliding_layers} must be between 0 and the {self.decoder_layers} decoder layers"
            )

    # --------------------------------------------------------------------------------- derived shape
    @property
    def kv_heads(self) -> int:
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def head_dim(self) -> int:
        return self.d_head if self.d_head is not None else self.d_model // self.n_head

    @property
    def ffn_dim(self) -> int:
        return self.d_ff if self.d_ff is not None else 4 * self.d_model

    @property
    def d_attn(self) -> int:
        """Width of the attention's inner space, n_head * d_head (Kaplan's d_attn)."""
        return self.n_head * self.head_dim

    @property
    def d_kv(self) -> int:
        """Width of K (and of V): n_kv_head * d_head."""
        return self.kv_heads * self.head_dim

    @property
    def attention_kind(self) -> str:
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
    def windowed_layers(self) -> int:
        """Decoder layers whose attention sees at most ``sliding_window`` tokens."""
        if not self.sliding_window:
            return 0
        return self.decoder_layers if self.sliding_layers is None else self.sliding_layers

    # ------------------------------------------------------------------------------------- KV cache
    def kv_cache_elements_per_token(self, context: Any = None, *, tp: Any = 1) -> Any:
        """Self-attention KV-cache elements per token of a ``context``-token sequence (decoder layers).

        Each decoder layer caches K and V: 2 x kv_heads x d_head elements per token. Sliding-window layers hold
        at most ``sliding_window`` tokens, so with a longer context their share per token shrinks; ``context``
        defaults to the model's ``n_ctx``. With tensor parallelism ``tp`` each rank holds kv_heads/tp heads,
        at least one (replicated when tp > kv_heads). Encoder-only models cache nothing. Broadcasts over numpy
        arrays. Multiply by bytes per element for bytes.
        """
        import numpy as np  # only when called: importing the model stays numpy-free for the light commands

        context = np.asarray(self.n_ctx if context is None else context, dtype=float)
        heads = np.maximum(self.kv_heads / np.asarray(tp, dtype=float), 1.0)
        per_layer = 2.0 * heads * self.head_dim  # 2 = K and V
        windowed = self.windowed_layers
        held = (self.decoder_layers - windowed) * context
        if windowed:
            held = held + windowed * np.minimum(context, float(self.sliding_window))
        per_token = per_layer * held / context
        return float(per_token) if np.ndim(per_token) == 0 else per_token

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
    def _norm_params(self) -> int:
        return 2 * self.d_model if self.norm == "layernorm" else self.d_model

    def attention_params(self) -> int:
        """One attention block (self- or cross-attention): Q, K, V, O and their biases."""
        d, q, kv = self.d_model, self.d_attn, self.d_kv
        weights = d * q + 2 * d * kv + q * d
        biases = (q + 2 * kv if self.qkv_bias else 0) + (d if self.out_bias else 0)
        return weights + biases

    def expert_params(self) -> int:
        """One feed-forward network (one expert)."""
        d, f = self.d_model, self.ffn_dim
        matrices = 3 if self.gated_ffn else 2
        biases = ((2 if self.gated_ffn else 1) * f + d) if self.mlp_bias else 0
        return matrices * d * f + biases

    def mlp_params(self, active: bool = False) -> int:
        """One layer's feed-forward block: all experts (or only the active ones) plus the router."""
        if not self.is_moe:
            return self.expert_params()
        experts = self.experts_per_token if active else self.n_experts
        return experts * self.expert_params() + self.d_model * self.n_experts

    def _relative_xl_params(self) -> int:
        # Transformer-XL relative position projection W_R (d x d) and the u, v biases (2*d).
        return self.d_model * self.d_model + 2 * self.d_model if self.position == "relative-xl" else 0

    def encoder_layer_params(self, active: bool = False) -> int:
        return (
            self.attention_params()
            + self.mlp_params(active)
            + self.norms_per_layer * self._norm_params()
            + self._relative_xl_params()
        )

    def decoder_layer_params(self, active: bool = False) -> int:
        """A decoder layer; in an encoder-decoder model it also holds cross-attention and a third norm."""
        if self.arch == "encoder-decoder":
            return 2 * self.attention_params() + self.mlp_params(active) + 3 * self._norm_params()
        return self.encoder_layer_params(active)

    # ------------------------------------------------------------------------------------- totals
    def param_breakdown(self, active: bool = False) -> dict[str, int]:
        """Parameters by named term. ``active=True`` counts only the experts a token uses (MoE)."""
        d, v = self.d_model, self.vocab_size
        positions = 0
        if self.position == "learned":
            positions = (self.n_positions or self.n_ctx) * d
        stacks = (1 if self.encoder_layers else 0) + (1 if self.decoder_layers else 0)
        norms = (stacks if self.final_norm else 0) * self._norm_params()
        norms += self._norm_params() if self.embedding_norm else 0
        relative = self.relative_buckets * self.n_head * stacks if self.position == "relative" else 0
        layers = self.encoder_layers * self.encoder_layer_params(
            active
        ) + self.decoder_layers * self.decoder_layer_params(active)
        return {
            "token_embedding": v * d,
            "position_embedding": positions,
            "token_type_embedding": self.token_types * d,
            "layers": layers,
            "final_norms": norms,
            "relative_attention_bias": relative,
            "pooler": d * d + d if self.pooler else 0,
            "lm_head": (0 if self.tied_embeddings else v * d) + (v if self.lm_head_bias else 0),
        }

    @property
    def params(self) -> int:
        """Total parameters, embeddings included (Chinchilla's convention)."""
        return sum(self.param_breakdown().values())

    @property
    def embedding_params(self) -> int:
        """Token, position and token-type embeddings plus an untied LM head."""
        b = self.param_breakdown()
        lm_head_weights = 0 if self.tied_embeddings else self.vocab_size * self.d_model
        return b["token_embedding"] + b["position_embedding"] + b["token_type_embedding"] + lm_head_weights

    @property
    def params_non_embedding(self) -> int:
        """Kaplan et al. 2020's N: the total less the embeddings (and an untied LM head)."""
        return self.params - self.embedding_params

    @property
    def active_params(self) -> int:
        """Parameters used per token: the total for dense models, the top-k experts' share for MoE."""
        return sum(self.param_breakdown(active=True).values())

    @property
    def active_params_non_embedding(self) -> int:
        return self.active_params - self.embedding_params

    @property
    def largest_layer_params(self) -> int:
        """The largest single weight tensor's parameter count (DeepSpeed's ``largest_layer_params``)."""
        d = self.d_model
        candidates = [
            self.vocab_size * d,
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
        ffn = f"{'gated ' if self.gated_ffn else ''}FFN {self.ffn_dim}"
        moe = f", MoE {self.experts_per_token}/{self.n_experts}" if self.is_moe else ""
        return (
            f"{kind}, {layers}, d_model {self.d_model}, {self.n_head} heads ({self.attention_kind}, d_head "
            f"{self.head_dim}), {ffn}{moe}, vocab {self.vocab_size}, context {self.n_ctx}"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        out.update(
            n_kv_head=self.kv_heads,
            d_head=self.head_dim,
            d_ff=self.ffn_dim,
            params=self.params,
            params_non_embedding=self.params_non_embedding,
            active_params=self.active_params,
        )
        return out

    def with_(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)
