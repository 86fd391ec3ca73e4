"""One question, one answer: the commands agree with each other and with the library, over many inputs.

Property-based (hypothesis) over models x clusters x options. Each property is one of the rules the plan
and the commands promise: the plan's time is its step model and its MFU follows from that time; its loss is
the law's under the plan's own constraints; 6·N·D of an allocation is its budget; each warning appears
once; the plan's memory and FLOPs are the estimators' own; a chart's data is its command's numbers.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaling.cli import main
from scaling.flops import six_nd, training_flops
from scaling.laws import COMPARISON_LAWS, get_law
from scaling.plan import make_plan
from scaling.units import GIB

CLUSTERS = ("8xH100", "64xA100-80GB", "512xH100", "16xA100-40GB", "256xH100")
PLAN_SETTINGS = settings(
    max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@st.composite
def plans(draw):
    """Plan options: a budget of each kind, a cluster, a law, data and size limits, an MFU."""
    budget = draw(st.sampled_from(("flops", "days", "gpu_hours", "model")))
    options = {
        "gpus": draw(st.sampled_from(CLUSTERS)),
        "law": draw(st.sampled_from(("chinchilla", "epoch", "chinchilla-a1"))),
        "mfu": draw(st.sampled_from((0.3, 0.4, 0.5))),
    }
    if budget == "flops":
        options["flops"] = 10 ** draw(st.floats(20.0, 24.5))
    elif budget == "days":
        options["days"] = draw(st.sampled_from((1, 7, 30, 90)))
    elif budget == "gpu_hours":
        options["gpu_hours"] = 10 ** draw(st.floats(3.0, 6.5))
    else:
        options["model"] = draw(st.sampled_from(("llama-2-7b", "llama-2-13b", "gpt3-175b")))
        options["tokens"] = 10 ** draw(st.floats(10.5, 12.5))
    if draw(st.booleans()):
        options["unique_tokens"] = draw(st.sampled_from((5e10, 3e11, 1e12)))
    if budget != "model" and draw(st.booleans()):
        options["max_params"] = draw(st.sampled_from((1e9, 8e9)))
    return options


@PLAN_SETTINGS
@given(options=plans())
def test_plan_time_step_model_and_mfu_agree(options):
    plan = make_plan(**options)
    step, cost = plan.step, plan.cost
    assert cost.seconds == pytest.approx(step.steps * step.step_seconds, rel=1e-9)
    assert step.steps == pytest.approx(plan.tokens / plan.global_batch_tokens, rel=1e-12)
    peak = plan.accelerator.peak(plan.dtype)
    # one MFU: the plan's, its cost's and the one its time implies are the same number
    assert plan.mfu == cost.mfu
    assert plan.training.flops / (plan.devices * peak * cost.seconds) == pytest.approx(plan.mfu, rel=1e-9)
    assert step.hfu <= 1.0
    if plan.layout is not None:
        assert step.step_seconds == pytest.approx(plan.layout["step_s"], rel=1e-9)
        assert plan.layout["mfu"] == plan.mfu  # the layout search's own MFU
        assert step.hfu == pytest.approx(plan.layout["hfu"], rel=1e-9)
        assert step.max_mfu == plan.layout["max_mfu"]
    if "days" in options:
        assert cost.days == pytest.approx(options["days"], rel=1e-9)
    if "gpu_hours" in options:
        assert cost.gpu_hours == pytest.approx(options["gpu_hours"], rel=1e-9)


@PLAN_SETTINGS
@given(options=plans())
def test_plan_numbers_are_the_estimators_own(options):
    plan = make_plan(**options)
    law = get_law(options["law"])
    # 6·N·D of the plan's model is its budget (C = 6ND, the laws' convention)
    assert float(six_nd(plan.spec.params, plan.tokens)) == pytest.approx(plan.budget_flops, rel=1e-9)
    assert plan.training.flops == training_flops(plan.spec, plan.tokens, convention="6nd").flops
    exact = training_flops(plan.spec, plan.tokens, convention="exact", seq_len=plan.seq_len)
    assert plan.training_exact.flops == exact.flops
    # the loss is the law's under the plan's own unique-token limit, never below the optimum it planned at
    unique = options.get("unique_tokens")
    if law.has_loss:
        assert plan.loss == pytest.approx(
            float(law.predict(plan.spec.params, plan.tokens, unique_tokens=unique))
        )
        if law.kind == "parametric" and unique is None and "model" not in options:
            assert plan.loss >= float(law.loss_opt(plan.budget_flops)) - 1e-9
    # limits are limits, and each warning is said once
    if "max_params" in options:
        assert plan.spec.params <= options["max_params"]
    assert len(plan.warnings) == len(set(plan.warnings))
    assert sum("epochs over" in w for w in plan.warnings) <= 1
    if plan.layout is not None:
        assert plan.memory.total_bytes == pytest.approx(plan.layout["total_bytes"], rel=1e-9)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(law=st.sampled_from(COMPARISON_LAWS), log_flops=st.floats(18.0, 27.0))
def test_every_allocation_spends_its_budget(law, log_flops):
    allocation = get_law(law).optimal(10**log_flops)
    assert float(six_nd(allocation.params, allocation.tokens)) == pytest.approx(10**log_flops, rel=1e-9)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    law=st.sampled_from(("chinchilla", "epoch", "chinchilla-a1", "llama3")), log_flops=st.floats(19.0, 26.0)
)
def test_optimal_command_is_the_law(law, log_flops):
    budget = f"{10**log_flops:.6e}"
    result = CliRunner().invoke(main, ["optimal", "--budget", budget, "--law", law, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    allocation = get_law(law).optimal(float(budget))
    assert data["params"] == pytest.approx(float(allocation.params), rel=1e-12)
    assert data["tokens"] == pytest.approx(float(allocation.tokens), rel=1e-12)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    model=st.sampled_from(("llama-2-7b", "gpt3-175b", "mixtral-8x7b", "t5-11b")),
    tokens=st.sampled_from(("300B", "1.4T", "2T")),
    convention=st.sampled_from(("6nd", "exact", "kaplan", "6nd-nonembedding")),
)
def test_flops_command_is_training_flops(model, tokens, convention):
    from scaling.model import load_model
    from scaling.units import parse_count

    result = CliRunner().invoke(
        main, ["flops", model, "--tokens", tokens, "--convention", convention, "--json"]
    )
    assert result.exit_code == 0, result.output
    expected = training_flops(load_model(model), parse_count(tokens), convention=convention)
    assert json.loads(result.stdout)["flops"] == pytest.approx(expected.flops, rel=1e-12)


@pytest.mark.parametrize("model, gpus", [("llama-2-7b", "8xH100"), ("llama-2-13b", "8xA100-80GB")])
def test_memory_chart_is_the_memory_command(model, gpus, tmp_path, monkeypatch):
    # The chart's bar for ZeRO-z is `scaling memory MODEL --mode train --gpus G --zero z` (same defaults).
    figure = _captured_figure(["chart", "memory", model, "--gpus", gpus], tmp_path, monkeypatch)
    totals = next(t for t in figure.data if (t.meta or {}).get("kind") == "totals")
    for label, gib in zip(totals.x, totals.y):
        zero = label.split("-")[-1]
        cli = CliRunner().invoke(
            main, ["memory", model, "--mode", "train", "--gpus", gpus, "--zero", zero, "--json"]
        )
        assert cli.exit_code == 0, cli.output
        assert gib == pytest.approx(json.loads(cli.stdout)["total_bytes"] / GIB, rel=1e-9), label


def test_plan_html_marks_the_plans_own_point(tmp_path):
    from scaling.charts.plan_report import zone_arguments

    plan = make_plan(flops=1e23, gpus="64xH100")
    marker = zone_arguments(plan)["plan"]
    assert (marker["params"], marker["tokens"], marker["flops"]) == (
        plan.spec.params,
        plan.tokens,
        plan.budget_flops,
    )
    assert math.isclose(float(six_nd(marker["params"], marker["tokens"])), marker["flops"], rel_tol=1e-9)


def _captured_figure(args, tmp_path, monkeypatch):
    """Run a chart command and return the figure it would have saved."""
    from scaling import charts

    captured = {}

    def save(fig, path, **_kwargs):
        captured["figure"] = fig
        out = tmp_path / "chart.html"
        out.write_text("", encoding="utf-8")
        return out

    monkeypatch.setattr(charts, "save", save)
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "chart.html"), "--force"])
    assert result.exit_code == 0, result.output
    return captured["figure"]


@pytest.mark.parametrize("axis", ["params", "tokens"])
def test_zone_chart_lines_are_the_optimal_command(axis, tmp_path, monkeypatch):
    # Each law's line in `scaling chart zone` is what `scaling optimal --budget C --law L` answers
    # at its points.
    figure = _captured_figure(["chart", "zone", "--axis", axis], tmp_path, monkeypatch)
    lines = [t for t in figure.data if (t.meta or {}).get("law")]
    assert lines
    for trace in lines:
        for c, y in list(zip(trace.x, trace.y))[:: max(1, len(trace.x) // 4)]:
            result = CliRunner().invoke(
                main, ["optimal", "--budget", repr(float(c)), "--law", trace.meta["law"], "--json"]
            )
            assert result.exit_code == 0, result.output
            assert float(y) == pytest.approx(json.loads(result.stdout)[axis], rel=1e-9), (
                trace.meta["law"],
                c,
            )


def test_inference_chart_points_are_the_inference_command(tmp_path, monkeypatch):
    # Each point of `scaling chart inference` is `scaling inference` at that precision, TP and batch.
    figure = _captured_figure(["chart", "inference", "llama-2-7b", "--gpus", "8xH100"], tmp_path, monkeypatch)
    lines = [t for t in figure.data if t.meta and t.meta.get("panel") == "tpot" and "tp" in t.meta]
    assert lines
    for trace in lines:
        m = trace.meta
        dtypes = ["--precision", m["precision"]] + (["--quant", m["quant"]] if m["quant"] else [])
        dtypes += ["--kv-dtype", m["kv_dtype"]] if m["kv_dtype"] else []
        for x, y, batch in list(zip(trace.x, trace.y, m["batch"]))[:: max(1, len(trace.x) // 3)]:
            args = [
                "inference",
                "llama-2-7b",
                "--gpus",
                "8xH100",
                "--tp",
                str(m["tp"]),
                "--batch",
                str(batch),
            ]
            result = CliRunner().invoke(main, [*args, *dtypes, "--json"])
            assert result.exit_code == 0, result.output
            data = json.loads(result.stdout)
            assert float(x) == pytest.approx(data["decode_s_per_token"] * 1e3, rel=1e-9), trace.name
            assert float(y) == pytest.approx(data["tokens_per_s_per_device"], rel=1e-9), trace.name


@PLAN_SETTINGS
@given(options=plans())
def test_plan_flops_are_the_flops_command_for_its_architecture(options):
    # `scaling flops` given the plan's architecture as raw dimensions counts the same parameters and FLOPs.
    if "model" in options:
        return
    plan = make_plan(**options)
    s = plan.spec
    dims = [
        "--layers",
        s.n_layer,
        "--d-model",
        s.d_model,
        "--heads",
        s.n_head,
        "--kv-heads",
        s.kv_heads,
        "--d-ff",
        s.ffn_dim,
        "--vocab",
        s.vocab_size,
        "--gated",
        "--seq-len",
        plan.seq_len,
    ]
    for convention, expected in (("6nd", plan.training.flops), ("exact", plan.training_exact.flops)):
        args = ["flops", *map(str, dims), "--tokens", repr(plan.tokens), "--convention", convention, "--json"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["params"] == s.params
        assert data["flops"] == pytest.approx(expected, rel=1e-12)


@PLAN_SETTINGS
@given(options=plans())
def test_plan_loss_is_the_loss_command(options):
    # `scaling loss` for the plan's model, tokens and unique tokens predicts the loss the plan prints.
    plan = make_plan(**options)
    if plan.loss is None:  # an allocation law predicts no loss; the plan says n/a and `scaling loss` refuses
        return
    args = [
        "loss",
        "--params",
        repr(float(plan.spec.params)),
        "--tokens",
        repr(plan.tokens),
        "--law",
        options["law"],
        "--json",
    ]
    if "unique_tokens" in options:
        args[-1:-1] = ["--unique-tokens", repr(options["unique_tokens"])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["loss"] == pytest.approx(plan.loss, rel=1e-12)
    assert data["flops"] == pytest.approx(plan.budget_flops, rel=1e-9)
