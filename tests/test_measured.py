"""`scaling mfu`: MFU and HFU from a measured throughput, against the published figures."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import scaling.cli
from scaling.cluster import parse_cluster
from scaling.cost import mfu_from_throughput
from scaling.measured import measure_utilization
from scaling.model import load_model


def run(*args: str):
    return CliRunner().invoke(scaling.cli.main, list(args))


def test_palm_540b_appendix_b_mfu_46_2_and_45_7():
    # Chowdhery et al. 2022, App. B: 6144 TPU v4 chips, 238.3K tokens/s, MFU 46.2% (45.7% without attention)
    result = measure_utilization(
        load_model("palm-540b"), parse_cluster("6144xTPU-v4"), tokens_per_second=238.3e3
    )
    assert result.by_convention("6nd+attention").mfu == pytest.approx(0.462, abs=0.0005)
    assert result.by_convention("6nd").mfu == pytest.approx(0.457, abs=0.0005)


def test_palm_from_step_time_agrees_with_rate():
    # PaLM's batch at the end of training: 2048 sequences of 2048 tokens (Chowdhery et al. 2022, §5)
    data = json.loads(
        run(
            "mfu",
            "palm-540b",
            "--gpus",
            "6144xTPU-v4",
            "--step-time",
            f"{2048 * 2048 / 238.3e3}s",
            "--global-batch",
            str(2048 * 2048),
            "--json",
        ).stdout
    )
    assert data["conventions"]["6nd+attention"]["mfu"] == pytest.approx(0.462, abs=0.0005)
    assert data["mfu"] == data["conventions"]["6nd"]["mfu"]


def test_six_nd_row_is_the_librarys_mfu_from_throughput():
    spec = load_model("llama-2-7b")
    measured = measure_utilization(spec, parse_cluster("64xA100-80GB"), tokens_per_second=64 * 3000.0)
    library = mfu_from_throughput(spec, 3000.0, "A100-80GB", convention="6nd")
    assert measured.by_convention("6nd").mfu == pytest.approx(library.mfu, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(rate=st.floats(1e3, 1e7), recompute=st.sampled_from(["none", "selective", "full"]))
def test_hfu_at_least_mfu_and_halved_attention_below_full(rate, recompute):
    spec = load_model("llama-2-7b")
    cluster = parse_cluster("8xH100")
    full = measure_utilization(spec, cluster, tokens_per_second=rate, recompute=recompute)
    half = measure_utilization(spec, cluster, tokens_per_second=rate, recompute=recompute, causal="half")
    for row in full.conventions:
        assert row.hfu >= row.mfu
        if recompute == "none":
            assert row.hfu == row.mfu
    assert half.by_convention("6nd+attention").mfu < full.by_convention("6nd+attention").mfu
    assert half.by_convention("6nd").mfu == full.by_convention("6nd").mfu


@pytest.mark.parametrize(
    "args, message",
    [
        (["palm-540b", "--gpus", "64xTPU-v4"], "give the measured throughput"),
        (["palm-540b", "--gpus", "64xTPU-v4", "--step-time", "3s"], "give the measured throughput"),
        (["palm-540b", "--gpus", "64xTPU-v4", "--tokens-per-s", "1k", "--step-time", "3s"], "not both"),
        (["palm-540b", "--gpus", "64", "--tokens-per-s", "1k"], "names no accelerator"),
        (["palm-540b", "--gpus", "64xTPU-v4", "--tokens-per-s", "-5"], "--tokens-per-s"),
    ],
)
def test_mfu_bad_input_is_one_line_exit_2(args, message):
    result = run("mfu", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
