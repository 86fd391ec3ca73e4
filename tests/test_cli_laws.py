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
    assert "8.64e+21" in result.output and "source" in result.output and "convention" in result.output


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
