"""``scaling inference --efficiency-profile``: a packaged profile of the serving efficiency table chosen
on the command line, printed with its rows' sources and echoed in the JSON."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import scaling.cli
from scaling.serving.efficiency import profiles
from tests.serving_published import ROWS, TRT_061

FP8_70B = ("llama-2-70b", "H100", "fp8")


def run(*args: str):
    return CliRunner().invoke(scaling.cli.main, list(args))


def _trtllm_061_fp8_70b_rows():
    return [
        r for r in ROWS if (r.model, r.accelerator, r.precision) == FP8_70B and r.profile == "trtllm-0.6.1"
    ]


@pytest.mark.parametrize("row", _trtllm_061_fp8_70b_rows(), ids=lambda r: r.label)
def test_trtllm_v061_fp8_llama2_70b_rows_through_the_flag(row):
    # TensorRT-LLM docs/source/performance.md, v0.6.1 "Peak Throughput", H100 FP8 LLaMA 70B: 547 tok/s/GPU
    # (64 x 2048/2048, TP2) and 1,486 (480 x 128/2048, TP4); the flag gives the library's own number
    assert row.source == TRT_061
    args = ["inference", row.model, "--gpus", f"{row.tp}x{row.accelerator}", "--tp", str(row.tp)]
    args += ["--batch", str(row.batch), "--prompt", str(row.prompt), "--output", str(row.output)]
    args += ["--precision", "fp8", "--kv-dtype", "fp8", "--json"]
    result = run(*args, "--efficiency-profile", "trtllm-0.6.1")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    per_device = out["end_to_end_tokens_per_s"] / row.tp
    assert per_device == pytest.approx(row.predict(), rel=1e-12)
    assert per_device == pytest.approx(row.measured, rel=row.tolerance)
    assert out["assumptions"]["efficiency_profile"] == "trtllm-0.6.1"
    assert "v0.6.1" in out["efficiencies"]["sources"]["kv_mbu"]
    default = json.loads(run(*args).stdout)  # today's table misses the v0.6.1 row by far more
    assert default["assumptions"]["efficiency_profile"] == "default"
    assert abs(default["end_to_end_tokens_per_s"] / row.tp / row.measured - 1) > row.tolerance


def test_profile_is_printed_with_its_sources_and_default_is_todays_table():
    args = [
        "inference",
        "llama-2-70b",
        "--gpus",
        "2xH100",
        "--tp",
        "2",
        "--batch",
        "64",
        "--precision",
        "fp8",
    ]
    text = run(*args, "--efficiency-profile", "trtllm-0.6.1").output
    assert "efficiency profile trtllm-0.6.1" in text and "[fitted] TensorRT-LLM v0.6.1 LLaMA 70B" in text
    assert run(*args, "--efficiency-profile", "default").output == run(*args).output


def test_unknown_profile_is_refused_naming_the_accepted_ones():
    result = run("inference", "llama-2-7b", "--gpus", "H100", "--efficiency-profile", "trtllm-9")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "'trtllm-9'" in result.output and ", ".join(profiles()) in result.output


def test_help_lists_every_packaged_profile():
    text = " ".join(run("inference", "--help").output.split())
    assert profiles()[0] == "default" and len(profiles()) > 1
    for name in profiles():
        assert name in text
