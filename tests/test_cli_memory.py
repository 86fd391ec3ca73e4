"""`scaling memory` through click's CliRunner: JSON keys, fits, search, one-line errors with exit status 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from scaling.cli import main

KEYS = (
    "weights_bytes",
    "gradients_bytes",
    "optimizer_bytes",
    "activations_bytes",
    "kv_cache_bytes",
    "overhead_bytes",
    "total_bytes",
    "cpu_bytes",
)


def run(*args):
    return CliRunner().invoke(main, ["memory", *args])


def test_json_keys_and_fits():
    r = run(
        "llama-2-7b",
        "--mode",
        "train",
        "--gpus",
        "8xH100",
        "--zero",
        "3",
        "--flash",
        "--recompute",
        "selective",
        "--json",
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    for key in KEYS:
        assert isinstance(d[key], float)
    assert d["fits"] is True
    assert d["total_bytes"] == pytest.approx(sum(t["bytes"] for t in d["terms"]))


def test_json_without_accelerator_has_null_fits():
    d = json.loads(
        run("--params", "7.5B", "--gpus", "64", "--zero", "1", "--convention", "zero", "--json").output
    )
    assert d["fits"] is None
    assert d["total_bytes"] / 1e9 == pytest.approx(31.406, rel=1e-4)


def test_table_output_names_terms_and_verdict():
    r = run(
        "llama-2-70b",
        "--mode",
        "infer",
        "--gpus",
        "8xH100",
        "--tp",
        "8",
        "--batch",
        "16",
        "--context",
        "4096",
    )
    assert r.exit_code == 0, r.output
    for word in ("weights", "kv_cache", "overhead", "total per device", "fits", "headroom", "GiB"):
        assert word in r.output


def test_offload_shows_cpu_memory():
    r = run("llama-2-7b", "--gpus", "8xA100-80GB", "--zero", "3", "--offload", "both", "--flash")
    assert r.exit_code == 0, r.output
    assert "CPU memory per node" in r.output


def test_qlora_finetune():
    r = run(
        "llama-2-7b",
        "--mode",
        "finetune",
        "--lora-rank",
        "16",
        "--quant",
        "nf4",
        "--gpus",
        "1xA100-80GB",
        "--flash",
        "--seq-len",
        "2048",
        "--json",
    )
    d = json.loads(r.output)
    assert r.exit_code == 0 and d["fits"] is True and d["weights_bytes"] < 5e9


def test_search_prints_layouts():
    r = run(
        "gpt3-175b",
        "--gpus",
        "1024xA100-80GB",
        "--global-batch",
        "1536",
        "--seq-len",
        "2048",
        "--search",
        "--top",
        "3",
    )
    assert r.exit_code == 0, r.output
    assert "candidates" in r.output and "tokens/s" in r.output
    d = json.loads(
        run("gpt3-175b", "--gpus", "64xA100-80GB", "--global-batch", "64", "--search", "--json").output
    )
    assert d["layouts"] and all(row["fits"] for row in d["layouts"])


def test_search_default_batch_is_the_plans_deepseek_b_opt():
    """memory --search and the plan size the default global batch by one rule: DeepSeek LLM's B_opt(C) =
    0.292 C^0.3271 tokens (Bi et al. 2024, Eq. 1) with their C = M·D, at llama-2-7b's 2T tokens 9.06e22
    FLOPs -> 9.43M tokens = 2,303 sequences of 4,096 (DeepSeek LLM 7B, the same shape, used 2,304, their
    Table 2), which each layout rounds to a multiple of its DP x micro-batch (2,304 on DP 8 x mb 1)."""
    r = run("llama-2-7b", "--gpus", "8xH100", "--search", "--top", "2")
    assert r.exit_code == 0, r.output
    assert "B_opt" in r.output and "9.43M tokens" in r.output
    search = json.loads(run("llama-2-7b", "--gpus", "8xH100", "--search", "--top", "1", "--json").stdout)
    best = search["layouts"][0]
    assert search["batch_target"] == pytest.approx(9.43e6 / 4096, rel=1e-3)
    assert best["global_batch"] % (best["dp"] * best["micro_batch"]) == 0
    plan = CliRunner().invoke(main, ["plan", "llama-2-7b", "--tokens", "2T", "--gpus", "8xH100", "--json"])
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.output)["global_batch_sequences"] == best["global_batch"]


def test_readme_qlora_int4_fits_an_rtx_4090():
    """The README's example: a 24 GiB card (nvidia-smi total 24,564 MiB) holds LoRA r16 on int4 llama-2-7b."""
    r = run(
        "llama-2-7b",
        "--mode",
        "finetune",
        "--lora-rank",
        "16",
        "--quant",
        "int4",
        "--gpus",
        "RTX-4090",
        "--json",
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["capacity_bytes"] == 24 * 2**30 and d["fits"] is True


@pytest.mark.parametrize(
    "gpu, gib", [("H100", 80), ("A100-40GB", 40), ("RTX-4090", 24), ("TPU-v4", 32), ("TPU-v5e", 16)]
)
def test_capacity_in_the_unit_the_vendor_means(gpu, gib):
    """Vendors' HBM/GDDR "GB" are GiB: an H100 shows 80 GiB (nvidia-smi: 81,559 MiB), not 74.5."""
    r = run("llama-2-7b", "--gpus", f"1x{gpu}")
    assert r.exit_code == 0, r.output
    assert f"{gib:,.3f} GiB" in r.output.split("capacity")[1].splitlines()[0]


def test_search_on_pcie_cards_does_not_rank_tp8_first():
    """RTX-4090s talk over PCIe 4.0 (32 GB/s a direction), not NVLink: TP 8 pays for its all-reduces."""
    d = json.loads(run("llama-2-7b", "--gpus", "8xRTX-4090", "--search", "--json").stdout)
    assert d["intra_node_link"].startswith("PCIe") and d["intra_node_bytes_per_s"] == 32e9
    assert d["layouts"] and d["layouts"][0]["tp"] < 8
    nvlink = json.loads(run("llama-2-7b", "--gpus", "8xH100", "--search", "--json").stdout)
    assert nvlink["intra_node_link"] == "NVLink4" and nvlink["intra_node_bytes_per_s"] == 450e9


def test_search_prints_mfu_and_hfu_on_the_6nd_convention():
    r = run(
        "gpt3-175b",
        "--gpus",
        "1024xA100-80GB",
        "--global-batch",
        "1536",
        "--seq-len",
        "2048",
        "--search",
        "--top",
        "3",
    )
    assert r.exit_code == 0, r.output
    assert "MFU" in r.output and "HFU" in r.output and "6nd model FLOPs" in r.output


def test_search_absurd_numbers_fail_fast():
    for args in (["--global-batch", "100000000000000000000"], ["--seq-len", "100000000000000"]):
        r = run("llama-2-7b", "--gpus", "8xH100", "--search", *args)
        assert r.exit_code == 2 and "at most" in r.output and len(r.output.strip().splitlines()) == 1
    r = run("--params", "1e40", "--gpus", "8xH100", "--search")
    assert r.exit_code == 2 and "parameter count" in r.output
    r = run("--params", "7B", "--gpus", "99999999999999999999xH100", "--search")
    assert r.exit_code == 2 and "device count" in r.output


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
        (["llama-2-7b", "--mode", "infer", "--context", "-100000"], "invalid context -100000"),
        (["llama-2-7b", "--mode", "infer", "--batch", "-1"], "invalid batch -1"),
        (["llama-2-7b", "--seq-len", "0"], "invalid seq len 0"),
    ],
)
def test_errors_are_one_line_exit_2(args, fragment):
    r = run(*args)
    assert r.exit_code == 2
    out = r.output.strip()
    assert fragment in out and "Traceback" not in out and len(out.splitlines()) == 1


HEADER = "name,bf16_tflops,memory,price_usd_per_hour"


@pytest.mark.parametrize(
    "body, fragment",
    [
        (HEADER + "\nMyChip,1000,96GiB,3.5,extra", "more fields than the header"),
        (HEADER + "\nMyChip,0,96GiB,3.5", "bf16_tflops"),
        (HEADER + "\nMyChip,nan,96GiB,3.5", "bf16_tflops"),
        (HEADER + "\nMyChip,1000,nanGiB,3.5", "memory"),
        (HEADER + "\nMyChip,1000,-96GiB,3.5", "memory"),
        (HEADER + "\nMyChip,1000,96,3.5", "needs its unit"),
        (HEADER + "\nMyChip,1000,96GiB,-1", "price_usd_per_hour"),
        (HEADER + "\nMyChip,1000,96GiB,inf", "price_usd_per_hour"),
        ("name,bf16_tflops,memory_gb\nMyChip,1000,inf", "memory_gb"),
    ],
)
def test_damaged_accelerator_file_is_one_line_naming_file_and_row(tmp_path, monkeypatch, body, fragment):
    path = tmp_path / "gpus.csv"
    path.write_text(body + "\n")
    monkeypatch.setenv("SCALING_ACCELERATORS", str(path))
    r = run("llama-2-7b", "--gpus", "8xMyChip")
    assert r.exit_code == 2, r.output
    out = r.output.strip()
    assert len(out.splitlines()) == 1 and "Traceback" not in out
    assert fragment in out and str(path) in out and "row 1" in out


def test_non_utf8_accelerator_file_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "gpus.csv"
    path.write_bytes(b"name,bf16_tflops,memory\nM\xe9Chip,1000,96GiB\n")
    monkeypatch.setenv("SCALING_ACCELERATORS", str(path))
    r = run("llama-2-7b", "--gpus", "8xH100")
    assert r.exit_code == 2 and "UTF-8" in r.output and str(path) in r.output


def test_user_accelerator_with_gb_and_no_links_is_assumed_pcie(tmp_path, monkeypatch):
    path = tmp_path / "gpus.csv"
    path.write_text("name,bf16_tflops,memory_gb\nMyChip,1000,96\n")
    monkeypatch.setenv("SCALING_ACCELERATORS", str(path))
    d = json.loads(run("llama-2-7b", "--gpus", "8xMyChip", "--search", "--json").stdout)
    assert d["capacity_bytes"] == 96e9 and d["intra_node_link"] == "PCIe4 (assumed)"


def _chart_breakdowns(monkeypatch, tmp_path, *args):
    """The breakdowns `scaling chart memory` draws (captured where they enter the figure)."""
    from scaling import charts

    seen = {}
    real = charts.memory_figure

    def capture(breakdowns, *a, **k):
        seen.update(breakdowns)
        return real(breakdowns, *a, **k)

    monkeypatch.setattr(charts, "memory_figure", capture)
    r = CliRunner().invoke(main, ["chart", "memory", *args, "-o", str(tmp_path / "m.html")])
    assert r.exit_code == 0, r.output
    return seen


def test_chart_memory_draws_the_memory_commands_numbers(monkeypatch, tmp_path):
    """`scaling chart memory llama-2-7b --gpus 8xH100` and `scaling memory ... --zero 3` once disagreed
    (117 GiB without FlashAttention against 33.5 GiB with it): each bar is now the command's own total."""
    bars = _chart_breakdowns(monkeypatch, tmp_path, "llama-2-7b", "--gpus", "8xH100")
    assert list(bars) == ["ZeRO-0", "ZeRO-1", "ZeRO-2", "ZeRO-3"]
    for stage in range(4):
        d = json.loads(
            run("llama-2-7b", "--mode", "train", "--gpus", "8xH100", "--zero", str(stage), "--json").stdout
        )
        assert bars[f"ZeRO-{stage}"].to_dict() == d


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(max_examples=12, deadline=None)
@hypothesis.given(
    model=st.sampled_from(["llama-2-7b", "gpt2", "mixtral-8x7b", "t5-small", "llama-3-8b"]),
    gpus=st.sampled_from(["8xH100", "16xA100-40GB", "4xRTX-4090"]),
    across=st.sampled_from(["zero", "recompute", "tp", "precision"]),
    flash=st.sampled_from([[], ["--no-flash"]]),
)
def test_chart_memory_agrees_with_the_command_everywhere(tmp_path_factory, model, gpus, across, flash):
    from scaling import charts

    seen = {}
    real = charts.memory_figure
    charts.memory_figure = lambda b, *a, **k: (seen.update(b), real(b, *a, **k))[1]
    try:
        out = tmp_path_factory.mktemp("chart") / "m.html"
        r = CliRunner().invoke(
            main, ["chart", "memory", model, "--gpus", gpus, "--across", across, *flash, "-o", str(out)]
        )
    finally:
        charts.memory_figure = real
    assert r.exit_code == 0, r.output
    option = {"zero": "--zero", "recompute": "--recompute", "tp": "--tp", "precision": "--precision"}[across]
    for label, breakdown in seen.items():
        value = label.split()[-1].removeprefix("ZeRO-") if across != "precision" else label
        d = json.loads(run(model, "--gpus", gpus, option, value, *flash, "--json").stdout)
        assert breakdown.total_bytes == d["total_bytes"], (label, breakdown.total_bytes, d["total_bytes"])


def test_gpus_json_lists_capacity_in_gib_and_links_with_sources():
    rows = {r["name"]: r for r in json.loads(CliRunner().invoke(main, ["gpus", "--json"]).stdout)}
    h100 = rows["H100-SXM"]
    assert (
        h100["memory_gib"] == 80 and h100["memory_bytes"] == 80 * 2**30 and h100["memory_listed"] == "80GiB"
    )
    assert h100["intra_node_link"] == "NVLink4" and h100["intra_node_bytes_per_s"] == 450e9
    assert all(r["link_source"] and r["source"] for r in rows.values())
    assert {r["intra_node_link"] for n, r in rows.items() if n in ("RTX-4090", "L4", "A10")} == {"PCIe4"}
