"""What one device computes on: the training micro-batch and sequence, or the inference batch and context,
with the attention kernel, recomputation and LoRA adapters (`Workload`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from scaling import checks
from scaling.memory.activations import MASK_BYTES, recompute_name
from scaling.model import ModelSpec

LORA_TARGETS = ("q", "k", "v", "o", "gate", "up", "down")
LORA_ALIASES = {"query": "q", "key": "k", "value": "v", "out": "o"}
MAX_TOKENS = 10**12  # per sequence or per batch; far beyond any context window, keeps byte counts finite


def parse_lora_targets(targets: tuple[str, ...] | str, spec: ModelSpec | None = None) -> tuple[str, ...]:
    """LoRA target modules from names (``q_proj``, ``all-linear``...); ``gate`` only for a gated FFN."""
    if isinstance(targets, str):
        targets = tuple(t for t in targets.replace(";", ",").split(",") if t.strip())
    names: list[str] = []
    for t in targets:
        key = t.strip().lower().removesuffix("_proj")
        if key in ("all", "all-linear", "all_linear"):
            names.extend(LORA_TARGETS)
            continue
        names.append(checks.choice(key, LORA_TARGETS, "LoRA target", aliases=LORA_ALIASES))
    return tuple(dict.fromkeys(n for n in names if n != "gate" or spec is None or spec.gated_ffn))


def _tokens(value: Any, what: str, *, allow_zero: bool = False) -> int:
    return int(checks.at_most(checks.positive_int(value, what, allow_zero=allow_zero), MAX_TOKENS, what))


@dataclass(frozen=True)
class Workload:
    """Training: ``micro_batch`` sequences of ``seq_len`` tokens (default the model's context), optionally a
    ``global_batch`` in sequences, with ``recompute`` and ``flash_attention`` (on by default: fused kernels,
    PyTorch SDPA's default; off is Korthikanti et al. 2022's baseline). Inference: ``batch`` sequences of
    ``context`` tokens (``source_len`` for encoder-decoder). Fine-tuning:
    ``lora_rank`` and ``lora_targets``."""

    micro_batch: int = 1
    seq_len: int | None = None
    global_batch: int | None = None
    recompute: str = "none"
    flash_attention: bool = True
    dropout: bool = True
    mask_bytes: float = MASK_BYTES
    batch: int = 1
    context: int | None = None
    source_len: int | None = None
    lora_rank: int | None = None
    lora_targets: tuple[str, ...] = ("q", "k", "v", "o")

    @classmethod
    def of(
        cls,
        *,
        micro_batch: Any = 1,
        seq_len: Any = None,
        global_batch: Any = None,
        recompute: str = "none",
        flash_attention: bool = True,
        dropout: bool = True,
        mask_bytes: float = MASK_BYTES,
        batch: Any = 1,
        context: Any = None,
        source_len: Any = None,
        lora_rank: Any = None,
        lora_targets: tuple[str, ...] | str = ("q", "k", "v", "o"),
    ) -> Workload:
        """A checked `Workload`: whole numbers of tokens and sequences (``micro_batch=0``: model
        states only)."""
        optional = {"seq_len": seq_len, "context": context, "source_len": source_len}
        return cls(
            micro_batch=_tokens(micro_batch, "micro-batch size", allow_zero=True),
            global_batch=None if global_batch is None else _tokens(global_batch, "global batch"),
            recompute=recompute_name(recompute),
            flash_attention=bool(flash_attention),
            dropout=bool(dropout),
            mask_bytes=float(checks.positive(mask_bytes, "dropout mask bytes", allow_zero=True)),
            batch=_tokens(batch, "batch", allow_zero=True),
            lora_rank=None if lora_rank in (None, 0) else checks.positive_int(lora_rank, "LoRA rank"),
            lora_targets=parse_lora_targets(lora_targets),
            **{k: None if v is None else _tokens(v, k.replace("_", " ")) for k, v in optional.items()},
        )

    def seq(self, spec: ModelSpec) -> int:
        """The training sequence length: as given, else the model's context."""
        return int(self.seq_len if self.seq_len is not None else spec.n_ctx)

    def ctx(self, spec: ModelSpec) -> int:
        """The inference context: as given, else the model's context."""
        return int(self.context if self.context is not None else spec.n_ctx)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lora_targets": list(self.lora_targets)}
