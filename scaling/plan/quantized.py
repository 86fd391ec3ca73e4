"""The plan's post-training quantization section: the loss of the plan's model, and of each serving option,
after quantizing its weights to the served precision (``--quant``), by Kumar et al. 2024's delta_PTQ from
``--precision-law`` (a preset, kumar2024 by default, or the user's file; `scaling.laws.precision`): an
over-trained model's penalty shows beside its cheaper serving."""

from __future__ import annotations

from typing import Any

from scaling.laws.precision import QuantizedLoss, quantized_loss
from scaling.render import Table
from scaling.units import format_count, format_loss


def plan_quantized(request: Any, params: float, tokens: float, loss: float | None, serving: Any) -> tuple:
    """(label, `QuantizedLoss`) for the plan's model and each serving option; empty without ``--quant``."""
    if request.post_quant is None or loss is None:
        return ()
    law = request.precision_law
    rows = [("plan", quantized_loss(law, params, tokens, request.post_quant, loss, request.law))]
    for option in serving.options if serving is not None else ():
        q = quantized_loss(law, option.params, option.tokens, request.post_quant, option.loss, request.law)
        rows.append((option.label, q))
    return tuple(rows)


def quantized_table(quantized: tuple[tuple[str, QuantizedLoss], ...]) -> Table:
    """One row per model: its tokens per parameter, loss, the penalty and the loss after quantizing."""
    first = quantized[0][1]
    law = first.law
    rows = [
        (
            label,
            format_count(q.params),
            format_count(q.tokens),
            f"{q.tokens / q.params:.3g}",
            format_loss(q.loss),
            f"+{q.penalty:.4g}",
            format_loss(q.quantized_loss),
        )
        for label, q in quantized
    ]
    headers = ("model", "params", "tokens", "tokens/param", "loss", f"{first.quant} PTQ", "loss after")
    notes = [f"delta_PTQ of Kumar et al. 2024 (arXiv 2411.04330), {law.describe()}"]
    if law.caveat:
        notes.append(law.caveat)
    outside = sum(bool(law.outside_fit(q.params, q.tokens)) for _, q in quantized)
    if outside:
        notes.append(f"{outside} of {len(quantized)} rows lie outside the law's fit range: extrapolated")
    title = (
        f"Post-training quantization to {first.quant} ({first.bits:g} bits; the serving options served at it)"
    )
    return Table(rows, headers, title=title, notes=notes)


def quantized_dicts(quantized: tuple[tuple[str, QuantizedLoss], ...]) -> list[dict[str, Any]]:
    return [{"model": label, **q.to_dict()} for label, q in quantized]
