"""`scaling memory` through click's CliRunner: JSON keys, fits, search, one-line errors with exit status 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from scaling.cli import main

KEYS = ("weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes", "kv_cache_bytes",
        "overhead_bytes", "total_bytes", "cpu_bytes")  # fmt: skip


def run(*args):
    return CliRunner().invoke(main, ["memory", *args])


def test_json_keys_and_fits():
    r = run("llama-2-7b", "--mode", "train", "--gpus", "8xH100", "--zero", "3", "--flash", "--recompute", "selective", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    for key in KEYS:
        assert isinstance(d[key], float)
    assert d["fits"] is True
    assert d["total_bytes"] == pytest.approx(sum(t["bytes"] for t in d["terms"]))


def test_json_without_accelerator_has_null_fits():
    d = json.loads(run("--params", "7.5B", "--gpus", "64", "--zero", "1", "--convention", "zero", "--json").output)
    assert d["fits"] is None
    assert d["total_bytes"] / 1e9 == pytest.approx(31.406, rel=1e-4)


def test_table_output_names_terms_and_verdict():
    r = run("llama-2-70b", "--mode", "infer", "--gpus", "8xH100", "--tp", "8", "--batch", "16", "--context", "4096")
    assert r.exit_code == 0, r.output
    for word in ("weights", "kv_cache", "overhead", "total per device", "fits", "headroom", "GiB"):
        assert word in r.output


def test_offload_shows_cpu_memory():
    r = run("llama-2-7b", "--gpus", "8xA100-80GB", "--zero", "3", "--offload", "both", "--flash")
    assert r.exit_code == 0, r.output
    assert "CPU memory per node" in r.output


def test_qlora_finetune():
    r = run("llama-2-7b", "--mode", "finetune", "--lora-rank", "16", "--quant", "nf4", "--gpus", "1xA100-80GB", "--flash",
            "--seq-len", "2048", "--json")
    d = json.loads(r.output)
    assert r.exit_code == 0 and d["fits"] is True and d["weights_bytes"] < 5e9


def test_search_prints_layouts():
    r = run("gpt3-175b", "--gpus", "1024xA100-80GB", "--global-batch", "1536", "--seq-len", "2048", "--search", "--top", "3")
    assert r.exit_code == 0, r.output
    assert "candidates" in r.output and "tokens/s" in r.output
    d = json.loads(run("gpt3-175b", "--gpus", "64xA100-80GB", "--global-batch", "64", "--search", "--json").output)
    assert d["layouts"] and all(row["fits"] for row in d["layouts"])


def test_search_without_global_batch_uses_about_4m_tokens():
    r = run("llama-2-7b", "--gpus", "8xH100", "--search", "--top", "2")
    assert r.exit_code == 0, r.output
    assert "1024 sequences of 4096 tokens" in r.output  # 2^round(log2(4e6 / 4096)) = 1024


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["llama-2-7b", "--gpus", "8", "--tp", "3"], "tensor parallel size 3"),
        (["llama-2-7b", "--gpus", "64", "--pp", "40"], "pipeline parallel size 40"),
        (["llama-2-7b", "--gpus", "12", "--tp", "8"], "device count 12"),
        (["llama-2-7b", "--optimizer", "adamq"], "unknown optimizer 'adamq'"),
        (["llama-2-7b", "--zero", "7"], "unknown ZeRO stage '7'"),
        (["no-such-model"], "unknown model"),
        (["llama-2-7b", "--gpus", "8", "--search"], "--search needs an accelerator"),
        ([], "give a MODEL"),
    ],
)
def test_errors_are_one_line_exit_2(args, fragment):
    r = run(*args)
    assert r.exit_code == 2
    out = r.output.strip()
    assert fragment in out and "Traceback" not in out and len(out.splitlines()) == 1
