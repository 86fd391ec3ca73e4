"""``scaling plan --calibration TRAIN --calibration SERVE``: one calibration per kind, each driving its own
part of the plan (the training time and cost; the serving section), and the app's upload
holding one of each."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import scaling.cli
from scaling.calibration import load_calibration
from scaling.cluster import Cluster

FIXTURES = Path(__file__).parent / "fixtures" / "calibration"
PLAN = ("plan", "--params", "39.1B", "--tokens", "300B", "--gpus", "512xA100-80GB")
SERVE = ("--serve-on", "2xH100", "--inference-tokens", "2T")


def run(*args: str):
    return CliRunner().invoke(scaling.cli.main, list(args))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A training calibration (Narayanan et al. 2021 Table 1, A100s) and a serving one (NVIDIA NIM's
    Llama-3.3-70B sweep on 2 H100s, FP8), written by ``scaling calibrate``."""
    folder = tmp_path_factory.mktemp("calibrations")
    train, serve = folder / "selene.json", folder / "nim.json"
    assert run("calibrate", str(FIXTURES / "narayanan_table1.csv"), "-o", str(train)).exit_code == 0
    nim = FIXTURES / "nim_llama33_70b_2xh100_fp8.jsonl"
    assert run("calibrate", str(nim), "--model", "llama-3.1-70b", "-o", str(serve)).exit_code == 0
    return train, serve


def test_every_number_is_the_estimators_own_with_both_calibrations(files):
    from scaling.plan import build_plan, parse_plan_request
    from scaling.serving import ServingAssumptions, serving_aware_optimum

    train, serve = files
    both = json.loads(
        run(*PLAN, *SERVE, "--calibration", str(train), "--calibration", str(serve), "--json").stdout
    )
    trained = json.loads(run(*PLAN, *SERVE, "--calibration", str(train), "--json").stdout)
    # the training side is the training calibration's alone
    for key in ("days", "gpu_hours", "energy_kwh"):
        assert both[key] == pytest.approx(trained[key], rel=1e-12)
    # the serving section is serving_aware_optimum's own under the serving calibration, through resolve
    options = dict(params="39.1B", tokens="300B", gpus="512xA100-80GB", serve_on="2xH100")
    plan = build_plan(parse_plan_request(**options, inference_tokens="2T", calibration=(train,)))
    own = serving_aware_optimum(
        "chinchilla",
        plan.budget.flops,
        inference_tokens=2e12,
        serve_on="2xH100",
        train_on=Cluster.of(plan.accelerator, plan.devices),
        train_mfu=plan.mfu,
        assumptions=ServingAssumptions(calibration=load_calibration(serve)),
    ).to_dict()
    for got, want in zip(both["serving"]["options"], own["options"], strict=True):
        assert got["label"] == want["label"]
        for key in ("params", "serving_usd", "total_usd", "batch", "decode_s_per_token"):
            assert got[key] == pytest.approx(want[key], rel=1e-12)
    # and it differs from the efficiency table's serving: the file changed it
    assert both["serving"]["options"][0]["serving_usd"] != pytest.approx(
        trained["serving"]["options"][0]["serving_usd"], rel=1e-3
    )
    # the assumptions say which numbers came from which file
    notes = both["assumptions"]
    assert any(n.startswith("MFU") and str(train) in n for n in notes)
    serving_note = [n for n in notes if n.startswith("serving efficiencies from") and str(serve) in n]
    assert len(serving_note) == 1 and "step_overhead_s" in serving_note[0]
    assert serving_note[0] in both["serving"]["notes"]
    assert not any(str(serve) in n for n in trained["assumptions"])


def test_two_of_one_kind_or_the_wrong_accelerator_refused_in_one_line(files):
    train, serve = files

    def refused(*args: str) -> str:
        result = run(*PLAN, *args)
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        return result.output

    twice = refused(*SERVE, "--calibration", str(serve), "--calibration", str(serve))
    assert "two serving calibrations" in twice and str(serve) in twice
    assert "two training calibrations" in refused("--calibration", str(train), "--calibration", str(train))
    unused = refused("--calibration", str(serve))  # this plan serves nothing
    assert str(serve) in unused and "--serve-on" in unused
    other = refused("--serve-on", "8xA100-80GB", "--inference-tokens", "2T", "--calibration", str(serve))
    assert str(serve) in other and "measured on H100-SXM, not A100-80GB" in other
    wrong = run(
        "plan", "--params", "39.1B", "--tokens", "300B", "--gpus", "512xH100", "--calibration", str(train)
    )
    assert wrong.exit_code == 2 and str(train) in wrong.output and "not H100-SXM" in wrong.output


def test_help_says_which_faces_take_one_file_and_which_one_per_kind():
    def calibration_help(command: str) -> str:
        text = " ".join(run(command, "--help").output.split())
        return text[text.index("--calibration FILE") :][:200]

    assert "at most one per kind (give the flag twice for both)" in calibration_help("plan")
    for command in ("inference", "flops", "memory", "finetune"):
        assert "(one file)" in calibration_help(command)


def _data_url(path: Path) -> str:
    return "data:application/json;base64," + base64.b64encode(path.read_bytes()).decode()


def test_app_upload_holds_one_of_each_and_its_command_line_runs(files):
    pytest.importorskip("dash")
    from scaling.app import callbacks
    from scaling.app.views import PLAN_FIELDS, Shelf, command_line

    train, serve = files
    shelf = Shelf()
    field, error = callbacks.use_calibration(_data_url(train), "selene.json", shelf, "")
    assert error == ""
    field, error = callbacks.use_calibration(_data_url(serve), "nim.json", shelf, field)
    assert (field, error) == ("calibration:selene.json, calibration:nim.json", "")
    again, _ = callbacks.use_calibration(_data_url(train), "selene-2.json", shelf, field)  # replaces its kind
    assert again == "calibration:nim.json, calibration:selene-2.json"
    values = callbacks.plan_from_url("?params=39.1B&tokens=300B&gpus=512xA100-80GB&serve-on=2xH100")
    values[PLAN_FIELDS.index("inference-tokens")] = "2T"
    values[PLAN_FIELDS.index("calibration")] = field
    out = callbacks.plan_outputs(values, shelf)
    assert out[6] == "" and not any(out[10:]), out[6]
    fields = dict(zip(PLAN_FIELDS, values))
    line = command_line({k: v for k, v in fields.items() if v})
    # the echoed command names the uploaded files as paths to run beside them, never the shelf's names
    assert "calibration:" not in line
    assert "--calibration selene.json --calibration nim.json" in line
    page = {row.children[1].id.removeprefix("plan-value-"): row.children[1] for row in out[0].children}
    cli = json.loads(
        run(*PLAN, *SERVE, "--calibration", str(train), "--calibration", str(serve), "--json").stdout
    )
    assert float(getattr(page["days"], "data-value")) == pytest.approx(cli["days"], rel=1e-12)


def test_moe_plans_default_serving_uses_the_serving_calibration(files):
    from scaling.plan import parse_plan_request
    from scaling.plan.moe import build_moe_plan
    from scaling.serving import ServingAssumptions
    from scaling.serving.search import cheapest_serving

    _, serve = files
    args = ("plan", "--gpus", "64xH100", "--days", "30", "--moe", "--moe-law")
    args += (str(Path(__file__).parent / "fixtures" / "moe_law.json"), "--json")
    plain = json.loads(run(*args).stdout)
    calibrated = json.loads(run(*args, "--calibration", str(serve)).stdout)
    assert plain["serving_assumptions"] == [] and str(serve) in calibrated["serving_assumptions"][0]
    law = str(Path(__file__).parent / "fixtures" / "moe_law.json")
    request = parse_plan_request(gpus="64xH100", days="30", moe=True, moe_law=law, calibration=(serve,))
    result = build_moe_plan(request)
    own = cheapest_serving(  # the cheapest serving's own number under the calibration, on one node
        result.moe.spec,
        "H100",
        devices=8,
        price_usd_per_hour=None if calibrated["serving_unit"] == "USD" else 1.0,  # device-hours
        keep=1,
        assumptions=ServingAssumptions(calibration=load_calibration(serve)),
        search_precision=True,  # the plan's serving chooses the precision too
    ).best.usd_per_million_output_tokens
    assert calibrated["moe_plan"]["serving_per_million_output_tokens"] == pytest.approx(own, rel=1e-12)
    for which in ("moe_plan", "dense_plan"):  # the training side is untouched
        assert calibrated[which]["days"] == pytest.approx(plain[which]["days"], rel=1e-12)
    assert calibrated["moe_plan"]["serving_per_million_output_tokens"] != pytest.approx(
        plain["moe_plan"]["serving_per_million_output_tokens"], rel=1e-4
    )
