"""Bhagia et al. 2024's two-step ladder (arXiv 2412.04403, §3): ``scaling fit RUNS --downstream evals.csv``
fits the task loss from N and D and the accuracy as a sigmoid of it, the law file carries the maps, and the
plan prints each task's accuracy with its 80% interval."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main
from scaling.errors import ScalingError
from scaling.fit.evals import ACCURACY_METRICS, LOSS_METRICS, parse_evals
from scaling.fit.ladder import bootstrap_sigmoid, fit_ladder, fit_sigmoid
from scaling.fit.synthetic import synthetic_ladder
from scaling.laws import get_law
from scaling.plan import make_plan
from scaling.recipe.ladder import ladder_maps, sigmoid, task_loss

FIXTURES = Path(__file__).parent / "fixtures" / "ladder"
# a task whose ladder spans its sigmoid: task loss (bpb) 0.94-1.42 over Bhagia et al.'s 190M-1B x 1-10x ladder
STEP1 = (0.45, 120.0, 150.0, 0.28, 0.27)  # E, A, B, alpha, beta
STEP2 = (0.7, -10.0, 1.15, 0.25)  # a, k, L0, b
TARGET = (7e9, 4e12)  # OLMo 2 7B on 4T tokens, Bhagia et al.'s first target


def _evals(frame) -> object:
    return parse_evals(frame.to_csv(index=False), "evals.csv")


@pytest.fixture(scope="module")
def synthetic_fit():
    runs, evals = synthetic_ladder({"hellaswag": (STEP1, STEP2)}, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_ladder(runs, _evals(evals), name="runs.csv", bootstrap=200, seed=0)


def test_synthetic_ladder_recovers_its_constants(synthetic_fit):
    """Known constants, 0.5% task-loss noise and 1-point accuracy noise on Bhagia et al.'s 20-run ladder: both
    steps come back within tolerance, and the 7B-4T target's accuracy within 2 points."""
    (fitted,) = synthetic_fit.maps
    E, A, B, alpha, beta = fitted.step1
    assert E == pytest.approx(STEP1[0], abs=0.1)
    assert alpha == pytest.approx(STEP1[3], abs=0.05) and beta == pytest.approx(STEP1[4], abs=0.05)
    for N, D in [(190e6, 3.8e9), (1e9, 2e11), TARGET]:
        assert fitted.task_loss(N, D) == pytest.approx(float(task_loss(STEP1, N, D)), rel=0.03)
    a, k, L0, b = fitted.step2
    assert a == pytest.approx(STEP2[0], abs=0.06) and b == pytest.approx(STEP2[3], abs=0.04)
    assert k == pytest.approx(STEP2[1], rel=0.2) and L0 == pytest.approx(STEP2[2], abs=0.02)
    truth = float(sigmoid(STEP2, task_loss(STEP1, *TARGET)))
    assert fitted.predict(*TARGET).value == pytest.approx(truth, abs=0.02)


def test_synthetic_ladder_intervals_cover_the_truth(synthetic_fit):
    """The 80% bootstrap intervals of step 1's constants, and of the target's task loss and accuracy, hold
    the constants the ladder was drawn from."""
    (fitted,) = synthetic_fit.maps
    intervals = synthetic_fit.intervals(fitted)
    for name, true in zip(("E", "A", "B", "alpha", "beta"), STEP1):
        low, high = intervals[name]
        assert low <= true <= high, name
    prediction = fitted.predict(*TARGET)
    true_loss = float(task_loss(STEP1, *TARGET))
    assert prediction.loss_interval[0] <= true_loss <= prediction.loss_interval[1]
    assert prediction.interval[0] <= float(sigmoid(STEP2, true_loss)) <= prediction.interval[1]
    assert prediction.level == 0.8 and len(fitted.replicates) >= 150


def test_step2_bootstrap_intervals_cover_at_about_their_level():
    """Over ten ladders drawn with different noise, the 80% bootstrap interval of each sigmoid constant holds
    the truth in at least half of them, and in 65% on average (an interval far too narrow fails)."""
    covered = np.zeros(4)
    for seed in range(10):
        _, evals = synthetic_ladder({"t": (STEP1, STEP2)}, seed=seed)
        L = evals.loc[evals["metric"] == "bpb", "value"].to_numpy(float)
        acc = evals.loc[evals["metric"] == "acc", "value"].to_numpy(float)
        fitted = fit_sigmoid(L, acc)
        rows = bootstrap_sigmoid(L, acc, fitted, 100, seed)
        low, high = np.percentile(rows, [10, 90], axis=0)
        covered += (low <= np.array(STEP2)) & (np.array(STEP2) <= high)
    assert covered.min() >= 5 and covered.mean() >= 6.5, covered


def test_sigmoid_of_an_error_rate_rises_with_the_loss():
    """k > 0 for a metric that grows with the task loss (an error rate): the fit finds the sign itself."""
    L = np.linspace(0.8, 1.6, 15)
    error = sigmoid((0.6, 9.0, 1.2, 0.1), L)
    a, k, L0, b = fit_sigmoid(L, error)
    assert k == pytest.approx(9.0, rel=1e-3) and L0 == pytest.approx(1.2, abs=1e-4)


# ------------------------------------------------------------------------------------------ the CLI
@pytest.fixture(scope="module")
def ladder_law(tmp_path_factory):
    """The README's example: the fixture ladder fitted and saved."""
    folder = tmp_path_factory.mktemp("ladder")
    for name in ("runs.csv", "evals.csv"):
        shutil.copy(FIXTURES / name, folder / name)
    law = folder / "ladder.json"
    args = ["fit", str(folder / "runs.csv"), "--downstream", str(folder / "evals.csv"), "--bootstrap", "100"]
    result = CliRunner().invoke(main, [*args, "-o", str(law)])
    assert result.exit_code == 0, result.output
    return law, result.output


def test_fit_downstream_prints_each_task_and_what_it_set_aside(ladder_law):
    _, output = ladder_law
    assert "hellaswag acc" in output and "arc_easy acc" in output
    assert "task piqa: only acc rows; the ladder needs a task loss per run, e.g. bpb" in output
    (line,) = [x for x in output.splitlines() if "set aside 2 of 102 rows" in x.strip() or "set aside 2" in x]
    assert "non-numeric value: 1" in line


def test_law_file_carries_the_maps_with_their_data(ladder_law):
    path, _ = ladder_law
    law = get_law(str(path))
    maps = ladder_maps(law)
    assert [m.task for m in maps] == ["arc_easy", "hellaswag"]
    assert all(m.eval_data == law.eval_data and m.eval_data.startswith("the runs in runs.csv") for m in maps)
    payload = json.loads(path.read_text())
    assert payload["downstream"]["kind"] == "ladder" and len(payload["downstream"]["tasks"][0]["step2"]) == 4


def test_plan_prints_each_tasks_accuracy_with_its_interval(ladder_law):
    path, _ = ladder_law
    plan = make_plan(gpus="64xH100", days=7, law=str(path))
    maps = {m.task: m for m in ladder_maps(get_law(str(path)))}
    assert [p.task for p in plan.downstream] == ["arc_easy", "hellaswag"]
    for prediction in plan.downstream:  # the plan's number is the map's own at the plan's N and D
        own = maps[prediction.task].predict(plan.spec.params, plan.tokens)
        assert prediction.value == own.value and prediction.interval == own.interval
        assert prediction.interval[0] <= prediction.value <= prediction.interval[1]
    result = CliRunner().invoke(main, ["plan", "--gpus", "64xH100", "--days", "7", "--law", str(path)])
    assert result.exit_code == 0, result.output
    assert "hellaswag acc" in result.output and "(80% interval" in result.output
    data = json.loads(
        CliRunner()
        .invoke(main, ["plan", "--gpus", "64xH100", "--days", "7", "--law", str(path), "--json"])
        .output
    )
    entry = data["downstream"][1]
    assert (
        entry["task"] == "hellaswag" and entry["metric"] == "hellaswag acc" and entry["interval_level"] == 0.8
    )
    assert entry["loss_metric"] == "bpb" and len(entry["loss_interval"]) == 2
    markdown = CliRunner().invoke(
        main, ["plan", "--gpus", "64xH100", "--days", "7", "--law", str(path), "--markdown"]
    )
    assert "hellaswag acc" in markdown.output


def test_app_plan_with_an_uploaded_ladder_law_shows_each_task(ladder_law):
    pytest.importorskip("dash")
    from scaling.app import views

    path, _ = ladder_law
    shelf = views.Shelf()
    name = shelf.put("upload:ladder", views.law_from_upload(path.read_bytes(), "ladder.json"))
    view = views.plan_view({"gpus": "64xH100", "days": "7", "law": name}, shelf)
    assert view.error is None, view.error
    (table,) = [t for t in view.tables if t.title == "Downstream"]
    expected = make_plan(gpus="64xH100", days=7, law=str(path)).downstream
    assert [row[1] for row in table.rows] == [p.text() for p in expected]


@pytest.mark.parametrize("law", ["chinchilla", "gadre-c4"])
def test_plan_refuses_a_ladder_fitted_on_other_data(ladder_law, law):
    path, _ = ladder_law
    args = ["plan", "--gpus", "64xH100", "--days", "7", "--law", law, "--downstream", str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "the runs in runs.csv" in result.output and law in result.output


# ------------------------------------------------------------------------------------------ bad input
def _fit(tmp_path, runs_text: str, evals_text: str, *extra: str):
    (tmp_path / "runs.csv").write_text(runs_text)
    (tmp_path / "evals.csv").write_text(evals_text)
    args = ["fit", str(tmp_path / "runs.csv"), "--downstream", str(tmp_path / "evals.csv"), *extra]
    return CliRunner().invoke(main, args)


RUNS = (FIXTURES / "runs.csv").read_text()


@pytest.mark.parametrize(
    "evals, message",
    [
        ("run,task,score\nladder-190m-1x,hellaswag,0.3\n", "no metric column"),
        ("run_id,task,metric,value\nladder-190m-1x,hellaswag,f1,0.3\n", "unknown metric: 1"),
        ("run_id,task,metric,value\nnope,hellaswag,acc,0.3\n", "no eval row names a run"),
        ("run_id,task,metric,value\n", "no usable row"),
    ],
)
def test_bad_evals_refused_in_one_line(tmp_path, evals, message):
    result = _fit(tmp_path, RUNS, evals, "--bootstrap", "10")
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and message in result.output


def test_task_with_too_few_runs_and_runs_without_ids(tmp_path):
    rows = [line for line in (FIXTURES / "evals.csv").read_text().splitlines()[1:] if "hellaswag" in line]
    evals = "run_id,task,metric,value\n" + "\n".join(rows[:8]) + "\n"  # 4 runs with both bpb and acc
    result = _fit(tmp_path, RUNS, evals, "--bootstrap", "10")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "4 runs with both bpb and acc; the ladder needs at least 6" in result.output
    no_ids = "\n".join(",".join(line.split(",")[1:]) for line in RUNS.splitlines()) + "\n"
    result = _fit(tmp_path, no_ids, (FIXTURES / "evals.csv").read_text(), "--bootstrap", "10")
    assert result.exit_code == 2 and "the runs table has no run_id column" in result.output


def test_existing_output_is_not_overwritten(tmp_path):
    (tmp_path / "law.json").write_text("{}")
    result = _fit(tmp_path, RUNS, (FIXTURES / "evals.csv").read_text(), "-o", str(tmp_path / "law.json"))
    assert result.exit_code == 2 and "--force" in result.output
    assert (tmp_path / "law.json").read_text() == "{}"


def test_damaged_downstream_key_refused_in_one_line(ladder_law, tmp_path):
    path, _ = ladder_law
    payload = json.loads(path.read_text())
    payload["downstream"]["tasks"][0]["step2"].pop("L0")
    (tmp_path / "bad.json").write_text(json.dumps(payload))
    result = CliRunner().invoke(
        main, ["plan", "--gpus", "64xH100", "--days", "7", "--law", str(tmp_path / "bad.json")]
    )
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "step2" in result.output and "L0" in result.output


def test_downstream_file_without_maps_refused(tmp_path):
    from scaling.laws import save_law

    save_law(get_law("chinchilla"), tmp_path / "plain.json")
    args = ["plan", "--gpus", "64xH100", "--days", "7", "--downstream", str(tmp_path / "plain.json")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "carries no downstream maps" in result.output


# ------------------------------------------------------------------------------------------ the parser
CELLS = st.one_of(
    st.sampled_from(["", "abc", "nan", "inf", "-1", "0", "0.5", "1", "1.5", "2.25", "1e-3"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=6),
)
METRICS = st.sampled_from([*LOSS_METRICS, *ACCURACY_METRICS, "f1", "ACC", "Acc Norm", ""])
ROWS = st.lists(
    st.tuples(st.sampled_from(["r1", "r2", "r3", ""]), st.sampled_from(["t1", "t2"]), METRICS, CELLS),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(ROWS, st.booleans())
def test_evals_parser_keeps_or_sets_aside_every_row(rows, extra_field):
    """Every data row is kept or set aside with a reason, never both, never lost; kept values are finite,
    accuracies within 0-1 and task losses positive, and no (run, task, metric) is kept twice."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run_id", "task", "metric", "value"])
    for row in rows:
        writer.writerow([*row, "x"] if extra_field else row)
    try:
        evals = parse_evals(buffer.getvalue(), "evals.csv")
    except ScalingError as error:
        assert "no usable row" in str(error) and "\n" not in str(error)
        return
    data_rows = [r for r in rows if any(str(c).strip() for c in r) or extra_field]
    assert len(evals.rows) + len(evals.set_aside) == evals.total == len(data_rows)
    assert len({r[:3] for r in evals.rows}) == len(evals.rows)
    for _run, _task, metric, value in evals.rows:
        assert np.isfinite(value)
        assert (0 <= value <= 1) if metric in ACCURACY_METRICS else value > 0
    line = evals.set_aside_line()
    assert (line is None) == (not evals.set_aside) and (line is None or "\n" not in line)


def test_fit_downstream_json_and_approach(tmp_path):
    result = _fit(tmp_path, RUNS, (FIXTURES / "evals.csv").read_text(), "--bootstrap", "20", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ladder = data["downstream"]
    assert [t["task"] for t in ladder["tasks"]] == ["arc_easy", "hellaswag"]
    assert set(ladder["tasks"][0]["intervals"]) == {"E", "A", "B", "alpha", "beta", "a", "k", "L0", "b"}
    assert ladder["tasks_set_aside"][0].startswith("task piqa: only acc rows")
    assert "unknown run id: 1" in ladder["rows_set_aside"] and data["eval_data"] == ladder["eval_data"]
    result = _fit(tmp_path, RUNS, (FIXTURES / "evals.csv").read_text(), "--approach", "2")
    assert result.exit_code == 2 and "--approach 3 or all" in result.output


# ------------------------------------------------------------------------------------- the law file's key
def _payload() -> dict:
    row = [*STEP1, *STEP2]
    task = {
        "task": "hellaswag",
        "metric": "acc",
        "loss_metric": "bpb",
        "step1": dict(zip(("E", "A", "B", "alpha", "beta"), STEP1)),
        "step2": dict(zip(("a", "k", "L0", "b"), STEP2)),
        "n_runs": 20,
        "flops_range": [4e18, 1.2e21],
        "loss_range": [0.94, 1.42],
        "bootstrap": {"level": 0.8, "replicates": [row, row]},
    }
    return {"kind": "ladder", "eval_data": "the runs in runs.csv (digest 0)", "tasks": [task]}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
FIELDS = st.sampled_from(
    [
        ("task",),
        ("metric",),
        ("loss_metric",),
        ("step1",),
        ("step1", "E"),
        ("step1", "alpha"),
        ("step2",),
        ("step2", "a"),
        ("step2", "k"),
        ("n_runs",),
        ("flops_range",),
        ("loss_range",),
        ("bootstrap",),
        ("bootstrap", "level"),
        ("bootstrap", "replicates"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(FIELDS, JSON)
def test_damaged_ladder_key_is_refused_in_one_line_or_read(field, value):
    """Any value in any field of a task: read as a valid map, or refused with one `ScalingError` line naming
    the field, never another exception."""
    from scaling.recipe.ladder import ladder_maps_of

    payload = _payload()
    target = payload["tasks"][0]
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    try:
        (read,) = ladder_maps_of(payload, "law")
    except ScalingError as error:
        assert "\n" not in str(error) and field[0] in str(error)
        return
    prediction = read.predict(*TARGET)
    assert np.isfinite(prediction.loss) and prediction.level < 1
