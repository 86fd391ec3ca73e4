"""What the runs say about their loss: its unit, the tokenizer and vocabulary, and the training context.
One law has one unit, so runs that mix them are refused."""

from __future__ import annotations

from typing import Any

from scaling.errors import ScalingError
from scaling.runs_table.columns import positive_number
from scaling.units import LOSS_UNITS

BYTE_TOKENIZERS = ("bytes", "byte", "utf-8 bytes")


def loss_metadata(frame: Any) -> dict[str, Any]:
    """The loss unit, tokenizer, vocabulary and context the runs state (``loss_unit``, ``tokenizer``,
    ``vocab_size``, ``seq_len`` columns; a byte-level tokenizer means nats/byte and 256 symbols). Raises
    `ScalingError` when the runs mix them: one law has one unit."""
    found: dict[str, Any] = {}
    for column in ("loss_unit", "tokenizer", "vocab_size"):
        if column in getattr(frame, "columns", ()):
            values = {str(v).strip() for v in frame[column].dropna() if str(v).strip() and str(v) != "nan"}
            if len(values) > 1:
                raise ScalingError(f"the runs mix {column} values {sorted(values)}: fit each kind apart")
            if values:
                found[column] = values.pop()
    byte_level = found.get("tokenizer", "").lower() in BYTE_TOKENIZERS
    unit = found.get("loss_unit") or ("nats/byte" if byte_level else "nats/token")
    if unit not in LOSS_UNITS:
        raise ScalingError(f"unknown loss_unit {unit!r} in the runs: expected one of {', '.join(LOSS_UNITS)}")
    vocab = found.get("vocab_size") or (256 if byte_level else None)
    vocab = int(float(vocab)) if vocab is not None and positive_number(vocab) else None
    return {
        "loss_unit": unit,
        "tokenizer": found.get("tokenizer"),
        "vocab_size": vocab,
        "seq_len": _context(frame),
    }


def _context(frame: Any) -> int | None:
    """The runs' training context (``seq_len`` column) when they share one: a plan from their law trains
    at it."""
    if "seq_len" not in getattr(frame, "columns", ()):
        return None
    values = {int(float(v)) for v in frame["seq_len"].dropna() if positive_number(v)}
    return values.pop() if len(values) == 1 else None
