"""Numbers and hover text as the charts write them: compute in FLOPs with PF-days beside it, a model's or a
run's hover card, long text wrapped for a hover box."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scaling import units


def pf_days(flops: float) -> str:
    days = flops / units.PF_DAY_FLOPS
    return (
        f"{days:.3g} PF-days" if days < 1e5 else f"{days:.3e} PF-days".replace("e+0", "e").replace("e+", "e")
    )


def compute_text(flops: float) -> str:
    return f"{units.format_flops(flops)} ({pf_days(flops)})"


def budget_label(flops: float) -> str:
    return f"C = {units.format_flops(flops)}"


def model_hover(m: Mapping[str, Any]) -> str:
    lines = [
        f"<b>{m.get('name', '')}</b>",
        f"parameters: {units.format_count(m['params'])}"
        + (f" in total, {units.format_count(m['active_params'])} active" if m.get("active_params") else ""),
        f"tokens: {units.format_count(m['tokens'])}",
        f"compute: {compute_text(m['flops'])}" + (f", {m['flops_method']}" if m.get("flops_method") else ""),
        f"tokens per parameter: {m['tokens'] / (m.get('active_params') or m['params']):.3g}"
        + (" active" if m.get("active_params") else ""),
    ]
    extra = ", ".join(str(m[k]) for k in ("organisation", "year") if m.get(k))
    if extra:
        lines.append(extra)
    if m.get("source"):
        lines.append(f"source: {_wrap(str(m['source']))}")
    return "<br>".join(lines)


def run_hover(rows) -> list[str]:
    return [
        f"<b>run</b><br>C = {compute_text(c)}<br>N = {units.format_count(n)}<br>D = {units.format_count(d)}"
        f"<br>tokens per parameter = {d / n:.3g}<br>loss = {v:.4f}"
        for c, n, d, v in zip(rows["C"], rows["N"], rows["D"], rows["loss"])
    ]


def _wrap(text: str, width: int = 70) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>  ".join(lines)
