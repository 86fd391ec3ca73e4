"""`scaling app`: every number on the page is the library's (and the CLI's ``--json``) for the same inputs.

The callbacks are plain functions (`scaling.app.callbacks`); these tests call them directly, as Dash would,
and compare what they return with the library and with the CLI run on the same flags.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

pytest.importorskip("dash")

from click.testing import CliRunner  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scaling.app import callbacks, create_app, page, views  # noqa: E402
from scaling.app.views import MEMORY_FIELDS, PLAN_FIELDS, Shelf  # noqa: E402
from scaling.cli import main  # noqa: E402
from scaling.units import GIB  # noqa: E402

PLANS = [
    "?gpus=256xH100&days=30&mfu=0.4&law=chinchilla",
    "?flops=5.76e23&law=chinchilla-a1",
    "?usd=2M&price=2.5&gpus=256xH100&law=epoch",
    "?gpu-hours=1.3M&gpus=512xA100-40GB&unique-tokens=700B",
    "?params=70B&tokens=1.4T&gpus=2048xA100-80GB",
    "?model=llama-2-7b&gpus=64xA100-80GB&days=30",
]


def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{") :])


def flags(query: str) -> list[str]:
    """The command line for a page link: the same flag names."""
    fields = views.fields_from_query(query)
    args = [fields.pop("model")] if "model" in fields else []
    for name, value in fields.items():
        args += [f"--{name}", value]
    return args


def summary_values(component) -> dict[str, float | None]:
    """The exact values (``data-value``) of the summary cells, by key."""
    out = {}
    for row in component.children:
        cell = row.children[1]
        raw = getattr(cell, "data-value")
        out[cell.id.removeprefix("plan-value-")] = float(raw) if raw else None
    return out


@pytest.fixture()
def shelf():
    return Shelf()


@pytest.mark.parametrize("query", PLANS)
def test_plan_view_numbers_are_the_cli_json(query, shelf):
    values = callbacks.plan_from_url(query)
    out = callbacks.plan_outputs(values, shelf)
    assert out[6] == "" and not any(out[10:]), (out[6], out[10:])
    shown = summary_values(out[0])
    expected = cli_json("plan", *flags(query), "--json")
    for key, value in shown.items():
        if expected[key] is None:
            assert value is None, key
        else:
            assert value == pytest.approx(expected[key], rel=1e-12), key
    # the link reproduces the plan and names the same flags as the command
    assert views.fields_from_query(out[7]) == {"law": "chinchilla", **views.fields_from_query(query)}
    assert out[8] == out[7]
    assert out[9].startswith("scaling plan") and all(
        f"--{k}" in out[9] for k in views.fields_from_query(query) if k != "model"
    )


def test_plan_view_charts_and_tables_are_the_plans(shelf):
    from scaling.plan import make_plan, plan_tables

    out = callbacks.plan_outputs(callbacks.plan_from_url(PLANS[0]), shelf)
    plan = make_plan(gpus="256xH100", days="30", mfu="0.4", law="chinchilla")
    star = next(t for t in out[2].data if t.meta and t.meta.get("kind") == "plan")
    assert star.x[0] == pytest.approx(plan.budget_flops) and star.y[0] == pytest.approx(plan.spec.params)
    bars = [t for t in out[3].data if t.type == "bar"]
    assert sum(t.y[0] for t in bars) == pytest.approx(plan.memory.total_bytes / GIB, rel=1e-12)
    rendered = [[cell.children for row in t.children[-1].children for cell in row.children] for t in out[5]]
    expected = [[c for row in t.rows for c in row] for t in plan_tables(plan)]
    assert [r[-len(e) :] for r, e in zip(rendered, expected)] == expected


def test_changing_the_device_count_changes_days_and_cost(shelf):
    values = callbacks.plan_from_url("?flops=1e23&gpus=256xH100&price=2.5")
    small = summary_values(callbacks.plan_outputs(values, shelf)[0])
    values[PLAN_FIELDS.index("gpus")] = "512xH100"
    large = summary_values(callbacks.plan_outputs(values, shelf)[0])
    # at one end-to-end MFU twice the devices take half the days for the same device-hours and dollars
    assert large["days"] == pytest.approx(0.5 * small["days"], rel=1e-9)
    assert large["cost_usd"] == pytest.approx(small["cost_usd"], rel=1e-9)


@pytest.mark.parametrize(
    "field, value", [("days", "abc"), ("mfu", "140%"), ("gpus", "256xNoSuchGPU"), ("max-params", "-3B")]
)
def test_bad_input_is_shown_next_to_its_field(field, value, shelf):
    values = callbacks.plan_from_url(PLANS[0])
    values[PLAN_FIELDS.index(field)] = value
    out = callbacks.plan_outputs(values, shelf)
    errors = dict(zip(PLAN_FIELDS, out[10:]))
    assert errors[field] and value.split("x")[-1] in errors[field], errors
    assert [k for k, v in errors.items() if v] == [field]
    fields = {**views.fields_from_query(PLANS[0]), field: value}
    args = flags(views.query_from_fields(fields))
    result = CliRunner().invoke(main, ["plan", *args])
    assert result.exit_code == 2 and errors[field] in result.output  # the CLI's own message


@pytest.mark.parametrize("law", ["/etc/passwd", "../laws.json", "data/laws.json", "nope"])
def test_the_page_cannot_name_a_server_file(law, shelf, tmp_path):
    values = callbacks.plan_from_url(PLANS[0])
    values[PLAN_FIELDS.index("law")] = law
    errors = dict(zip(PLAN_FIELDS, callbacks.plan_outputs(values, shelf)[10:]))
    assert "expected a preset or an uploaded law" in errors["law"]
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "llama"}', encoding="utf-8")
    values = callbacks.plan_from_url(PLANS[0])
    values[PLAN_FIELDS.index("model")] = str(config)
    assert callbacks.plan_outputs(values, shelf)[1] == ""  # no plan: the path is not read as a model


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(PLAN_FIELDS),
        st.text(
            alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
        )
        .map(str.strip)
        .filter(bool),
    )
)
def test_links_round_trip_any_fields(fields):
    assert views.fields_from_query(views.query_from_fields(fields)) == fields
    memory = {k: v for k, v in fields.items() if k in MEMORY_FIELDS}
    link = views.memory_query(memory)
    assert (
        views.view_of_query(link) == "memory"
        and views.view_of_query(views.query_from_fields(fields)) == "plan"
    )
    assert views.fields_from_query(link, MEMORY_FIELDS) == memory


@pytest.mark.parametrize(
    "args",
    [
        {"model": "llama-2-7b", "mode": "train", "gpus": "8xH100", "zero": "3"},
        {
            "model": "llama-2-7b",
            "mode": "train",
            "gpus": "8xH100",
            "zero": "1",
            "tp": "2",
            "recompute": "selective",
            "micro-batch": "2",
            "seq-len": "2048",
        },
        {
            "model": "llama-2-70b",
            "mode": "infer",
            "gpus": "8xH100",
            "tp": "8",
            "batch": "16",
            "context": "4096",
        },
        {"model": "llama-2-7b", "mode": "finetune", "gpus": "1xA100-80GB", "lora-rank": "16", "quant": "nf4"},
    ],
)
def test_memory_view_numbers_are_the_cli_json(args):
    values = [args.get(name, "") for name in MEMORY_FIELDS]
    figure, tables, general, command, link, *errors = callbacks.memory_outputs(values, {})
    assert general == "" and not any(errors)
    # the view's link opens the same fields, and the memory tab
    opened = callbacks.memory_from_url(link)
    assert opened[-1] == "memory" and dict(zip(MEMORY_FIELDS, opened)) == {
        name: args.get(name) or page.memory_default(name) for name in MEMORY_FIELDS
    }
    cli = [args["model"]] + [a for k, v in args.items() if k != "model" for a in (f"--{k}", v)]
    expected = cli_json("memory", *cli, "--json")
    total = sum(t.y[0] for t in figure.data if t.type == "bar")
    assert total == pytest.approx(expected["total_bytes"] / GIB, rel=1e-12)
    cells = [cell.children for row in tables[0].children[1].children for cell in row.children]
    for term in expected["terms"]:
        assert f"{term['bytes'] / GIB:,.3f}" in cells
    assert command.startswith(f"scaling memory {args['model']}")


def _data_url(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


def test_fitting_an_uploaded_runs_table_is_scaling_fit_and_feeds_the_plan(shelf, tmp_path):
    from scaling.fit import synthetic_runs

    csv = synthetic_runs("chinchilla", noise=0.005, seed=3).to_csv(index=False)
    runs = callbacks.read_uploaded_runs(_data_url(csv), "myruns.csv")
    out = callbacks.fit_outputs(runs, "myruns", 20, shelf)
    assert out[5] == "" and out[6] == "fit:myruns" and out[7] is False
    law = shelf.law("fit:myruns")
    (tmp_path / "myruns.csv").write_text(csv, encoding="utf-8")
    expected = cli_json(
        "fit", str(tmp_path / "myruns.csv"), "--approach", "all", "--bootstrap", "20", "--json"
    )
    for key in ("E", "A", "B", "alpha", "beta", "a", "b"):
        assert law.to_dict()[key] == pytest.approx(expected[key], rel=1e-12), key
    from dash import html

    cells = [
        cell.children
        for table in out[0]
        for part in table.children
        if isinstance(part, html.Table)
        for row in part.children
        for cell in row.children
    ]
    assert f"{expected['alpha']:.4g}" in cells  # alpha, as `scaling fit` prints it
    assert any(f"C^{expected['approach2']['a']:.4f}" in str(c) for c in cells)  # Approach 2 beside Approach 3
    titles = [figure.layout.title.text for figure in out[2:5]]
    assert titles[0].startswith("IsoFLOP") and titles[1].startswith("Loss frontier")
    assert titles[2].startswith("Fit diagnostics")
    # "use this law in the plan": the plan view now plans with the fitted law
    options, value, tab, error = callbacks.use_law(None, None, out[6], shelf, "runs-use-law")
    assert value == "fit:myruns" and "fit:myruns" in options and tab == "plan" and error == ""
    values = callbacks.plan_from_url("?flops=1e21")
    values[PLAN_FIELDS.index("law")] = value
    summary = summary_values(callbacks.plan_outputs(values, shelf)[0])
    assert summary["params"] > 0 and summary["loss"] == pytest.approx(
        float(law.predict(summary["params"], summary["tokens"])), rel=1e-6
    )


def test_uploads_are_data_with_a_size_limit(shelf):
    from scaling.errors import ScalingError

    big = "data:text/csv;base64," + "A" * (views.MAX_UPLOAD_BYTES * 4 // 3 + 8)
    with pytest.raises(ScalingError, match="too large"):
        views.decode_upload(big, "big.csv")
    frame = callbacks.read_uploaded_runs(_data_url("a,b\n1,2\n"), "x.csv")  # a CSV, but not of runs
    out = callbacks.fit_outputs(frame, "x", 0, shelf)
    assert "N" in out[5] and out[6] is None and out[7] is True  # the message, no law, the button stays off
    options, value, tab, error = callbacks.use_law(
        _data_url("{not json"), "law.json", None, shelf, "plan-law-upload"
    )
    assert "not JSON" in error and value is not None  # no_update: the law stays as it was


def test_downloads_are_what_the_cli_writes(shelf):
    values = callbacks.plan_from_url(PLANS[1])
    download = callbacks.plan_download("json", values, shelf)
    result = CliRunner().invoke(main, ["plan", *flags(PLANS[1]), "--json"])
    page, cli = json.loads(download["content"]), json.loads(result.output)
    # the same JSON, but for the echo of the options given (the CLI also passes its --dtype and --style defaults)
    assert {k: v for k, v in page.items() if k != "inputs"} == {k: v for k, v in cli.items() if k != "inputs"}
    assert cli["inputs"] == {**page["inputs"], "dtype": "bf16", "shape_style": "llama"}
    markdown = callbacks.plan_download("markdown", values, shelf)["content"]
    assert (
        markdown.strip() == CliRunner().invoke(main, ["plan", *flags(PLANS[1]), "--markdown"]).output.strip()
    )
    report = callbacks.plan_download("html", values, shelf)["content"]
    assert report.startswith("<!DOCTYPE html>") and "optimal-zone" in report


def test_the_page_loads_nothing_from_another_host():
    app = create_app()
    client = app.server.test_client()
    page = client.get("/").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(not re.match(r"^(https?:)?//", s) for s in sources), sources
    for source in sources:
        if source.startswith("/_dash-component-suites/"):
            assert client.get(source).status_code == 200, source
    assert app.server.config["MAX_CONTENT_LENGTH"] < 10 * views.MAX_UPLOAD_BYTES


def test_app_command_help_and_loopback_default():
    result = CliRunner().invoke(main, ["app", "--help"])
    assert result.exit_code == 0
    for flag in ("--host", "--port", "--no-browser", "--runs-dir"):
        assert flag in result.output
    assert "127.0.0.1" in result.output


@pytest.mark.parametrize(
    "gpus, accelerator, expected",
    [
        ("256xH100", "A100-80GB", "256xA100-80GB"),
        ("64x8xH100", "H200", "64x8xH200"),
        ("128", "L4", "128xL4"),
        ("", "L4", "L4"),
        ("H100", "MI300X", "MI300X"),
        ("256xH100", None, "256xH100"),
    ],
)
def test_the_accelerator_menu_keeps_the_device_count(gpus, accelerator, expected):
    from scaling.catalog import get_accelerator
    from scaling.cluster import parse_cluster

    assert views.with_accelerator(gpus, accelerator) == expected
    assert parse_cluster(expected).accelerator == get_accelerator(accelerator or "H100")


def test_a_request_beyond_the_upload_limit_is_refused():
    app = create_app(max_upload_bytes=1000)
    response = app.server.test_client().post(
        "/_dash-update-component", data=b"x" * 100_000, content_type="application/json"
    )
    assert response.status_code == 413


def test_a_law_file_that_is_not_a_preset_plans_and_draws(shelf):
    """An uploaded law (a copy of Chinchilla's under another name) is planned with and drawn on the zone."""
    from scaling.laws import get_law
    from scaling.laws.files import law_to_dict

    entry = {**law_to_dict(get_law("chinchilla")), "name": "mylaw"}
    contents = "data:application/json;base64," + base64.b64encode(json.dumps(entry).encode()).decode()
    options, value, tab, error = callbacks.use_law(contents, "mylaw.json", None, shelf, "plan-law-upload")
    assert value == "upload:mylaw" and error == ""
    values = callbacks.plan_from_url("?gpus=256xH100&days=30")
    values[PLAN_FIELDS.index("law")] = value
    out = callbacks.plan_outputs(values, shelf)
    assert out[6] == "" and not any(out[10:])
    assert any(t.meta and t.meta.get("law") == "mylaw" for t in out[2].data)
    reference = summary_values(
        callbacks.plan_outputs(callbacks.plan_from_url("?gpus=256xH100&days=30"), shelf)[0]
    )
    assert summary_values(out[0])["params"] == reference["params"]  # the same constants plan the same model


def test_the_memory_search_keeps_devices_per_node(monkeypatch):
    """``2x4xH100`` is two nodes of four: the memory view's layout search runs on that cluster (TP within a
    node of 4, the inter-node network beyond it), as ``scaling memory --search`` does."""
    import scaling.layout

    searched = []
    search = scaling.layout.search_layouts

    def spy(model, **kwargs):
        searched.append(kwargs["cluster"])
        return search(model, **kwargs)

    monkeypatch.setattr(scaling.layout, "search_layouts", spy)
    fields = {"model": "llama-2-7b", "mode": "train", "gpus": "2x4xH100", "precision": "bf16", "zero": "0"}
    callbacks.memory_search([fields.get(name, "") for name in MEMORY_FIELDS], {})
    assert [(c.devices, c.devices_per_node, c.node) for c in searched] == [(8, 4, 4)]
    cli = cli_json("memory", "llama-2-7b", "--gpus", "2x4xH100", "--search", "--json")
    assert (cli["devices"], cli["devices_per_node"]) == (8, 4)


def _components(node):
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        if hasattr(child, "to_plotly_json"):
            yield from _components(child)


def test_the_memory_charts_show_no_toolbar_over_their_titles():
    layout = create_app().layout
    graphs = {c.id: c for c in _components(layout) if type(c).__name__ == "Graph"}
    for name in ("plan-memory", "memory-chart"):
        assert graphs[name].config.get("displayModeBar") is False, name


@pytest.mark.parametrize(
    "query, expected", [("?view=runs&bootstrap=50", ["50", "runs"]), ("?view=runs", [200, "runs"])]
)
def test_a_runs_link_opens_the_runs_view_with_its_fields(query, expected):
    assert callbacks.runs_from_url(query) == expected
    assert views.runs_query({"bootstrap": 50}) == "?view=runs&bootstrap=50"
    assert views.view_of_query("?gpus=8xH100") == "plan"  # a plan link leaves the runs view alone
    assert callbacks.runs_from_url("?gpus=8xH100")[-1] is callbacks.no_update


def test_the_app_is_served_by_waitress_not_flasks_development_server(monkeypatch):
    waitress = pytest.importorskip("waitress")
    from scaling.app import serve

    served = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **options: served.update(app=app, **options))
    app = create_app()
    monkeypatch.setattr(app, "run", lambda **_: pytest.fail("Flask's development server was started"))
    serve(app, "127.0.0.1", 8050)
    assert served["app"] is app.server and (served["host"], served["port"]) == ("127.0.0.1", 8050)
