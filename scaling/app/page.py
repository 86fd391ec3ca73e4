"""The page of `scaling app`: three views (plan, memory, runs) built from Dash components.

Field ids are ``plan-<flag>`` and ``memory-<flag>`` with the CLI's flag names, each followed by an
``...-error`` line where a message about that field appears. Tables come from `scaling.render.Table`
(the same tables the CLI prints), turned into HTML elements by `table_component`.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from scaling.app.views import (
    DEFAULT_MEMORY,
    MAX_UPLOAD_BYTES,
    MEMORY_FIELDS,
    MEMORY_OPTIONS,
    PLAN_FIELDS,
    PLAN_OPTIONS,
)
from scaling.charts.optimal_zone import ZONE_SIZE
from scaling.render import Table

STYLE = {
    "page": {
        "fontFamily": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
        "margin": "0 auto",
        "maxWidth": "1500px",
        "padding": "0 1rem",
        "color": "#222",
    },
    "form": {"width": "300px", "flex": "0 0 300px", "paddingRight": "1rem"},
    "out": {"flex": "1 1 auto", "minWidth": "0"},
    "row": {"display": "flex", "alignItems": "flex-start"},
    "error": {"color": "#a33000", "fontSize": "0.85rem", "minHeight": "0"},
    "label": {"fontSize": "0.85rem", "color": "#444", "display": "block", "marginTop": "0.45rem"},
    "input": {"width": "100%", "boxSizing": "border-box"},
    "table": {"borderCollapse": "collapse", "margin": "0.4rem 0 1rem 0", "fontSize": "0.9rem"},
    "cell": {"padding": "0.15rem 0.45rem", "borderBottom": "1px solid #eee", "verticalAlign": "top"},
    "upload": {
        "border": "1px dashed #999",
        "padding": "0.5rem",
        "textAlign": "center",
        "fontSize": "0.85rem",
        "cursor": "pointer",
        "marginTop": "0.5rem",
    },
}

# The memory charts' titles run the width of their narrow plots, where Plotly's toolbar would cover them; the
# chart has nothing to zoom, and `scaling memory --chart` writes it as a file.
MEMORY_GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False}


# Each field's label and placeholder: its option's flag and example (`scaling.options`).
PLAN_HELP = {name: (option.flag, option.placeholder) for name, option in PLAN_OPTIONS.items()}
MEMORY_CHOICES = {
    "mode": list(MEMORY_OPTIONS["mode"].choices),
    "precision": ["bf16", "fp16", "fp32", "fp8", "tf32"],
    "zero": ["0", "1", "2", "3"],
    "recompute": ["none", "selective", "full"],
    "quant": ["", "int8", "int4", "nf4", "fp8"],
    "sp": ["", "yes"],
}
SUMMARY = (  # (key of Plan.to_dict(), label)
    ("params", "parameters N"),
    ("tokens", "tokens D"),
    ("tokens_per_param", "tokens per parameter"),
    ("loss", "predicted loss"),
    ("days", "days"),
    ("gpu_hours", "device-hours"),
    ("cost_usd", "cost (USD)"),
)


def table_component(table: Table) -> html.Div:
    """A `scaling.render.Table` as HTML elements: the same cells, alignment and notes as its text form."""

    def cell(tag: Any, text: str, column: int) -> Any:
        align = (
            "left"
            if table.align[column : column + 1] == "l" or (not table.align and column == 0)
            else "right"
        )
        return tag(text, style={**STYLE["cell"], "textAlign": align})

    head = [html.Tr([cell(html.Th, h, i) for i, h in enumerate(table.headers)])] if table.headers else []
    body = [html.Tr([cell(html.Td, c, i) for i, c in enumerate(row)]) for row in table.rows]
    parts: list[Any] = [html.H4(table.title)] if table.title else []
    parts.append(html.Table(head + body, style=STYLE["table"]))
    if table.notes:
        parts.append(html.Ul([html.Li(n, style={"fontSize": "0.85rem"}) for n in table.notes]))
    return html.Div(parts, className="scaling-table", style={"overflowX": "auto"})


def _field(prefix: str, name: str, control: Any, label: str, hint: str = "") -> html.Div:
    return html.Div(
        [
            html.Label(
                [html.Code(label), html.Span(f"  {hint}" if hint else "", style={"color": "#777"})],
                htmlFor=f"{prefix}-{name}",
                style=STYLE["label"],
            ),
            control,
            html.Div(id=f"{prefix}-{name}-error", className="field-error", style=STYLE["error"]),
        ]
    )


def plan_form(laws: list[str], accelerators: list[str]) -> html.Div:
    """Inputs for every budget form ``scaling plan`` accepts, by flag name; the accelerator menu fills in the
    accelerator part of ``--gpus``."""
    fields = []
    for name in PLAN_FIELDS:
        flag, hint = PLAN_HELP[name]
        if name == "gpus":
            fields.append(
                html.Div(
                    [
                        html.Label("accelerator (catalog)", htmlFor="plan-accelerator", style=STYLE["label"]),
                        dcc.Dropdown(
                            id="plan-accelerator",
                            options=accelerators,
                            clearable=True,
                            placeholder="pick one to set it in --gpus",
                        ),
                    ]
                )
            )
        if name == "law":
            control = dcc.Dropdown(id="plan-law", options=laws, value="chinchilla", clearable=False)
        else:
            control = dcc.Input(
                id=f"plan-{name}", type="text", debounce=0.3, placeholder=hint, style=STYLE["input"]
            )
        fields.append(_field("plan", name, control, flag, "" if name != "law" else "preset or uploaded"))
    fields.append(
        dcc.Upload(
            id="plan-law-upload",
            children=html.Span("Upload a law file (scaling fit -o law.json)"),
            max_size=MAX_UPLOAD_BYTES,
            style=STYLE["upload"],
        )
    )
    fields.append(html.Div(id="plan-law-upload-error", style=STYLE["error"]))
    fields.append(
        dcc.Upload(
            id="plan-calibration-upload",
            children=html.Span("Upload a calibration (scaling calibrate -o mycluster.json)"),
            max_size=MAX_UPLOAD_BYTES,
            style=STYLE["upload"],
        )
    )
    fields.append(html.Div(id="plan-calibration-upload-error", style=STYLE["error"]))
    return html.Div(fields, style=STYLE["form"])


def plan_outputs() -> html.Div:
    buttons = [
        html.Button(
            f"Download {kind}", id=f"plan-download-{kind.lower()}-button", style={"marginRight": "0.5rem"}
        )
        for kind in ("JSON", "Markdown", "HTML")
    ]
    return html.Div(
        [
            html.Div(id="plan-error", style=STYLE["error"]),
            html.Div(
                [
                    html.A("link to this plan", id="plan-link", href=""),
                    html.Code(id="plan-command", style={"marginLeft": "1rem"}),
                ]
            ),
            html.Div(id="plan-summary"),
            html.Div(id="plan-warnings"),
            html.Div(buttons + [dcc.Download(id="plan-download")], style={"margin": "0.5rem 0"}),
            # The zone fills the column's width; its labels are placed for a narrowest width (charts.ZONE_SIZE),
            # below which its own box scrolls sideways instead of the page.
            html.Div(
                dcc.Graph(
                    id="plan-zone",
                    config={"displaylogo": False, "responsive": True},
                    style={"height": f"{ZONE_SIZE[1]}px", "minWidth": f"{ZONE_SIZE[0]}px"},
                ),
                style={"overflowX": "auto"},
            ),
            # one bar needs little width; the layouts table under it gets the column's whole width for its
            # fifteen columns
            dcc.Graph(
                id="plan-memory", config=MEMORY_GRAPH_CONFIG, style={"height": "520px", "maxWidth": "520px"}
            ),
            html.Div(id="plan-layouts"),
            html.Div(id="plan-tables"),
        ],
        style=STYLE["out"],
    )


def summary_component(plan_dict: dict[str, Any]) -> html.Table:
    """The headline numbers; each cell carries its exact value (``data-value``, base units) beside the text."""
    from scaling import units

    text = {
        "params": units.format_count,
        "tokens": units.format_count,
        "gpu_hours": lambda v: f"{v:,.0f}",
        "tokens_per_param": lambda v: f"{v:.1f}",
        "loss": lambda v: f"{v:.4f}",
        "days": lambda v: f"{v:.1f}",
        "cost_usd": units.format_usd,
    }
    rows = []
    for key, label in SUMMARY:
        value = plan_dict.get(key)
        shown = "n/a" if value is None else text[key](value)
        rows.append(
            html.Tr(
                [
                    html.Td(label, style=STYLE["cell"]),
                    html.Td(
                        shown,
                        id=f"plan-value-{key}",
                        style={**STYLE["cell"], "textAlign": "right"},
                        **{"data-value": "" if value is None else repr(float(value))},
                    ),
                ]
            )
        )
    return html.Table(rows, style=STYLE["table"])


def memory_default(name: str) -> str:
    """A memory field's value before anyone types: `DEFAULT_MEMORY`, else a dropdown's first choice, else empty."""
    return DEFAULT_MEMORY.get(name, MEMORY_CHOICES[name][0] if name in MEMORY_CHOICES else "")


RUNS_BOOTSTRAP = 200  # resamples for a fit's intervals before anyone types


def runs_default(name: str) -> Any:
    """A runs field's value before anyone types."""
    return {"bootstrap": RUNS_BOOTSTRAP}[name]


def memory_form(models: list[str]) -> html.Div:
    fields = []
    for name in MEMORY_FIELDS:
        if name == "model":
            control = dcc.Dropdown(
                id="memory-model", options=models, value=memory_default(name), clearable=False
            )
        elif name in MEMORY_CHOICES:
            control = dcc.Dropdown(
                id=f"memory-{name}", options=MEMORY_CHOICES[name], clearable=False, value=memory_default(name)
            )
        else:
            control = dcc.Input(
                id=f"memory-{name}",
                type="text",
                debounce=0.3,
                style=STYLE["input"],
                value=memory_default(name),
            )
        fields.append(_field("memory", name, control, MEMORY_OPTIONS[name].flag))
    fields.append(
        dcc.Upload(
            id="memory-config-upload",
            children=html.Span("Upload a config.json"),
            max_size=MAX_UPLOAD_BYTES,
            style=STYLE["upload"],
        )
    )
    fields.append(html.Div(id="memory-config-upload-error", style=STYLE["error"]))
    return html.Div(fields, style=STYLE["form"])


def memory_outputs() -> html.Div:
    return html.Div(
        [
            html.Div(id="memory-error", style=STYLE["error"]),
            html.Code(id="memory-command"),
            dcc.Graph(id="memory-chart", config=MEMORY_GRAPH_CONFIG, style={"height": "520px"}),
            html.Div(id="memory-table"),
            html.Button("Search layouts (train)", id="memory-search-button"),
            html.Div(id="memory-layouts"),
        ],
        style=STYLE["out"],
    )


def runs_page(runs_dir: str | None) -> html.Div:
    preset = (
        [html.Button(f"Fit the runs in {runs_dir}", id="runs-dir-button")]
        if runs_dir
        else [html.Button("", id="runs-dir-button", style={"display": "none"})]
    )
    return html.Div(
        [
            html.Div(
                [
                    dcc.Upload(
                        id="runs-upload",
                        children=html.Span("Upload a runs table (runs.csv: N, D, loss, ...)"),
                        max_size=MAX_UPLOAD_BYTES,
                        style=STYLE["upload"],
                    ),
                    *preset,
                    html.Label(
                        [html.Code("--bootstrap"), " resamples for the intervals"], style=STYLE["label"]
                    ),
                    dcc.Input(
                        id="runs-bootstrap",
                        type="number",
                        value=RUNS_BOOTSTRAP,
                        min=0,
                        max=2000,
                        step=1,
                        style=STYLE["input"],
                    ),
                    html.Div(id="runs-error", style=STYLE["error"]),
                    html.Button(
                        "Use this law in the plan",
                        id="runs-use-law",
                        disabled=True,
                        style={"marginTop": "1rem"},
                    ),
                    dcc.Store(id="runs-law-name"),
                ],
                style=STYLE["form"],
            ),
            html.Div(
                [
                    html.Div(id="runs-summary"),
                    html.Div(id="runs-warnings"),
                    dcc.Graph(id="runs-isoflop", config={"displaylogo": False}),
                    dcc.Graph(id="runs-frontier", config={"displaylogo": False}),
                    dcc.Graph(id="runs-diagnostics", config={"displaylogo": False}),
                ],
                style=STYLE["out"],
            ),
        ],
        style=STYLE["row"],
    )


def layout(laws: list[str], models: list[str], accelerators: list[str], runs_dir: str | None) -> html.Div:
    """The whole page: a URL, three tabs, and the stores the callbacks share."""
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="plan-query"),
            dcc.Store(id="memory-query"),
            dcc.Store(id="runs-query"),
            html.Div(id="url-writer", style={"display": "none"}),
            html.H2("scaling: plan a training run", style={"margin": "0.6rem 0"}),
            dcc.Tabs(
                id="tabs",
                value="plan",
                children=[
                    dcc.Tab(
                        label="Plan",
                        value="plan",
                        children=html.Div(
                            [plan_form(laws, accelerators), plan_outputs()], style=STYLE["row"]
                        ),
                    ),
                    dcc.Tab(
                        label="Memory",
                        value="memory",
                        children=html.Div([memory_form(models), memory_outputs()], style=STYLE["row"]),
                    ),
                    dcc.Tab(label="Runs and fits", value="runs", children=runs_page(runs_dir)),
                ],
            ),
        ],
        style=STYLE["page"],
    )
