"""A calibration file in the faces that are not commands of one estimate: the app's plan view (uploaded, its
link shareable) and the sweep's ETA (a probe of this machine)."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import scaling.cli

NARAYANAN = Path(__file__).parent / "fixtures" / "calibration" / "narayanan_table1.csv"
PLAN = "?params=39.1B&tokens=300B&gpus=512xA100-80GB"


def run(*args: str):
    return CliRunner().invoke(scaling.cli.main, list(args))


def data_url(text: str) -> str:
    return "data:application/json;base64," + base64.b64encode(text.encode()).decode()


def test_app_plan_uses_an_uploaded_calibration_and_a_shared_link_asks_for_the_file(tmp_path):
    pytest.importorskip("dash")
    from scaling.app import callbacks
    from scaling.app.views import PLAN_FIELDS, Shelf

    path = tmp_path / "selene.json"
    assert run("calibrate", str(NARAYANAN), "-o", str(path)).exit_code == 0
    shelf = Shelf()
    value, error = callbacks.use_calibration(data_url(path.read_text()), "selene.json", shelf)
    assert (value, error) == ("calibration:selene.json", "")
    assert value not in shelf.names()  # a calibration is not offered as a law
    values = callbacks.plan_from_url(PLAN)
    values[PLAN_FIELDS.index("calibration")] = value
    out = callbacks.plan_outputs(values, shelf)
    assert out[6] == "" and not any(out[10:]), out[6]
    assert (
        "calibration=calibration%3Aselene.json" in out[7] or "calibration=calibration:selene.json" in out[7]
    )
    page = {row.children[1].id.removeprefix("plan-value-"): row.children[1] for row in out[0].children}
    cli = json.loads(
        run(
            *("plan", "--params", "39.1B", "--tokens", "300B", "--gpus", "512xA100-80GB"),
            *("--calibration", str(path), "--json"),
        ).stdout
    )
    for key in ("days", "gpu_hours"):  # the page plans as the command does, at the calibrated MFU
        assert float(getattr(page[key], "data-value")) == pytest.approx(cli[key], rel=1e-12)
    uncalibrated = callbacks.plan_outputs(callbacks.plan_from_url(PLAN), shelf)[0]
    other = {row.children[1].id: getattr(row.children[1], "data-value") for row in uncalibrated.children}
    assert float(other["plan-value-days"]) != pytest.approx(cli["days"], rel=0.01)
    # the same link on a server that never saw the file: one message next to the field, asking for it
    fresh = callbacks.plan_outputs(callbacks.plan_from_url(out[7]), Shelf())
    errors = dict(zip(PLAN_FIELDS, fresh[10:]))
    message = errors["calibration"] or fresh[6]
    assert "upload the calibration file again" in message
    values[PLAN_FIELDS.index("calibration")] = str(path)  # a server path is never read, only uploads
    errors = dict(zip(PLAN_FIELDS, callbacks.plan_outputs(values, shelf)[10:]))
    assert "not uploaded to this server" in (errors["calibration"] or "")
    bad, why = callbacks.use_calibration(data_url("{not json"), "bad.json", shelf)
    assert "not JSON" in why


def _probe_file(path: Path, tflops: float, accelerator: str = "probe-cpu") -> None:
    row = {"name": accelerator, "vendor": "measured", "fp32_tflops": tflops, "source": "a test's probe"}
    path.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "kind": "probe",
                "accelerator": accelerator,
                "factors": {"gemm_efficiency": {"value": 1.0, "interval": None}},
                "source": {"device": "cpu", "accelerator_row": row},
            }
        )
    )


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the sweep needs PyTorch")
def test_sweep_eta_from_a_probe_calibration_says_so(tmp_path):
    probe = tmp_path / "probe.json"
    _probe_file(probe, 0.05)
    args = ["sweep", "--preset", "smoke", "--out", str(tmp_path / "runs"), "--dry-run", "--workers", "1"]
    result = CliRunner().invoke(scaling.cli.main, [*args, "--calibration", str(probe)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stderr.splitlines() if x.startswith("dry run:"))
    assert (
        f"from calibration {probe}" in line and "measured peak 50 GFLOP/s" in line and "lower bound" in line
    )
    faster = tmp_path / "faster.json"
    _probe_file(faster, 0.5)
    other = CliRunner().invoke(scaling.cli.main, [*args, "--calibration", str(faster)])
    eta = lambda text: next(x for x in text.splitlines() if x.startswith("dry run:")).split("ETA ~")[1]  # noqa: E731
    minutes = lambda clock: int(clock.split("m")[0]) * 60 + int(clock.split("m")[1][:2])  # noqa: E731
    assert minutes(eta(other.stderr)) < minutes(eta(result.stderr))  # ten times the peak: a shorter ETA
    cal = tmp_path / "h100.json"
    assert run("calibrate", str(NARAYANAN), "-o", str(cal)).exit_code == 0  # an A100 calibration
    refused = CliRunner().invoke(scaling.cli.main, [*args, "--calibration", str(cal)])
    assert refused.exit_code == 2 and "measured on A100-80GB, not probe-cpu" in refused.output


def test_validation_table_has_25_published_runs_and_the_readme_shows_each():
    # bench/validate.py's runs (each with its source) are the README's table, row for row; its serving
    # rows are TensorRT-LLM perf-overview rows of 70B and 405B, which neither the serving tests (v0.6.1 and
    # v0.9.0 tables) nor the trtllm-bench fixture (Llama 3.1 8B) use
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("validate", root / "bench" / "validate.py")
    validate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(validate)
    training, serving = validate._runs(), validate.SERVING
    assert len(training) + len(serving) >= 25 and all(source for source, _ in training)
    readme = (root / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.strip().startswith("| ") and " step | " in line]
    table += [line for line in readme.splitlines() if line.strip().startswith("| TRT-LLM perf overview |")]
    assert len(table) == len(training) + len(serving)
    assert {model for model, *_ in serving} == {"llama-3.1-70b", "llama-3.1-405b"}
