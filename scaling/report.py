"""A self-contained HTML report of a plan: its tables and the optimal-zone chart with the plan marked."""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path
from typing import Any

_STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 1.6rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5rem 0; }
td, th { padding: 0.2rem 0.8rem; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.warn { color: #8a3b00; } .small { color: #555; font-size: 0.9rem; }
"""


def _table(rows: list[list[str]], header: list[str] | None = None, numeric_from: int = 1) -> str:
    out = ["<table>"]
    if header:
        out.append(
            "<tr>" + "".join(f"<th class='{'num' if i >= numeric_from else ''}'>{html.escape(h)}</th>" for i, h in enumerate(header)) + "</tr>"
        )
    for row in rows:
        out.append(
            "<tr>" + "".join(f"<td class='{'num' if i >= numeric_from and header else ''}'>{html.escape(str(c))}</td>" for i, c in enumerate(row)) + "</tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def plan_report_html(plan: Any, *, include_plotlyjs: bool | str = True) -> str:
    """The report as one HTML string (plotly.js inlined by default, so it works offline)."""
    import plotly.io as pio

    from scaling.charts import zone_figure
    from scaling.plan import comparison_rows, plan_sections

    marker = {"params": plan.spec.params, "tokens": plan.tokens, "flops": plan.budget_flops, "name": f"this plan ({plan.spec.name})"}
    laws = ["chinchilla-a1", "chinchilla-a2", "chinchilla", "kaplan", "epoch"]
    fitted = None
    if plan.law.name not in laws:
        if getattr(plan.law, "replicates", None) is not None:
            fitted = plan.law
        else:
            laws.append(plan.law.name)
    figure = zone_figure(laws=tuple(laws), plan=marker, fitted=fitted)
    figure.update_layout(height=650)
    chart = pio.to_html(figure, include_plotlyjs=include_plotlyjs, full_html=False, div_id="optimal-zone")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Training plan</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Training plan</h1>",
        f"<p class='small'>{html.escape(plan.spec.describe())}</p>",
    ]
    for title, rows in plan_sections(plan):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(_table([[label.strip(), value] for label, value in rows]))
    parts.append("<h2>Comparisons at this budget</h2>")
    parts.append(_table(comparison_rows(plan), ["", "params", "tokens", "tokens/param", "loss (this law)"]))
    parts.append("<h2>The optimal zone</h2>")
    parts.append(chart)
    if plan.warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li class='warn'>{html.escape(w)}</li>" for w in plan.warnings) + "</ul>")
    parts.append("<h2>Assumptions</h2><ul>" + "".join(f"<li>{html.escape(a)}</li>" for a in plan.assumptions) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_plan_report(plan: Any, path: str | Path) -> Path:
    """Write the report atomically (a temporary file renamed into place)."""
    path = Path(path)
    text = plan_report_html(plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    return path
