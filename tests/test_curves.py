"""The schedule-aware loss (Tissue et al. 2024, arXiv 2408.11029, with an N term): its areas, its fit from
curves (synthetic curves recover their constants), ``scaling loss --schedule``, the plan and ``scaling chart
curve`` showing one curve, and what a law without curve constants says."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main
from scaling.errors import ScalingError
from scaling.fit.curves import fit_curves
from scaling.laws import get_law, law_from_dict
from scaling.laws.curve import LAMBDA, CurveLaw, annealing_areas, curve_loss
from scaling.recipe.curve import planned_curve
from scaling.recipe.schedule import make_schedule

# Known constants of the synthetic curves: a loss in nats/byte for models of 10K-1M parameters.
TRUE = {"E": 1.6, "A": 60.0, "B": 400.0, "alpha": 0.45, "beta": 0.4, "C": 0.25}


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ------------------------------------------------------------------------------------------- areas
def test_constant_rate_has_forward_area_of_the_tokens_and_no_annealing_area():
    s1, s2 = annealing_areas(np.full(100, 3e-4), 1000.0)
    assert s1[-1] == 100 * 1000.0 and np.all(np.diff(s1) == 1000.0)
    assert np.all(s2 == 0.0)


def test_annealing_area_of_one_drop_is_the_drop_times_one_minus_lambda_to_the_steps_since():
    # m_i = lambda m_(i-1) + drop; S2 = (1 - lambda) sum m_i = drop (1 - lambda^k) k steps after the drop
    drop, k = 0.6, 5000
    rates = np.concatenate([np.ones(10), np.full(k, 1 - drop)])
    _, s2 = annealing_areas(rates, 1.0)
    assert s2[-1] == pytest.approx(drop * (1 - LAMBDA**k), rel=1e-9)
    assert s2[9] == 0.0


def test_warmup_counts_at_the_peak_as_in_ai2s_implementation():
    rates = np.concatenate([np.linspace(0.1, 1.0, 10), np.ones(10)])
    s1, s2 = annealing_areas(rates, 2.0)
    assert s1[-1] == 20 * 2.0 and np.all(s2 == 0.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=300), st.floats(1.0, 1e6))
def test_areas_of_a_decaying_schedule_grow_and_stay_within_the_drop(drops, per_step):
    rates = np.concatenate([[1.0], 1.0 - np.cumsum(drops) / max(1.0, float(np.sum(drops)))])
    s1, s2 = annealing_areas(np.maximum(rates, 0.0), per_step)
    assert np.all(np.diff(s1) >= 0) and np.all(np.diff(s2) >= -1e-12)
    assert s2.min() >= -1e-12 and s2[-1] <= 1.0 - rates.min() + 1e-9


def test_bad_schedules_are_refused():
    for bad in ([], [0.0, 0.0], [1.0, float("nan")], [1.0, -0.1]):
        with pytest.raises(ScalingError, match="schedule"):
            annealing_areas(bad, 1.0)


# ------------------------------------------------------------------------- synthetic curves recovered
class SyntheticSchedules:
    """A `scaling.train.schedules.RunSchedules` of synthetic runs: cosine to 10% or WSD over the run."""

    source = "synthetic schedules"
    recipe_tokens_per_step = 512.0

    def __init__(self, runs: pd.DataFrame):
        self.by_run = {r.run_id: self.shape(r.kind, int(r.steps)) for r in runs.itertuples()}
        self.tokens_per_step = {r.run_id: self.recipe_tokens_per_step for r in runs.itertuples()}

    @staticmethod
    def shape(kind: str, steps: int) -> np.ndarray:
        schedule = make_schedule(
            kind,
            params=1e4,
            batch_tokens=512.0,
            total_steps=steps,
            decay_fraction=0.2 if kind == "wsd" else None,
        )
        return schedule.multipliers(np.arange(steps))

    def rates(self, steps: int) -> np.ndarray:
        return self.shape("cosine", steps)


def synthetic_sweep(noise: float = 0.002, seed: int = 0):
    """Runs of 4 sizes x 3 token counts, each with a cosine and a WSD run, 12 points per curve, from
    `TRUE` with multiplicative noise."""
    rng = np.random.default_rng(seed)
    rows, points = [], []
    for N in (1e4, 3e4, 1e5, 3e5):
        for steps in (2000, 6000, 20000):
            for kind in ("cosine", "wsd"):
                run_id = f"n{N:.0e}-s{steps}-{kind}"
                rates = SyntheticSchedules.shape(kind, steps)
                s1, s2 = annealing_areas(rates, 512.0)
                at = np.linspace(steps // 12, steps - 1, 12).astype(int)
                loss = curve_loss(N, s1[at], s2[at], *TRUE.values()) * np.exp(noise * rng.standard_normal(12))
                points.append(pd.DataFrame({"run_id": run_id, "N": N, "D": (at + 1) * 512.0, "loss": loss}))
                D = steps * 512.0
                rows.append(
                    {
                        "run_id": run_id,
                        "N": N,
                        "D": D,
                        "C": 6 * N * D,
                        "loss": loss[-1],
                        "steps": steps,
                        "kind": kind,
                    }
                )
    return pd.DataFrame(rows), pd.concat(points, ignore_index=True)


@pytest.fixture(scope="module")
def synthetic_fit():
    runs, points = synthetic_sweep()
    return fit_curves(points, runs, SyntheticSchedules(runs), bootstrap=20, seed=1)


def test_synthetic_curves_recover_their_constants(synthetic_fit):
    law = synthetic_fit.law
    for name, value in TRUE.items():
        assert getattr(law, name) == pytest.approx(value, rel=0.05), name
    assert synthetic_fit.max_final_error < 0.01  # 0.2% noise per point


def test_curves_narrow_the_exponents_interval_against_final_losses_of_the_same_runs(synthetic_fit):
    shrink = {c.quantity: c.shrink for c in synthetic_fit.comparisons}
    assert shrink["alpha"] > 0 and shrink["beta"] > 0  # 12 points per run against 1
    assert synthetic_fit.law.fit["bootstrap"] == "by run"


# --------------------------------------------------------------- a law file with curve constants
@pytest.fixture(scope="module")
def curve_law_file(tmp_path_factory, synthetic_fit):
    from dataclasses import replace

    from scaling.laws import save_law

    path = tmp_path_factory.mktemp("law") / "curve-law.json"
    law = replace(synthetic_fit.final, name="curve-law", curve=synthetic_fit.law.to_dict())
    save_law(replace(law, vocab_size=256, seq_len=128, loss_unit="nats/byte"), path)  # byte-level runs
    return path


def test_law_file_round_trips_its_curve_constants(curve_law_file, synthetic_fit):
    law = get_law(str(curve_law_file))
    back = CurveLaw.from_dict(law.curve)
    assert back.constants == pytest.approx(synthetic_fit.law.constants)
    assert back.replicates.shape == synthetic_fit.law.replicates.shape


@pytest.mark.parametrize(
    "change, message",
    [({"alpha": 50.0}, "alpha"), ({"C": -1.0}, "C"), ({"lam": 1.5}, "lam"), ({"E": "x"}, "E")],
)
def test_damaged_curve_constants_are_refused_naming_the_field(change, message):
    entry = {"name": "x", "kind": "parametric", "E": 1, "A": 1, "B": 1, "alpha": 0.3, "beta": 0.3}
    entry["curve"] = {**TRUE, **change}
    with pytest.raises(ScalingError, match=message):
        law_from_dict(entry)


def test_loss_schedule_json_gives_the_curve_and_its_final_loss(curve_law_file):
    result = run(
        "loss", "--params", "300K", "--tokens", "50M", "--law", curve_law_file, "--schedule", "wsd", "--json"
    )
    assert result.exit_code == 0, result.output
    curve = json.loads(result.stdout)["curve"]
    assert curve["schedule"]["kind"] == "wsd" and curve["schedule"]["decay_fraction"] == 0.2
    assert curve["final_loss"] == curve["loss"][-1] and len(curve["tokens"]) == len(curve["loss"]) > 100
    assert curve["tokens"][-1] >= 50e6 and curve["final_loss_interval"][0] < curve["final_loss"]
    text = run("loss", "--params", "300K", "--tokens", "50M", "--law", curve_law_file, "--schedule", "wsd")
    assert "loss at 50%" in text.output and "loss at the end of the schedule" in text.output


def test_chart_data_is_the_loss_commands_curve(curve_law_file):
    from scaling.charts.loss_curve import curve_figure

    args = ("--params", "300K", "--tokens", "50M", "--law", curve_law_file, "--schedule", "wsd")
    curve = json.loads(run("loss", *args, "--decay-fraction", "0.1", "--json").stdout)["curve"]
    predicted, _ = planned_curve(get_law(str(curve_law_file)), 3e5, 5e7, schedule="wsd", decay_fraction=0.1)
    trace = curve_figure(predicted).data[0]
    assert list(trace.x) == curve["tokens"] and list(trace.y) == curve["loss"]


def test_chart_curve_from_a_law_writes_the_figure(curve_law_file, tmp_path):
    out = tmp_path / "curve.html"
    result = run("chart", "curve", curve_law_file, "--params", "300K", "--tokens", "50M", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000


def test_plan_curve_is_the_recipes_curve_and_agrees_with_loss(curve_law_file):
    from scaling.plan import build_plan, plan_request
    from scaling.recipe.curve import recipe_curve

    args = ["plan", "--params", "300K", "--tokens", "50M", "--gpus", "1xH100", "--law", curve_law_file]
    payload = json.loads(run(*args, "--schedule", "wsd", "--json").stdout)
    curve = payload["loss_curve"]
    assert (
        curve["schedule"] == payload["schedule"] and curve["batch_tokens"] == payload["global_batch_tokens"]
    )
    from scaling.options import PLAN

    request = plan_request(
        PLAN.parse(params="300K", tokens="50M", gpus="1xH100", law=str(curve_law_file), schedule="wsd")
    )
    plan = build_plan(request)
    assert recipe_curve(plan.law, plan.recipe, plan.params).to_dict()["loss"] == curve["loss"]
    # `scaling loss` at the plan's model and tokens: the same curve but for the layout's rounding of the batch
    alone = json.loads(
        run(
            "loss",
            "--params",
            payload["params"],
            "--tokens",
            payload["tokens"],
            "--law",
            curve_law_file,
            "--schedule",
            "wsd",
            "--json",
        ).output
    )["curve"]
    assert alone["final_loss"] == pytest.approx(curve["final_loss"], rel=2e-3)
    text = run(*args, "--schedule", "wsd").output
    assert "loss through training" in text


def test_law_without_curve_constants_says_so_in_one_line(tmp_path):
    result = run("loss", "--params", "7B", "--tokens", "1T", "--schedule", "wsd", "--json")
    payload = json.loads(result.stdout)
    assert payload["curve"] is None and "fit from curves" in payload["curve_note"]
    plain = run("loss", "--params", "7B", "--tokens", "1T")
    assert "curve" not in json.loads(run("loss", "--params", "7B", "--tokens", "1T", "--json").stdout)
    assert "loss curve" not in plain.output
    chart = run("chart", "curve", "chinchilla", "--params", "7B", "--tokens", "1T", "-o", tmp_path / "c.html")
    assert chart.exit_code == 2 and len(chart.output.strip().splitlines()) == 1
    assert "scaling fit RUNS --curves" in chart.output


def test_fit_curves_refuses_options_it_does_not_take(tmp_path):
    (tmp_path / "runs.csv").write_text("N,D,loss\n1e4,1e6,3\n")
    for extra, named in (
        (["--form", "farseer"], "--form"),
        (["--holdout-largest", "1"], "--holdout-largest"),
    ):
        result = run("fit", tmp_path / "runs.csv", "--curves", *extra)
        assert (
            result.exit_code == 2 and named in result.output and len(result.output.strip().splitlines()) == 1
        )
    result = run("fit", tmp_path / "runs.csv", "--curves", "--bootstrap", "5")
    assert result.exit_code == 2 and "curves/" in result.output


@pytest.mark.parametrize(
    "args, named",
    [
        (["--schedule", "wsd", "--decay-fraction", "1.5"], "--decay-fraction"),
        (["--schedule", "cosine", "--decay-fraction", "0.2"], "--decay-fraction"),
        (["--schedule", "linear"], "--schedule"),
        (["--schedule", "wsd", "--tokens", "1e20"], "optimizer steps is too long"),
    ],
)
def test_bad_schedule_options_are_one_line_and_exit_2(curve_law_file, args, named):
    result = run("loss", "--params", "300K", "--tokens", "50M", "--law", curve_law_file, *args)
    assert result.exit_code == 2 and named in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_curve_law_loss_is_tissues_form_at_one_size():
    # at one N the law is L0 + A' S1^-beta - C S2 with L0 = E + A N^-alpha (Tissue et al. 2024's form)
    law = CurveLaw(**TRUE)
    s1, s2 = np.array([1e6, 1e7]), np.array([0.0, 0.5])
    l0 = TRUE["E"] + TRUE["A"] * 1e5 ** -TRUE["alpha"]
    expected = l0 + TRUE["B"] * s1 ** -TRUE["beta"] - TRUE["C"] * s2
    assert np.allclose(law.loss(1e5, s1, s2), expected) and math.isfinite(float(law.loss(1e5, 1e6, 0.0)))


# ------------------------------------------------------------------- real curves: a smoke sweep
@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory):
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("sweep") / "smoke"
    result = run("sweep", "--preset", "smoke", "--out", out, "--workers", "2")
    assert result.exit_code == 0, result.output
    damaged = sorted((out / "curves").glob("*.csv"))[0]
    with open(damaged, "a") as fh:
        fh.write("9999,not a number,,,\n")  # a damaged row: set aside and counted, not fatal
    return out


@pytest.mark.torch
def test_smoke_sweep_curves_fit_and_predict_each_runs_final_loss(smoke_sweep, tmp_path):
    law_path = tmp_path / "law.json"
    result = run("fit", smoke_sweep, "--curves", "--bootstrap", "20", "-o", law_path, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # the fit's cautions go to stderr
    assert payload["n_runs"] == 9 and len(payload["runs"]) == 9
    # The smoke runs are 35-800 steps of one 512-token batch, whose training loss varies by 5-7% from step to
    # step (the curves' rule for two evaluations); each run's final loss (its curve's last tenth) within 8%.
    assert payload["max_final_loss_error"] < 0.08
    reasons = {s["reason"]: s["rows"] for s in payload["set_aside"]}
    assert any("curve row" in r for r in reasons), reasons
    law = get_law(str(law_path))
    assert CurveLaw.from_dict(law.curve).fit["n_runs"] == 9 and law.vocab_size == 256
    assert {c["quantity"] for c in payload["comparison"]} >= {"alpha", "beta"}
    run_id = payload["runs"][-1]["run_id"]
    chart = run("chart", "curve", smoke_sweep, "--run", run_id, "--law", law_path, "-o", tmp_path / "c.html")
    assert chart.exit_code == 0, chart.output
    wrong = run(
        "chart", "curve", smoke_sweep, "--run", "no-such-run", "--law", law_path, "-o", tmp_path / "d.html"
    )
    assert (
        wrong.exit_code == 2 and "no-such-run" in wrong.output and len(wrong.output.strip().splitlines()) == 1
    )


@pytest.mark.torch
def test_a_runs_chart_draws_its_curve_law_prediction_and_its_measured_points(smoke_sweep):
    from scaling.charts.loss_curve import curve_figure
    from scaling.fit.curves import fit_curve_law, run_prediction
    from scaling.train.schedules import read_sweep_curves

    sweep = read_sweep_curves(smoke_sweep)
    law = fit_curve_law(sweep.curves.frame, sweep.runs.frame, sweep.schedules)
    run_id = str(sweep.runs.frame["run_id"].iloc[-1])
    predicted, measured = run_prediction(
        law, sweep.curves.frame, sweep.runs.frame, sweep.schedules, run_id, "nats/byte"
    )
    figure = curve_figure(predicted, measured)
    names = [t.meta for t in figure.data]
    assert names == ["predicted", "learning rate", "measured"]
    assert list(figure.data[2].y) == list(measured["loss"]) and predicted.tokens[-1] == measured["D"].max()


def test_points_of_runs_without_a_schedule_or_beyond_it_are_set_aside_and_counted():
    from scaling.fit.curves import curve_points

    runs, points = synthetic_sweep()
    schedules = SyntheticSchedules(runs)
    rates = dict(schedules.by_run)
    gone = runs["run_id"].iloc[0]
    del rates[gone]
    beyond = pd.DataFrame(
        {"run_id": [runs["run_id"].iloc[1]], "N": [runs["N"].iloc[1]], "D": [1e12], "loss": [3.0]}
    )
    found = curve_points(pd.concat([points, beyond], ignore_index=True), rates, schedules.tokens_per_step)
    assert found.set_aside["point of a run whose learning-rate schedule is unknown"] == 12
    assert found.set_aside["point beyond its run's schedule"] == 1
    assert gone not in set(found.run_id) and len(found.loss) == len(points) - 12
