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
    MEMORY_OPTIONS,
    PLAN_OPTIONS,
)
from scaling.charts.optimal_zone import ZONE_MIN_WIDTH, ZONE_SIZE
from scaling.cluster import DEVICES_PER_NODE
from scaling.flops import RECOMPUTE
from scaling.memory.parallel import ZERO_STAGES
from scaling.memory.precision import PRECISIONS, QUANTS
from scaling.options import LAW, Option
from scaling.render import Table

STYLE = {
    "page": {
        "fontFamily": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
        "margin": "0 auto",
        "maxWidth": "1500px",
        "padding": "0 1rem",
        "color": "#222",
    },
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

# A view is its form beside its outputs; on a narrow window the form's fields flow in columns above the
# outputs, which keep the window's width (the zone and the layouts table need it).
NARROW_BELOW_PX = 1280
TABLE_SMALLER_BELOW_PX = 960  # the best layouts' fifteen columns take ~900 px at the tables' size
CSS = f"""
.scaling-row {{ display: flex; align-items: flex-start; }}
.scaling-form {{ flex: 0 0 300px; width: 300px; padding-right: 1rem; }}
.scaling-out {{ flex: 1 1 auto; min-width: 0; }}
@media (max-width: {NARROW_BELOW_PX - 1}px) {{
  .scaling-row {{ flex-direction: column; align-items: stretch; }}
  .scaling-form {{ flex: none; width: auto; padding: 0 0 0.8rem 0; display: grid; column-gap: 1rem;
                   grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); align-items: end; }}
}}
@media (max-width: {TABLE_SMALLER_BELOW_PX - 1}px) {{ .scaling-table table {{ font-size: 0.8rem !important; }} }}
"""


def index_string(default: str) -> str:
    """Dash's page template (``default``) with the page's stylesheet, `CSS`."""
    return default.replace("{%css%}", "{%css%}<style>" + CSS + "</style>", 1)


# A chart with nothing to show yet (an error beside the fields): no axes.
EMPTY_FIGURE: dict[str, Any] = {
    "data": [],
    "layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}},
}
# The runs view's charts are hidden until a fit draws them (`callbacks.register`), then this high.
RUNS_CHART = {"height": "480px"}
RUNS_CHART_HIDDEN = {"display": "none"}

# The memory and fit charts' titles run the width of their plots, where Plotly's toolbar would cover them; they
# zoom by dragging (a double click resets), and `scaling memory --chart` and `scaling chart` write them as files.
CHART_CONFIG = {"displaylogo": False, "displayModeBar": False}


def placeholder(option: Option) -> str:
    """An empty field's hint: its option's example (`Option.placeholder`), else its default, else ''."""
    if option.placeholder:
        return option.placeholder
    if option.is_flag:
        return "on (default)" if option.default else "off (default)"
    if option.default in (None, "", ()):
        return ""
    return (
        f"{option.default:g} (default)"
        if isinstance(option.default, float)
        else f"{option.default} (default)"
    )


# Each field's label and placeholder: its option's flag and example (`scaling.options`).
PLAN_HELP = {name: (option.flag, placeholder(option)) for name, option in PLAN_OPTIONS.items()}
# The fields offered as menus, with the values the library accepts (a menu's empty value: the option's
# default): the options' own choices, and the library's lists where the parse also takes aliases.
PLAN_CHOICES = {name: option.choices for name, option in PLAN_OPTIONS.items() if option.choices}
MEMORY_CHOICES = {
    "mode": MEMORY_OPTIONS["mode"].choices,
    "precision": PRECISIONS,
    "zero": tuple(str(stage) for stage in ZERO_STAGES),
    "recompute": RECOMPUTE,
    "quant": QUANTS,
    "sp": ("yes",),
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


SEARCHABLE_FROM = 12  # a menu longer than this takes typing to filter it (the presets, the accelerators)


def _control(prefix: str, name: str, option: Option, choices: tuple[str, ...] = (), **extra: Any) -> Any:
    """A field's control: a menu of ``choices`` (empty: the option's default) or a text box, each with its
    option's hint when empty."""
    if choices:
        return dcc.Dropdown(
            id=f"{prefix}-{name}",
            options=list(choices),
            placeholder=placeholder(option) or "not set",
            **{"clearable": True, "searchable": len(choices) > SEARCHABLE_FROM, **extra},
        )
    return dcc.Input(
        id=f"{prefix}-{name}",
        type="text",
        debounce=0.3,
        placeholder=placeholder(option),
        style=STYLE["input"],
        **extra,
    )


def plan_form(laws: list[str], accelerators: list[str], models: list[str] = ()) -> html.Div:
    """Inputs for every budget form ``scaling plan`` accepts, by flag name: menus for MODEL (the catalog's
    presets), the law and the options with choices, text boxes with an example for the rest; the accelerator
    menu fills in the accelerator part of ``--gpus``, and ``--serve-on`` suggests a node of each."""
    fields = []
    for name, option in PLAN_OPTIONS.items():
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
        hint = ""
        if name == "law":
            control = dcc.Dropdown(id="plan-law", options=laws, value=LAW.default, clearable=False)
            hint = "preset or uploaded"
        elif name == "model" and models:
            control = _control("plan", name, option, tuple(models))
        elif name == "serve-on":
            control = html.Div(
                [
                    _control("plan", name, option, list="plan-serve-on-options"),
                    html.Datalist(
                        id="plan-serve-on-options",
                        children=[html.Option(value=f"{DEVICES_PER_NODE}x{a}") for a in accelerators],
                    ),
                ]
            )
        else:
            control = _control("plan", name, option, PLAN_CHOICES.get(name, ()))
        fields.append(_field("plan", name, control, option.flag, hint))
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
            children=html.Span(
                "Upload a calibration (scaling calibrate -o mycluster.json): one training and one serving"
            ),
            max_size=MAX_UPLOAD_BYTES,
            style=STYLE["upload"],
        )
    )
    fields.append(html.Div(id="plan-calibration-upload-error", style=STYLE["error"]))
    return html.Div(fields, className="scaling-form")


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
            # The zone fills the column's width, its labels placed for it (wide ones from ZONE_SIZE's width,
            # narrow ones below, swapped in by the page: `callbacks.register`); below its narrowest width its
            # own box scrolls sideways instead of the page.
            html.Div(
                dcc.Graph(
                    id="plan-zone",
                    config={"displaylogo": False, "responsive": True},
                    style={"height": f"{ZONE_SIZE[1]}px", "minWidth": f"{ZONE_MIN_WIDTH}px"},
                ),
                style={"overflowX": "auto"},
            ),
            html.Div(id="plan-zone-responsive", style={"display": "none"}),
            # one bar needs little width; the layouts table under it gets the column's whole width for its
            # fifteen columns
            dcc.Graph(id="plan-memory", config=CHART_CONFIG, style={"height": "520px", "maxWidth": "520px"}),
            html.Div(id="plan-layouts"),
            html.Div(id="plan-tables"),
        ],
        className="scaling-out",
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


def memory_default(name: str) -> str | None:
    """A memory field's value before anyone types: `DEFAULT_MEMORY`, else a menu's default (its option's),
    else None (an empty field, showing its hint)."""
    option = MEMORY_OPTIONS[name]
    if name in DEFAULT_MEMORY:
        return DEFAULT_MEMORY[name]
    return str(option.default) if name in MEMORY_CHOICES and option.default not in (None, False) else None


RUNS_CHARTS = ("isoflop", "frontier", "diagnostics")
RUNS_BOOTSTRAP = 200  # resamples for a fit's intervals before anyone types


def runs_default(name: str) -> Any:
    """A runs field's value before anyone types."""
    return {"bootstrap": RUNS_BOOTSTRAP}[name]


def memory_form(models: list[str]) -> html.Div:
    fields = []
    for name, option in MEMORY_OPTIONS.items():
        value = memory_default(name)
        if name == "model":
            control = dcc.Dropdown(id="memory-model", options=models, value=value, clearable=False)
        else:
            choices = MEMORY_CHOICES.get(name, ())
            control = _control(
                "memory",
                name,
                option,
                choices,
                value=value,
                **({"clearable": False} if choices and value else {}),
            )
        fields.append(_field("memory", name, control, option.flag))
    fields.append(
        dcc.Upload(
            id="memory-config-upload",
            children=html.Span("Upload a config.json"),
            max_size=MAX_UPLOAD_BYTES,
            style=STYLE["upload"],
        )
    )
    fields.append(html.Div(id="memory-config-upload-error", style=STYLE["error"]))
    return html.Div(fields, className="scaling-form")


def memory_outputs() -> html.Div:
    return html.Div(
        [
            html.Div(id="memory-error", style=STYLE["error"]),
            html.Code(id="memory-command"),
            dcc.Graph(id="memory-chart", config=CHART_CONFIG, style={"height": "520px"}),
            html.Div(id="memory-table"),
            html.Button("Search layouts (train)", id="memory-search-button"),
            html.Div(id="memory-layouts"),
        ],
        className="scaling-out",
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
                    html.Div(
                        [
                            html.Label(
                                [html.Code("--bootstrap"), " resamples for the intervals"],
                                htmlFor="runs-bootstrap",
                                style=STYLE["label"],
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
                        ]
                    ),
                    html.Button(
                        "Use this law in the plan",
                        id="runs-use-law",
                        disabled=True,
                        style={"marginTop": "1rem"},
                    ),
                    dcc.Store(id="runs-law-name"),
                ],
                className="scaling-form",
            ),
            html.Div(
                [
                    html.Div(
                        html.P(
                            "Upload a runs table, or fit the sweep's, to see the fitted law, its IsoFLOP "
                            "profiles, loss frontier and diagnostics.",
                            style={"color": "#555"},
                        ),
                        id="runs-summary",
                    ),
                    html.Div(id="runs-warnings"),
                    *(
                        dcc.Graph(id=f"runs-{chart}", config=CHART_CONFIG, style=RUNS_CHART_HIDDEN)
                        for chart in RUNS_CHARTS
                    ),
                ],
                className="scaling-out",
            ),
        ],
        className="scaling-row",
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
                            [plan_form(laws, accelerators, models), plan_outputs()], className="scaling-row"
                        ),
                    ),
                    dcc.Tab(
                        label="Memory",
                        value="memory",
                        children=html.Div([memory_form(models), memory_outputs()], className="scaling-row"),
                    ),
                    dcc.Tab(label="Runs and fits", value="runs", children=runs_page(runs_dir)),
                ],
            ),
        ],
        style=STYLE["page"],
    )
