"""The law commands through click's test runner."""

import json

import pytest
from click.testing import CliRunner

from scaling.cli import main
from scaling.fit import synthetic_runs


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_optimal_json_keys_gopher_budget():
    result = run("optimal", "--budget", "5.76e23", "--law", "chinchilla", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"flops", "params", "tokens", "loss", "tokens_per_param"} <= set(data)
    assert data["params"] == pytest.approx(40.4e9, rel=0.005)
    assert data["assumptions"]["law"] == "chinchilla"


def test_optimal_pf_days_and_table():
    result = run("optimal", "--budget", "100PF-days", "--law", "epoch")
    assert result.exit_code == 0, result.output
    assert "8.64e21 FLOP" in result.output and "source" in result.output and "convention" in result.output


def test_optimal_cluster_budget():
    result = run("optimal", "--budget", "512xH100 30d 40%", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # the H100 dense bf16 peak comes from data/accelerators.csv (989 TFLOP/s for the SXM part)
    assert data["budget_flops"] == pytest.approx(512 * 989.4e12 * 0.4 * 30 * 86400, rel=0.05)
    assert "MFU" in data["budget"]["description"]


def test_optimal_unique_and_inference_tokens():
    result = run(
        "optimal", "--budget", "1e23", "--unique-tokens", "100B", "--inference-tokens", "2T", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["epochs"] > 1 and data["total_flops"] > data["flops"]


def test_loss_70b_1_4t():
    result = run("loss", "--params", "70B", "--tokens", "1.4T", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["loss"] == pytest.approx(1.9208, abs=1e-3)


def test_unknown_law_one_line_exit_2():
    result = run("optimal", "--budget", "1e24", "--law", "chinchila")
    assert result.exit_code == 2
    assert "did you mean" in result.output


def test_bad_budget_exit_2():
    result = run("optimal", "--budget", "lots")
    assert result.exit_code == 2 and "budget" in result.output


def test_laws_lists_presets():
    result = run("laws")
    assert result.exit_code == 0 and "epoch" in result.output and "Kaplan" in result.output


def test_fit_saves_law_usable_as_preset(tmp_path):
    path = tmp_path / "runs.csv"
    synthetic_runs("chinchilla", seed=2).rename(columns={"N": "params", "D": "tokens"}).to_csv(
        path, index=False
    )
    law_path = tmp_path / "law.json"
    result = run("fit", str(path), "--approach", "all", "--bootstrap", "50", "-o", str(law_path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    assert {"E", "A", "B", "alpha", "beta", "a", "b", "ci"} <= set(data)
    assert "approach2" in data
    result = run("optimal", "--budget", "1e24", "--law", str(law_path), "--json")
    assert result.exit_code == 0, result.output
    assert "params" in json.loads(result.output)["intervals"]


def test_fit_bad_runs_exit_2(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("N,D,loss\n1e8,1e9,nan\n2e8,2e9,nan\n")
    result = run("fit", str(path))
    assert result.exit_code == 2 and "loss not a finite positive number" in result.output


def _runs_csv(tmp_path):
    path = tmp_path / "runs.csv"
    synthetic_runs("chinchilla", seed=2).to_csv(path, index=False)
    return path


def test_fit_never_writes_over_its_input(tmp_path):
    path = _runs_csv(tmp_path)
    before = path.read_bytes()
    for args in (["-o", str(path)], ["-o", str(path), "--force"]):
        result = run("fit", str(path), *args)
        assert result.exit_code == 2 and result.output.startswith("error:") and result.output.count("\n") == 1
    copy = tmp_path / "runs.json"
    copy.write_text(json.dumps(synthetic_runs("chinchilla", seed=2).to_dict(orient="records")))
    result = run("fit", str(copy), "-o", str(copy), "--force")
    assert result.exit_code == 2 and "input" in result.output
    assert path.read_bytes() == before


def test_fit_refuses_an_existing_output_unless_forced(tmp_path):
    path = _runs_csv(tmp_path)
    law = tmp_path / "law.json"
    law.write_text("{}")
    result = run("fit", str(path), "-o", str(law))
    assert result.exit_code == 2 and "--force" in result.output and law.read_text() == "{}"
    result = run("fit", str(path), "-o", str(law), "--force")
    assert result.exit_code == 0, result.output
    assert json.loads(law.read_text())["kind"] == "parametric"


def test_fit_bootstrap_beyond_limit_one_line_at_once(tmp_path):
    import time

    started = time.perf_counter()
    result = run("fit", str(_runs_csv(tmp_path)), "--bootstrap", "2147483648")
    assert result.exit_code == 2 and "--bootstrap" in result.output and result.output.count("\n") == 1
    assert time.perf_counter() - started < 5


def test_fit_reports_rows_read_used_and_set_aside(tmp_path):
    path = _runs_csv(tmp_path)
    with open(path, "a") as fh:
        fh.write("my note,,,\n")
    result = run("fit", str(path))
    assert result.exit_code == 0, result.output
    assert "253 read, 252 used, set aside 1" in result.output


def test_fit_holdout_from_in_relative_units(tmp_path):
    result = run("fit", str(_runs_csv(tmp_path)), "--holdout-from", "1e21", "--json")
    assert result.exit_code == 0, result.output
    holdout = json.loads(result.output[result.output.index("{") :])["holdout"]
    assert holdout["held_out_flops"] == pytest.approx([1e21, 3e21])
    assert 0 < holdout["mean_abs_rel_error"] <= holdout["max_abs_rel_error"] < 0.05


def test_fit_a_sweep_folder_prints_byte_units(tmp_path):
    from scaling.runs_table import write_rows

    rows = synthetic_runs("chinchilla", seed=5).assign(
        run_id=lambda f: [f"r{i}" for i in range(len(f))], budget=lambda f: f["C"], tokenizer="bytes"
    )
    write_rows(tmp_path / "runs.csv", rows.to_dict(orient="records"))
    result = run("fit", str(tmp_path), "-o", str(tmp_path / "law.json"))
    assert result.exit_code == 0, result.output
    assert "nats/byte" in result.output
    result = run("loss", "--params", "1B", "--tokens", "20B", "--law", str(tmp_path / "law.json"))
    assert result.exit_code == 0 and "nats/byte" in result.output


def test_optimal_inference_aware_states_extra_time_as_a_result():
    result = run(
        "optimal",
        "--budget",
        "512xH100 30d 40%",
        "--unique-tokens",
        "500B",
        "--inference-tokens",
        "2T",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    beyond = data["beyond_budget"]
    assert beyond["flops"] == pytest.approx(data["flops"] - data["budget"]["flops"])
    assert beyond["seconds"] == pytest.approx(30 * 86400 * beyond["flops"] / data["budget"]["flops"])
    text = run(
        "optimal", "--budget", "512xH100 30d 40%", "--unique-tokens", "500B", "--inference-tokens", "2T"
    )
    assert "extra training time" in text.output and "beyond the budget" in text.output


@pytest.mark.parametrize("extra", [[], ["--inference-tokens", "2T"]])
def test_optimal_tiny_budget_is_one_line(extra):
    result = run("optimal", "--budget", "1.5", *extra)
    assert result.exit_code == 2 and result.output.startswith("error:") and result.output.count("\n") == 1


def test_fit_of_runs_whose_loss_never_falls_is_one_line(tmp_path):
    # seven runs at one token count and one loss: no size or data term to fit (Hoffmann Eq. 2 degenerates)
    path = tmp_path / "flat.csv"
    path.write_text("name,N,D,loss\n" + "".join(f"a,{i}e7,1e9,3.0\n" for i in range(1, 8)))
    for args in (
        ["fit", str(path), "--json"],
        ["chart", "frontier", str(path), "-o", str(tmp_path / "f.html")],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2
        assert "do not determine a law" in result.output


@pytest.mark.parametrize(
    "args, words",
    [
        (["optimal", "--budget", "1e23", "--unique-tokens", "1e-308"], "must be at least 1"),
        (["optimal", "--budget", "1e41"], "at most 1e40"),
    ],
)
def test_absurd_budgets_and_token_counts_are_one_line(args, words):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0]


def _sweep_like_folder(path):
    """A folder as `scaling sweep` leaves it: its recipe, runs table, curves and lock."""
    from scaling.runs_table import write_rows

    rows = synthetic_runs("chinchilla", seed=5).assign(
        run_id=lambda f: [f"r{i}" for i in range(len(f))], budget=lambda f: f["C"], status="ok"
    )
    write_rows(path / "runs.csv", rows.to_dict(orient="records"))
    (path / "sweep.json").write_text(json.dumps({"recipe": {}, "configs": []}))
    (path / "curves").mkdir()
    (path / "curves" / "r0.csv").write_text("step,tokens,flops,train_loss,val_loss\n")
    (path / ".sweep.lock").write_text("")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["fit", "{sweep}", "-o", "{sweep}/sweep.json"],
        ["fit", "{sweep}", "-o", "{sweep}/.sweep.lock.json"],
        ["next", "{sweep}", "--budget-flops", "1e22", "-o", "{sweep}/runs.csv"],
        ["next", "{other}/runs.csv", "--budget-flops", "1e22", "-o", "{sweep}/runs.damaged.csv"],
        ["chart", "isoflop", "{sweep}", "-o", "{sweep}/curves/r0.html"],
        ["chart", "isoflop", "{sweep}/runs.csv", "-o", "{sweep}/checkpoints/chart.html"],
    ],
)
def test_force_never_replaces_a_sweeps_own_files(args, tmp_path):
    # `fit SWEEP -o SWEEP/sweep.json --force` once replaced the sweep's recipe: the sweep could not resume.
    sweep = _sweep_like_folder(tmp_path / "sweep")
    (tmp_path / "other").mkdir()
    _runs_csv(tmp_path / "other")
    before = {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()}
    args = [a.format(sweep=sweep, other=tmp_path / "other") for a in args]
    for force in ([], ["--force"]):
        result = run(*args, *force)
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert result.output.startswith("error: refusing to write") and "sweep" in result.output
    assert {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()} == before


def test_force_never_replaces_the_runs_table_of_a_folder_read(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    before = _runs_csv(folder).read_bytes()  # a user's own table: no sweep.json beside it
    result = run("next", str(folder), "--budget-flops", "1e22", "-o", str(folder / "runs.csv"), "--force")
    assert result.exit_code == 2 and "input" in result.output
    assert (folder / "runs.csv").read_bytes() == before
    result = run("fit", str(folder), "-o", str(folder / "law.json"), "--force")
    assert result.exit_code == 0, result.output  # the command's own output beside the table is fine
