"""The callbacks of `scaling app`: each one reads fields, calls a view of `scaling.app.views` and fills the page.

Every callback is a plain function of its inputs (`plan_outputs`, `memory_outputs`, `fit_outputs`...), so
the tests call them directly and compare what they return with the library's own results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dash import Input, Output, State, ctx, html, no_update

from scaling.app import page
from scaling.app.views import (
    CALIBRATION_PREFIX,
    DEFAULT_PLAN,
    MEMORY_FIELDS,
    PLAN_FIELDS,
    RUNS_FIELDS,
    Shelf,
    calibration_from_upload,
    command_line,
    config_from_upload,
    decode_upload,
    fields_from_query,
    law_from_upload,
    memory_query,
    memory_view,
    plan_view,
    runs_from_upload,
    runs_query,
    runs_view,
    view_of_query,
    with_accelerator,
)
from scaling.charts.export import RESPONSIVE_FUNCTION
from scaling.errors import ScalingError
from scaling.layout import layouts_table
from scaling.options import LAW

EMPTY_FIGURE = page.EMPTY_FIGURE
PLAN_INPUTS = [Input(f"plan-{name}", "value") for name in PLAN_FIELDS]
PLAN_STATES = [State(f"plan-{name}", "value") for name in PLAN_FIELDS]
MEMORY_INPUTS = [Input(f"memory-{name}", "value") for name in MEMORY_FIELDS]


def _errors(names: tuple[str, ...], message: str | None, where: str | None) -> list[str]:
    """One message line per field: the message next to the field it names, nothing next to the others."""
    return [message if message and name == where else "" for name in names]


# ============================================================================================== plan
def memory_from_url(search: str | None) -> list[Any]:
    """The memory view's fields and the tab for a link: a memory link (``?view=memory&model=...``) fills the
    fields (the defaults where it is silent) and opens its tab; any other link changes nothing here."""
    if view_of_query(search or "") != "memory":
        return [no_update] * (len(MEMORY_FIELDS) + 1)
    fields = fields_from_query(search or "", MEMORY_FIELDS)
    return [*(fields.get(name, page.memory_default(name)) for name in MEMORY_FIELDS), "memory"]


def runs_from_url(search: str | None) -> list[Any]:
    """The runs view's fields and the tab for a runs link (``?view=runs&bootstrap=50``); any other link
    changes nothing here."""
    if view_of_query(search or "") != "runs":
        return [no_update] * (len(RUNS_FIELDS) + 1)
    fields = fields_from_query(search or "", RUNS_FIELDS)
    return [*(fields.get(name, page.runs_default(name)) for name in RUNS_FIELDS), "runs"]


def plan_from_url(search: str | None) -> list[str | None]:
    """The plan fields a link carries (the defaults for a bare link); a field it leaves out is empty (a menu
    then shows its option's default)."""
    fields = fields_from_query(search or "") or dict(DEFAULT_PLAN)
    return [fields.get(name, LAW.default if name == "law" else None) for name in PLAN_FIELDS]


def plan_outputs(values: list[Any], shelf: Shelf) -> tuple:
    """Everything the plan view shows for these field values (in `PLAN_FIELDS` order)."""
    view = plan_view(dict(zip(PLAN_FIELDS, values)), shelf)
    field_errors = _errors(PLAN_FIELDS, view.error, view.error_field)
    general = view.error if view.error and view.error_field is None else ""
    link, command = view.query or "?", command_line(view.fields)
    if view.plan is None:
        return ("", "", EMPTY_FIGURE, EMPTY_FIGURE, "", "", general, view.query, link, command, *field_errors)
    plan = view.plan
    warnings = html.Ul(
        [html.Li(w, className="plan-warning", style={"color": "#8a3b00"}) for w in plan.warnings]
    )
    layouts = (
        page.table_component(layouts_table(view.layouts))
        if view.layouts is not None and len(view.layouts)
        else html.P("No layout of this cluster fits the model.")
    )
    tables = [page.table_component(t) for t in view.tables]
    memory = view.figures.get("memory", EMPTY_FIGURE)
    return (
        page.summary_component(plan.to_dict()),
        warnings,
        view.figures["zone"],
        memory,
        layouts,
        tables,
        general,
        view.query,
        link,
        command,
        *field_errors,
    )


def plan_download(kind: str, values: list[Any], shelf: Shelf) -> dict[str, Any]:
    """The plan as the CLI writes it: ``--json``, ``--markdown`` or the ``--html`` report."""
    from scaling import charts
    from scaling.charts.plan_report import plan_report_html
    from scaling.plan import plan_markdown
    from scaling.render import json_safe

    view = plan_view(dict(zip(PLAN_FIELDS, values)), shelf)
    if view.plan is None:
        raise ScalingError(view.error or "no plan to download")
    if kind == "json":
        return {
            "content": json.dumps(json_safe(view.plan.to_dict()), indent=2, allow_nan=False),
            "filename": "plan.json",
        }
    if kind == "markdown":
        return {"content": plan_markdown(view.plan), "filename": "plan.md"}
    return {"content": plan_report_html(view.plan, charts.zone_figure), "filename": "plan.html"}


def use_law(
    contents: str | None, filename: str | None, fitted: str | None, shelf: Shelf, trigger: str | None
) -> tuple:
    """A law uploaded in the plan view, or the law just fitted in the runs view, selected in the plan."""
    from scaling.laws import list_laws

    options = lambda: [law.name for law in list_laws()] + shelf.names()  # noqa: E731
    if trigger == "runs-use-law":
        if not fitted:
            return no_update, no_update, no_update, "fit a runs table first"
        return options(), fitted, "plan", ""
    try:
        data = decode_upload(contents or "", filename or "law.json")
        law = law_from_upload(data, filename or "law.json")
    except ScalingError as exc:
        return no_update, no_update, no_update, str(exc)
    name = shelf.put(f"upload:{Path(filename or 'law').stem}", law)
    return options(), name, "plan", ""


def use_calibration(
    contents: str | None, filename: str | None, shelf: Shelf, field: str | None = None
) -> tuple[Any, str]:
    """An uploaded calibration put on the shelf and named in the plan's --calibration field (or the error):
    the field holds one training (or probe) and one serving calibration; an upload replaces its own kind's."""
    name = Path(filename or "calibration.json").name
    try:
        cal = calibration_from_upload(decode_upload(contents or "", name), name)
    except ScalingError as exc:
        return no_update, str(exc)
    return shelf.add_calibration(f"{CALIBRATION_PREFIX}{name}", cal, field or ""), ""


# ============================================================================================ memory
def memory_outputs(values: list[Any], configs: dict[str, Any]) -> tuple:
    fields = dict(zip(MEMORY_FIELDS, values))
    view = memory_view(fields, configs)
    field_errors = _errors(MEMORY_FIELDS, view.error, view.error_field)
    general = view.error if view.error and view.error_field is None else ""
    command = command_line(view.fields, "memory", MEMORY_FIELDS)
    link = memory_query(fields)
    if view.breakdown is None:
        return (EMPTY_FIGURE, "", general, command, link, *field_errors)
    tables = [page.table_component(t) for t in view.tables]
    return (view.figures["memory"], tables, general, command, link, *field_errors)


def memory_search(values: list[Any], configs: dict[str, Any]) -> Any:
    """The layout search for the memory view's model and cluster (`scaling memory --search`)."""
    from scaling.app.views import memory_request_of
    from scaling.layout import default_global_batch_for, search_layouts

    try:
        request = memory_request_of(dict(zip(MEMORY_FIELDS, values)), configs)
        if request.cluster.accelerator is None:
            raise ScalingError("the layout search needs an accelerator in --gpus, e.g. 64xH100")
        df = search_layouts(
            request.model,
            cluster=request.cluster,
            workload=request.workload,
            precision=request.precision,
            batch_tokens=default_global_batch_for(request.model).tokens,
            top=10,
        )
    except ScalingError as exc:
        return html.P(str(exc), style=page.STYLE["error"])
    if df.empty:
        return html.P("No layout fits; try more devices, a smaller micro-batch or sequence.")
    return page.table_component(layouts_table(df))


def add_config(contents: str | None, filename: str | None, configs: dict[str, Any]) -> tuple:
    try:
        spec = config_from_upload(
            decode_upload(contents or "", filename or "config.json"), filename or "config.json"
        )
    except ScalingError as exc:
        return no_update, no_update, str(exc)
    name = f"upload:{spec.name}"
    configs[name] = spec
    return sorted(configs) + _preset_names(), name, ""


def _preset_names() -> list[str]:
    from scaling.model import presets

    return [p.name for p in presets()]


# ============================================================================================== runs
def fit_outputs(source: Any, name: str, bootstrap: Any, shelf: Shelf) -> tuple:
    """``scaling fit --approach all`` on a runs table or sweep folder; the Approach 3 law goes on the shelf
    for the plan view."""
    from scaling import checks

    try:
        resamples = checks.positive_int(
            bootstrap if bootstrap not in (None, "") else 0, "--bootstrap", allow_zero=True
        )
    except ScalingError as exc:
        return ("", "", EMPTY_FIGURE, EMPTY_FIGURE, EMPTY_FIGURE, str(exc), None, True)
    view = runs_view(source, name, bootstrap=min(resamples, 2000))
    figures = [view.figures.get(k, EMPTY_FIGURE) for k in ("isoflop", "frontier", "diagnostics")]
    notes = " ".join(note for table in view.tables for note in table.notes)  # said once: under its table
    warnings = html.Ul([html.Li(w, className="fit-warning") for w in view.warnings if w not in notes])
    tables = [page.table_component(t) for t in view.tables]
    if view.law is None:
        return (tables, warnings, *figures, view.error or "", None, True)
    law_name = shelf.put(f"fit:{name}", view.law)
    return (tables, warnings, *figures, "", law_name, False)


def read_uploaded_runs(contents: str | None, filename: str | None) -> Any:
    return runs_from_upload(decode_upload(contents or "", filename or "runs.csv"), filename or "runs.csv")


def _shown(figures: Any) -> list[dict[str, str]]:
    """The runs charts' boxes: shown for a drawn figure, hidden for none (`page.RUNS_CHART_HIDDEN`)."""
    drawn = [figure is not EMPTY_FIGURE for figure in figures] or [False] * len(page.RUNS_CHARTS)
    return [page.RUNS_CHART if shown else page.RUNS_CHART_HIDDEN for shown in drawn]


# ============================================================================================ wiring
def register(app: Any, shelf: Shelf, configs: dict[str, Any], runs_dir: Path | None) -> None:
    """Connect the page's inputs to the functions above."""
    plan_errors = [Output(f"plan-{name}-error", "children") for name in PLAN_FIELDS]
    app.callback([Output(f"plan-{name}", "value") for name in PLAN_FIELDS], Input("url", "search"))(
        lambda search: plan_from_url(search)
    )
    app.callback(
        [
            Output("plan-summary", "children"),
            Output("plan-warnings", "children"),
            Output("plan-zone", "figure"),
            Output("plan-memory", "figure"),
            Output("plan-layouts", "children"),
            Output("plan-tables", "children"),
            Output("plan-error", "children"),
            Output("plan-query", "data"),
            Output("plan-link", "href"),
            Output("plan-command", "children"),
            *plan_errors,
        ],
        PLAN_INPUTS,
    )(lambda *values: plan_outputs(list(values), shelf))
    app.callback(
        Output("plan-gpus", "value", allow_duplicate=True),
        Input("plan-accelerator", "value"),
        State("plan-gpus", "value"),
        prevent_initial_call=True,
    )(lambda accelerator, gpus: with_accelerator(gpus, accelerator) if accelerator else no_update)
    _register_page_scripts(app)

    @app.callback(
        Output("plan-download", "data"),
        [Input(f"plan-download-{k}-button", "n_clicks") for k in ("json", "markdown", "html")],
        PLAN_STATES,
        prevent_initial_call=True,
    )
    def download(*args: Any) -> Any:
        kind = str(ctx.triggered_id or "").split("-")[2] if ctx.triggered_id else "json"
        try:
            return plan_download(kind, list(args[3:]), shelf)
        except ScalingError:
            return no_update

    app.callback(
        [
            Output("plan-law", "options"),
            Output("plan-law", "value", allow_duplicate=True),
            Output("tabs", "value"),
            Output("plan-law-upload-error", "children"),
        ],
        [Input("plan-law-upload", "contents"), Input("runs-use-law", "n_clicks")],
        [State("plan-law-upload", "filename"), State("runs-law-name", "data")],
        prevent_initial_call=True,
    )(lambda contents, _, filename, fitted: use_law(contents, filename, fitted, shelf, ctx.triggered_id))
    app.callback(
        [Output("plan-calibration", "value"), Output("plan-calibration-upload-error", "children")],
        Input("plan-calibration-upload", "contents"),
        [State("plan-calibration-upload", "filename"), State("plan-calibration", "value")],
        prevent_initial_call=True,
    )(lambda contents, filename, field: use_calibration(contents, filename, shelf, field))
    _register_memory(app, configs)
    _register_runs(app, shelf, runs_dir)


def _register_page_scripts(app: Any) -> None:
    """The browser-side callbacks: the zone's responsive labels and the address bar of the open view."""
    # The zone's labels for its width (`charts.export.RESPONSIVE_FUNCTION`), attached once the graph has drawn
    # (again when the plan's tab is shown: the tab draws it anew).
    app.clientside_callback(
        "function (figure, tab) { var tries = 0; var attach = function () {"
        " var gd = document.querySelector('#plan-zone .js-plotly-plot');"
        " if (gd && gd.layout && gd.on) { (" + RESPONSIVE_FUNCTION + ")(gd); gd._responsive(); }"
        " else if (tries++ < 200) { setTimeout(attach, 50); } }; attach(); return ''; }",
        Output("plan-zone-responsive", "children"),
        [Input("plan-zone", "figure"), Input("tabs", "value")],
    )
    # The address bar follows the open view: the plan's link, the memory view's or the runs view's.
    app.clientside_callback(
        "function(plan, memory, runs, tab) { var q = tab === 'memory' ? memory : tab === 'runs' ? runs : plan; "
        "if (q !== null && q !== undefined) { window.history.replaceState(null, '', "
        "window.location.pathname + (q || '')); } return ''; }",
        Output("url-writer", "children"),
        [
            Input("plan-query", "data"),
            Input("memory-query", "data"),
            Input("runs-query", "data"),
            Input("tabs", "value"),
        ],
    )


def _register_memory(app: Any, configs: dict[str, Any]) -> None:
    memory_errors = [Output(f"memory-{name}-error", "children") for name in MEMORY_FIELDS]
    app.callback(
        [
            Output("memory-chart", "figure"),
            Output("memory-table", "children"),
            Output("memory-error", "children"),
            Output("memory-command", "children"),
            Output("memory-query", "data"),
            *memory_errors,
        ],
        MEMORY_INPUTS,
    )(lambda *values: memory_outputs(list(values), configs))
    app.callback(
        [
            *(Output(f"memory-{name}", "value", allow_duplicate=True) for name in MEMORY_FIELDS),
            Output("tabs", "value", allow_duplicate=True),
        ],
        Input("url", "search"),
        prevent_initial_call="initial_duplicate",
    )(memory_from_url)
    app.callback(
        Output("memory-layouts", "children"),
        Input("memory-search-button", "n_clicks"),
        [State(f"memory-{name}", "value") for name in MEMORY_FIELDS],
        prevent_initial_call=True,
    )(lambda _, *values: memory_search(list(values), configs))
    app.callback(
        [
            Output("memory-model", "options"),
            Output("memory-model", "value"),
            Output("memory-config-upload-error", "children"),
        ],
        Input("memory-config-upload", "contents"),
        State("memory-config-upload", "filename"),
        prevent_initial_call=True,
    )(lambda contents, filename: add_config(contents, filename, configs))


def _register_runs(app: Any, shelf: Shelf, runs_dir: Path | None) -> None:
    app.callback(Output("runs-query", "data"), [Input(f"runs-{name}", "value") for name in RUNS_FIELDS])(
        lambda *values: runs_query(dict(zip(RUNS_FIELDS, values)))
    )
    app.callback(
        [
            *(Output(f"runs-{name}", "value", allow_duplicate=True) for name in RUNS_FIELDS),
            Output("tabs", "value", allow_duplicate=True),
        ],
        Input("url", "search"),
        prevent_initial_call="initial_duplicate",
    )(runs_from_url)

    @app.callback(
        [
            Output("runs-summary", "children"),
            Output("runs-warnings", "children"),
            Output("runs-isoflop", "figure"),
            Output("runs-frontier", "figure"),
            Output("runs-diagnostics", "figure"),
            Output("runs-error", "children"),
            Output("runs-law-name", "data"),
            Output("runs-use-law", "disabled"),
            *(Output(f"runs-{chart}", "style") for chart in page.RUNS_CHARTS),
        ],
        [Input("runs-upload", "contents"), Input("runs-dir-button", "n_clicks")],
        [State("runs-upload", "filename"), State("runs-bootstrap", "value")],
        prevent_initial_call=True,
    )
    def fit(contents: str | None, _: Any, filename: str | None, bootstrap: Any) -> tuple:
        try:
            if ctx.triggered_id == "runs-dir-button" and runs_dir is not None:
                runs, name = runs_dir, runs_dir.name or "runs"  # the folder: its curves/ feed Approach 1
            else:
                runs, name = read_uploaded_runs(contents, filename), Path(filename or "runs").stem
        except ScalingError as exc:
            return ("", "", EMPTY_FIGURE, EMPTY_FIGURE, EMPTY_FIGURE, str(exc), None, True, *_shown([]))
        out = fit_outputs(runs, name, bootstrap, shelf)
        return (*out, *_shown(out[2:5]))
