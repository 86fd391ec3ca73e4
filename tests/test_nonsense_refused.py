"""Values outside physical sense are refused in one line with exit status 2, and results that overflow are
never printed (issue 28, item 6): an MFU below 0.01%, fewer than one training token, a run longer than the
age of the universe."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from scaling.cli import main
from scaling.cost import compute_cost
from scaling.errors import ScalingError


def _refused(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["inference", "llama-2-7b", "--gpus", "A100-80GB", "--mfu", "5e-324"],
        ["inference", "llama-2-7b", "--gpus", "A100-80GB", "--mbu", "1e-9"],
        ["flops", "--params", "7B", "--tokens", "1T", "--gpus", "8xH100", "--mfu", "1e-300"],
        ["flops", "--params", "7B", "--tokens", "1T", "--gpus", "8xH100", "--mfu", "0.001%"],
        ["flops", "--params", "7B", "--tokens", "1T", "--gpus", "8xH100", "--mfu", "1e-300", "--json"],
        ["plan", "--gpus", "8xH100", "--days", "1", "--mfu", "1e-5"],
        ["optimal", "--budget", "8xH100 1d 1e-9"],
    ],
)
def test_an_mfu_below_a_hundredth_of_a_percent_is_refused(args):
    # `inference ... --mfu 5e-324` printed "prefill (TTFT) inf years"; `flops ... --mfu 1e-300` a 300-digit
    # time
    line = _refused(args)
    assert "0.0001" in line and ("mfu" in line.lower() or "mbu" in line.lower())


def test_the_least_mfu_is_accepted():
    args = ["flops", "--params", "7B", "--tokens", "1T", "--gpus", "8xH100", "--mfu", "1e-4"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("tokens", ["1e-320", "0.5"])
def test_fewer_than_one_token_is_refused(tokens):
    # `flops --params 7B --tokens 1e-320` printed "0 PF-days"
    line = _refused(["flops", "--params", "7B", "--tokens", tokens])
    assert "at least 1" in line and "--tokens" in line


def test_a_bare_parameter_count_prints_no_none():
    result = CliRunner().invoke(main, ["flops", "--params", "7B", "--tokens", "1T"])
    assert result.exit_code == 0 and "None" not in result.output, result.output


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_a_run_longer_than_the_universe_is_refused(as_json):
    line = _refused(["flops", "--params", "1e30", "--tokens", "1e30", "--gpus", "8xH100", *as_json])
    assert "age of the universe" in line


def test_compute_cost_refuses_an_overflowing_time_and_cost():
    with pytest.raises(ScalingError, match="age of the universe"):
        compute_cost(1e308, accelerator="H100", devices=1, mfu=1e-4)
    with pytest.raises(ScalingError, match="overflows the cost"):
        compute_cost(1e22, accelerator="H100", devices=8, mfu=0.4, price_usd_per_hour=1e306)


@pytest.mark.parametrize("text", ["", "foo,bar\n", "foo,bar\n1,2\n", "name,params\nx,7e9\n"])
def test_a_known_models_csv_without_rows_or_columns_is_refused(text, tmp_path):
    # an empty file, or one with a junk header, drew the chart with no known models and said nothing
    path = tmp_path / "known.csv"
    path.write_text(text)
    line = _refused(["chart", "zone", "--known-models", str(path), "-o", str(tmp_path / "z.html")])
    assert "known.csv" in line and "params, tokens" in line
    assert not (tmp_path / "z.html").exists()


def test_an_unknown_model_type_is_remarked_on(tmp_path):
    # model_type "evil" with a Llama architectures entry was counted as a Llama without a word
    import json
    from pathlib import Path

    config = json.loads((Path(__file__).parent / "fixtures" / "hf" / "llama-2-7b.json").read_text())
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, "model_type": "evil"}))
    result = CliRunner().invoke(main, ["flops", str(path), "--tokens", "1T"])
    assert result.exit_code == 0, result.output
    assert "model_type 'evil' is not a known family" in result.output
