"""``scaling plan --moe``: a mixture-of-experts plan by a law in Krajewski et al. 2024's form (arXiv
2402.07871; the user's file, the test law in tests/fixtures) beside the dense plan of equal loss; every
number is the estimators' own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main as cli
from scaling.errors import ScalingError
from scaling.flops import training_flops
from scaling.laws.moe import load_moe_law, moe_law_from_dict, training_flops_per_token
from scaling.model.shapes import moe_shape_for_params, shape_for_params
from scaling.plan import make_plan
from scaling.plan.moe import build_moe_plan
from scaling.plan.request import parse_plan_request

LAW_FILE = Path(__file__).parent / "fixtures" / "moe_law.json"
LAW = load_moe_law(LAW_FILE)


@pytest.fixture(scope="module")
def moe_plan():
    return build_moe_plan(
        parse_plan_request(gpus="2048xH800", days=60, moe=True, moe_law=str(LAW_FILE), price=2.0)
    )


def test_every_number_is_the_estimators_own(moe_plan):
    """The MoE side spends the budget at 6·N_active·D; its loss is the law's at the shape's own active count
    and chosen granularity; the dense side is the target-loss plan of that loss under the file's dense law;
    memory and layout are the plan's own (one layout, one memory)."""
    p = moe_plan
    budget = 2048 * p.moe.accelerator.peak("bf16") * 0.4 * 60 * 86400
    spec = p.moe.spec
    assert p.budget_flops == pytest.approx(budget, rel=1e-9)
    assert training_flops(spec, p.moe.tokens, convention="6nd").flops == pytest.approx(budget, rel=1e-9)
    assert p.loss == pytest.approx(LAW.loss(spec.active_params, p.moe.tokens, p.granularity))
    assert p.granularity == LAW.optimal(budget).granularity
    dense = make_plan(gpus="2048xH800", target_loss=p.loss, law=str(_dense_law_file(p)), price=2.0)
    assert p.dense.spec.params == dense.spec.params and p.dense.tokens == pytest.approx(dense.tokens)
    assert p.dense.loss == pytest.approx(p.loss, rel=1e-6)
    for side in (p.moe, p.dense):
        assert side.layout["total_bytes"] == pytest.approx(side.memory.total_bytes, rel=1e-9)
    d = p.to_dict()
    assert d["comparison"]["dense_over_moe_training_flops"] == pytest.approx(
        p.dense.training.flops / p.moe.training.flops
    )
    assert d["comparison"]["dense_over_moe_training_flops"] > 1  # the MoE reaches the loss for less compute
    assert d["moe_plan"]["experts"] == spec.n_experts == round(LAW.expansion * p.granularity)
    assert d["moe_plan"]["top_k"] == p.granularity and d["serving_unit"] == "USD"
    assert {"moe_plan", "dense_plan", "comparison", "moe_law", "warnings"} <= set(d)


def _dense_law_file(p) -> Path:
    """The file's dense law saved as a law file, for the plain `make_plan`."""
    import tempfile

    from scaling.laws.files import law_to_dict

    path = Path(tempfile.mkdtemp()) / "dense.json"
    path.write_text(json.dumps(law_to_dict(LAW.dense_law())))
    return path


def test_extrapolation_past_the_fit_range_is_said(moe_plan):
    assert any("active params" in w and "extrapolates" in w for w in moe_plan.warnings)


@settings(max_examples=40, deadline=None)
@given(log_flops=st.floats(18.0, 26.0))
def test_optimum_is_the_least_loss_on_the_budget(log_flops):
    """The optimum (Krajewski et al. 2024 §6: Eq. 11's FLOPs, routing included) spends the budget and beats
    every other split of the same FLOPs at every granularity."""
    flops = 10.0**log_flops
    best = LAW.optimal(flops)
    per_token = training_flops_per_token(best.active_params, LAW.expansion, best.granularity)
    assert per_token * best.tokens == pytest.approx(flops)
    for G in LAW.granularities:
        for f in (0.5, 0.8, 1.25, 2.0):
            n = best.active_params * f
            tokens = flops / training_flops_per_token(n, LAW.expansion, G)
            assert LAW.loss(n, tokens, G) >= best.loss - 1e-9


def test_moe_shape_keeps_the_dense_active_count():
    """Fine-grained experts (Krajewski et al.'s G): G x expansion experts of width d_ff / G, top-G: the active
    count stays the dense shape's (plus the router), the total grows by the expansion rate on the FFN."""
    dense = shape_for_params(7e9)
    moe = moe_shape_for_params(7e9, expansion=8, granularity=4)
    assert (moe.n_experts, moe.top_k, moe.d_ff_expert) == (32, 4, dense.ffn_dim // 4)
    router = moe.total_layers * moe.d_model * moe.n_experts
    assert moe.active_params == dense.params + router
    ffn = dense.total_layers * 3 * dense.d_model * dense.ffn_dim
    assert moe.params == dense.params + 7 * ffn + router


def test_done_when_command_prints_the_moe_plan_with_its_dense_comparison():
    args = ["plan", "--gpus", "2048xH800", "--days", "60", "--moe", "--moe-law", str(LAW_FILE)]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 0, run.output
    assert "MoE plan beside the dense plan of equal loss" in run.output and "experts (top-k)" in run.output
    d = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    assert d["moe_plan"]["days"] == pytest.approx(60.0) and d["dense_plan"]["days"] > 60


@pytest.mark.parametrize(
    "args, message",
    [
        (["--moe", "--moe-law", "krajewski"], "unknown MoE law 'krajewski'; did you mean krajewski2024"),
        (["--moe-law", str(LAW_FILE)], "--moe-law needs --moe"),
        (["--moe", "--moe-law", str(LAW_FILE), "--brief"], "--moe prints text or --json; drop --brief"),
    ],
)
def test_moe_without_what_it_needs_is_one_line_exit_2(args, message):
    run = CliRunner().invoke(cli, ["plan", "--gpus", "64xH100", "--days", "7", *args])
    assert run.exit_code == 2 and message in run.output and "Traceback" not in run.output


@pytest.mark.parametrize(
    "change, message",
    [
        ({"expansion": 1}, "expansion"),
        ({"moe": {"a": 1}}, "lacks alpha"),
        ({"dense": None}, "dense constants is missing"),
        ({"granularities": "4"}, "granularities"),
        ({"fit_range": {"N": [1, 2]}}, "fit_range N"),
    ],
)
def test_bad_moe_law_is_one_error_naming_the_field(change, message):
    entry = {**json.loads(LAW_FILE.read_text()), **change}
    with pytest.raises(ScalingError, match=message.replace("(", r"\(")):
        moe_law_from_dict(entry)
