"""`scaling flops`, `scaling models`, `scaling gpus`: exit codes, one-line errors, JSON keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import scaling.cli

FIXTURES = Path(__file__).parent / "fixtures" / "hf"


def run(*args: str):
    return CliRunner().invoke(scaling.cli.main, list(args))


def run_json(*args: str):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_flops_preset_with_cluster_table():
    result = run("flops", "llama-2-7b", "--tokens", "2T", "--gpus", "64xA100-80GB", "--mfu", "0.4")
    assert result.exit_code == 0, result.output
    for text in ("6.74B", "8.09e22 FLOP", "936 PF-days", "64 x A100-80GB", "312 TFLOP/s", "40%", "GPU-hours"):
        assert text in result.stdout


def test_flops_json_keys_and_values():
    data = run_json(
        "flops", "llama-2-7b", "--tokens", "2T", "--gpus", "64xA100-80GB", "--mfu", "0.4", "--price", "2"
    )
    for key in (
        "params",
        "params_non_embedding",
        "tokens",
        "flops",
        "pf_days",
        "gpu_hours",
        "days",
        "cost_usd",
        "assumptions",
    ):
        assert key in data
    assert data["params"] == 6_738_415_616
    assert data["flops"] == pytest.approx(6 * 6_738_415_616 * 2e12)
    assert data["gpu_hours"] == pytest.approx(data["flops"] / (312e12 * 0.4) / 3600)
    assert data["cost_usd"] == pytest.approx(2 * data["gpu_hours"])
    assumptions = data["assumptions"]
    assert (
        assumptions["convention"] == "6nd"
        and assumptions["mfu"] == 0.4
        and assumptions["price_source"] == "given"
    )
    assert assumptions["peak_flops_per_device"] == 312e12


def test_flops_gpt3_table_d1_via_params_json():
    """GPT-3 Table D.1 RoBERTa-Base: 125M x 2T tokens x 6 = 1.50e21 FLOPs = 17.4 PF-days."""
    data = run_json("flops", "--params", "125M", "--tokens", "2T")
    assert data["flops"] == pytest.approx(1.50e21, rel=0.005)
    assert data["pf_days"] == pytest.approx(17.4, rel=0.005)


def test_flops_t5_3nd_convention():
    data = run_json("flops", "--params", "11B", "--tokens", "1T", "--convention", "3nd")
    assert data["pf_days"] == pytest.approx(382, rel=0.005)


def test_flops_default_tokens_from_preset_says_so():
    result = run("flops", "gpt3-175b")
    assert result.exit_code == 0
    assert "training tokens, 300B" in result.stdout
    assert "3.14e23 FLOP" in result.stdout


def test_flops_convention_all_side_by_side():
    result = run("flops", "gpt3-175b", "--convention", "all", "--gpus", "1024xA100")
    assert result.exit_code == 0, result.output
    for text in (
        "6nd",
        "6nd-nonembedding",
        "kaplan",
        "exact",
        "3nd",
        "attention scores",
        "embeddings",
        "logits",
    ):
        assert text in result.stdout
    data = run_json("flops", "gpt3-175b", "--convention", "all")
    assert set(data["conventions"]) == {"6nd", "6nd-nonembedding", "kaplan", "exact", "3nd"}
    assert data["conventions"]["exact"]["flops"] / data["conventions"]["6nd"]["flops"] == pytest.approx(
        1.03, abs=0.01
    )


def test_flops_from_config_json():
    data = run_json("flops", str(FIXTURES / "meta-llama-3-8b.json"), "--tokens", "15T")
    assert data["params"] == 8_030_261_248


def test_flops_raw_dimensions_exact():
    data = run_json(
        "flops",
        "--layers",
        "32",
        "--d-model",
        "4096",
        "--heads",
        "32",
        "--d-ff",
        "11008",
        "--gated",
        "--vocab",
        "32000",
        "--seq-len",
        "4096",
        "--tokens",
        "1T",
        "--convention",
        "exact",
    )
    assert data["params"] == 6_738_415_616
    assert data["flops"] > 6 * 6_738_415_616 * 1e12


def test_flops_recompute_and_causal_in_assumptions():
    data = run_json("flops", "gpt3-175b", "--convention", "exact", "--recompute", "full", "--causal", "half")
    assert data["hardware_flops"] > data["flops"]
    assert data["assumptions"]["recompute"] == "full" and data["assumptions"]["causal"] == "half"


def test_high_mfu_warns_on_stderr_and_json_stays_clean():
    result = run("flops", "llama-2-7b", "--gpus", "8xH100", "--mfu", "0.7", "--json")
    assert result.exit_code == 0
    json.loads(result.stdout)
    assert "warning:" in result.stderr and "implausible" in result.stderr


@pytest.mark.parametrize(
    "args,needle",
    [
        (["flops", "llama-2-7"], "did you mean llama-2-7b"),
        (["flops", "llama-2-7b", "--gpus", "64xH1000"], "did you mean h100"),
        (["flops", "llama-2-7b", "--tokens", "-5"], "--tokens"),
        (["flops", "llama-2-7b", "--tokens", "0"], "--tokens"),
        (["flops", "llama-2-7b", "--tokens", "nan"], "--tokens"),
        (["flops", "llama-2-7b", "--mfu", "1.5"], "--mfu"),
        (["flops", "llama-2-7b", "--mfu", "0"], "--mfu"),
        (["flops", "llama-2-7b", "--params", "7B"], "not MODEL and --params"),
        (["flops", "llama-2-7b", "--layers", "4"], "not MODEL and dimensions"),
        (["flops", "--layers", "4", "--tokens", "1B"], "--d-model"),
        (["flops", "--tokens", "1B"], "give a MODEL"),
        (["flops", "--params", "7B"], "--tokens"),
        (["flops", "llama-2-7b", "--gpus", "64"], "names no accelerator"),
        (["flops", "llama-2-7b", "--gpus", "8xV100", "--dtype", "fp8"], "fp8"),
        (["flops", "llama-2-7b", "--convention", "7nd"], "7nd"),
        (["flops", "missing/config.json"], "does not exist"),
        (["models", "no-such-model"], "no model preset"),
        (["gpus", "no-such-gpu"], "no accelerator"),
    ],
)
def test_bad_input_is_one_line_error_exit_2(args, needle):
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert needle in lines[0]
    assert "Traceback" not in result.output


def test_malformed_config_json_is_one_line_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{broken")
    result = run("flops", str(path), "--tokens", "1T")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "JSON" in result.stderr
    path.write_text(json.dumps({"model_type": "mamba"}))
    result = run("flops", str(path), "--tokens", "1T")
    assert result.exit_code == 2 and "supported model types" in result.stderr


def test_accelerator_file(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_text("name,bf16_tflops,memory_gb,price_usd_per_hour\nMyChip,1000,96,3.5\n")
    data = run_json("flops", "llama-2-7b", "--gpus", "16xMyChip", "--accelerator-file", str(path))
    assert data["assumptions"]["price_source"] == "catalog"
    assert data["cost_usd"] == pytest.approx(3.5 * data["gpu_hours"])


def test_models_list_and_json():
    result = run("models", "llama-2")
    assert result.exit_code == 0 and "6,738,415,616" in result.stdout and "gpt3" not in result.stdout
    data = run_json("models", "--family", "t5")
    assert {m["name"] for m in data} == {"t5-small", "t5-base", "t5-large", "t5-3b", "t5-11b"}
    assert all("params" in m for m in data)


def test_gpus_list_and_json():
    result = run("gpus")
    assert result.exit_code == 0 and "H100-SXM" in result.stdout and "989.4" in result.stdout
    data = run_json("gpus", "a100")
    assert {a["name"] for a in data} == {"A100-40GB", "A100-80GB"}
    assert data[0]["peak_flops"]["bf16"] == 312e12


def test_tokens_source_and_notes_come_from_the_estimate_not_from_note_text():
    from scaling.flops_report import estimate_flops

    preset = json.loads(CliRunner().invoke(scaling.cli.main, ["flops", "llama-2-7b", "--json"]).stdout)
    given = json.loads(
        CliRunner().invoke(scaling.cli.main, ["flops", "llama-2-7b", "--tokens", "1T", "--json"]).stdout
    )
    assert (
        preset["assumptions"]["tokens_source"] == "preset" and preset["tokens"] == 2e12
    )  # Touvron 2023, Table 1
    assert given["assumptions"]["tokens_source"] == "--tokens" and given["tokens"] == 1e12
    assert preset == json.loads(json.dumps(estimate_flops(model="llama-2-7b").to_dict()))


def test_raw_dimensions_build_the_same_spec_as_the_library():
    # GPT-2 small (Radford et al. 2019): 12 layers, d_model 768, 12 heads, vocabulary 50257, context 1024, tied
    # embeddings. The checkpoint holds 124,439,808 parameters; the raw-dimension GPT block has no biases, so it
    # counts 82,944 fewer: 12 layers x (2304 QKV + 768 output + 3072 up + 768 down) = 124,356,864.
    from scaling.flops_report import Dimensions, spec_from_dimensions

    spec, notes = spec_from_dimensions(Dimensions(layers=12, d_model=768, heads=12, vocab=50257), n_ctx=1024)
    assert spec.params == 124_356_864
    assert any("GPT-style" in n for n in notes)
    args = [
        "flops",
        "--layers",
        "12",
        "--d-model",
        "768",
        "--heads",
        "12",
        "--vocab",
        "50257",
        "--seq-len",
        "1024",
        "--tokens",
        "1B",
        "--json",
    ]
    assert json.loads(CliRunner().invoke(scaling.cli.main, args).stdout)["params"] == 124_356_864


def _columns(text: str) -> tuple[list[str], list[int]]:
    """A printed table's header names and where each column starts (from its dashed rule)."""
    header, rule = text.splitlines()[:2]
    starts = [m.start() for m in re.finditer(r"-+", rule)]
    return [header[a:b].strip() for a, b in zip(starts, starts[1:] + [len(rule)])], starts


@pytest.mark.parametrize("command", [["models"], ["laws"], ["gpus"]])
def test_catalog_tables_name_every_column_and_fit_120_characters(command):
    result = run(*command)
    assert result.exit_code == 0, result.output
    headers, starts = _columns(result.stdout)
    assert all(headers), headers
    for line in result.stdout.splitlines():
        assert len(line) <= 120, line
    if command == ["models"]:  # a cut source ends at a word, with an ellipsis
        sources = [line[starts[-1] :] for line in result.stdout.splitlines()[2:]]
        assert any(s.endswith("…") for s in sources) and not any(s.endswith(" …") for s in sources)


def test_laws_table_sources_start_in_one_column():
    result = run("laws")
    _, starts = _columns(result.stdout)
    for line in result.stdout.splitlines()[2:]:
        assert line[starts[-1] - 2 : starts[-1]] == "  " and line[starts[-1]] != " ", line


@pytest.mark.parametrize("content", ["", "name,dense_bf16_tflops,memory\n"])
def test_an_accelerator_file_with_no_rows_says_so_and_where_it_came_from(content, tmp_path, monkeypatch):
    # `gpus --accelerator-file /dev/null` said "(from $SCALING_ACCELERATORS) does not exist"
    monkeypatch.delenv("SCALING_ACCELERATORS", raising=False)
    path = tmp_path / "mine.csv"
    path.write_text(content)
    result = CliRunner().invoke(scaling.cli.main, ["gpus", "--accelerator-file", str(path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "(from --accelerator-file) has no rows" in result.output
    assert "SCALING_ACCELERATORS" not in result.output and "does not exist" not in result.output
    # /dev/null is a device: inputs are read from regular files only (scaling.inputs), and the words say so
    result = CliRunner().invoke(scaling.cli.main, ["gpus", "--accelerator-file", "/dev/null"])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "not a regular file" in result.output
    assert "SCALING_ACCELERATORS" not in result.output and "does not exist" not in result.output
    result = CliRunner().invoke(scaling.cli.main, ["gpus", "--accelerator-file", str(tmp_path / "none.csv")])
    assert result.exit_code == 2 and "(from --accelerator-file) does not exist" in result.output
    monkeypatch.setenv("SCALING_ACCELERATORS", str(path))
    result = CliRunner().invoke(scaling.cli.main, ["gpus"])
    assert result.exit_code == 2 and "(from $SCALING_ACCELERATORS) has no rows" in result.output
