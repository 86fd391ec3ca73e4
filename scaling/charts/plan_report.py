"""A self-contained HTML report of a plan: its tables and the optimal-zone chart with the plan marked.

The caller passes the chart function (``scaling.charts.zone_figure``). ``scaling.charts`` does not import this
module: import it on its own (``from scaling.charts.plan_report import write_plan_report``).
"""

from __future__ import annotations

import html
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scaling import units
from scaling.laws import COMPARISON_LAWS
from scaling.plan import Plan, plan_html

_STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 1.6rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5rem 0; }
td, th { padding: 0.2rem 0.8rem; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.small { color: #555; font-size: 0.9rem; }
"""


def zone_arguments(plan: Plan) -> dict[str, Any]:
    """What the optimal-zone chart needs to show this plan: the comparison laws (plus the plan's own, or
    the plan's fitted law with its interval band) and the plan's point."""
    laws = list(COMPARISON_LAWS)
    fitted = None
    if plan.law.name not in laws:
        if getattr(plan.law, "replicates", None) is not None:
            fitted = plan.law
        else:
            laws.append(plan.law)  # the law itself: a law file need not be a preset name
    marker = {
        "params": plan.spec.params,
        "tokens": plan.tokens,
        "flops": plan.budget_flops,
        "name": f"this plan ({_plan_size(plan)})",
    }
    return {"laws": tuple(laws), "plan": marker, "fitted": fitted}


def _plan_size(plan: Plan) -> str:
    """The plan's model as the plan prints it: its parameters rounded by `units.format_count` (a shape the
    plan chose is named after its target size, which the shape rule rounds), after a preset's name."""
    size = units.format_count(plan.spec.params)
    return size if plan.spec.name.startswith("plan-") else f"{plan.spec.name}, {size}"


def plan_report_html(
    plan: Plan, zone_figure: Callable[..., Any], *, include_plotlyjs: bool | str = True
) -> str:
    """The report as one HTML string (plotly.js inlined by default, so it works offline)."""
    import plotly.io as pio

    from scaling.charts.export import RESPONSIVE_JS

    figure = zone_figure(**zone_arguments(plan))
    chart = pio.to_html(
        figure,
        include_plotlyjs=include_plotlyjs,
        full_html=False,
        div_id="optimal-zone",
        post_script=RESPONSIVE_JS,
    )
    return "\n".join(
        [
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Training plan</title>",
            f"<style>{_STYLE}</style></head><body>",
            "<h1>Training plan</h1>",
            f"<p class='small'>{html.escape(plan.spec.describe())}</p>",
            plan_html(plan),
            "<h2>The optimal zone</h2>",
            chart,
            "</body></html>",
        ]
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_plan_report(plan: Plan, path: str | Path, zone_figure: Callable[..., Any]) -> Path:
    """Write the report atomically (a temporary file renamed into place). The caller checks the path first
    (`scaling.checks.output_path`: no overwrite without --force)."""
    path = Path(path)
    text = plan_report_html(plan, zone_figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:200]}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
