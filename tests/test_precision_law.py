"""Kumar et al. 2024 ("Scaling Laws for Precision", arXiv 2411.04330): the post-training quantization
penalty delta_PTQ = C_T D^gamma_D / N^gamma_N exp(-P/gamma_post + b_post) from a user's law file or the
shipped preset, in `scaling loss` and the plan (the paper's own numbers: test_precision_kumar2024.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main as cli
from scaling.errors import ScalingError
from scaling.laws import get_law
from scaling.laws.precision import load_precision_law, precision_law_from_dict, quantized_loss

LAW_FILE = Path(__file__).parent / "fixtures" / "precision_law.json"
LAW = load_precision_law(LAW_FILE)


@settings(max_examples=80, deadline=None)
@given(
    params=st.floats(1e7, 1e12),
    ratio=st.floats(1.0, 1e4),
    more=st.floats(1.01, 100.0),
    bits=st.sampled_from([4.0, 8.0]),
    gamma=st.floats(0.05, 2.0),
)
def test_penalty_grows_with_tokens_per_parameter(params, ratio, more, bits, gamma):
    """At fixed N and precision, more tokens per parameter cost more after quantizing, as D^gamma_D."""
    law = precision_law_from_dict(
        {"constants": {"C_T": 0.1, "gamma_D": gamma, "gamma_N": gamma, "gamma_post": 1.0}}
    )
    few, many = (
        law.ptq_penalty(params, params * ratio, bits),
        law.ptq_penalty(params, params * ratio * more, bits),
    )
    assert many > few
    assert many / few == pytest.approx(more**gamma, rel=1e-9)


def test_equal_exponents_make_the_penalty_a_function_of_tokens_per_parameter():
    """gamma_D = gamma_N: a 10x larger model trained on 10x the tokens loses the same to quantization."""
    assert LAW.ptq_penalty(1e8, 2e9, 4) == pytest.approx(LAW.ptq_penalty(1e9, 2e10, 4), rel=1e-12)


def test_fewer_bits_cost_more_by_the_exponential():
    ratio = LAW.ptq_penalty(1e9, 2e10, 4) / LAW.ptq_penalty(1e9, 2e10, 8)
    assert ratio == pytest.approx(math.exp(4 / LAW.gamma_post))


def test_hand_computed_penalty():
    """0.05 x (15e12)^0.5 / (8e9)^0.5 x exp(-4/1.2) for Llama-3-8B-like 15T tokens at int4."""
    expected = 0.05 * math.sqrt(15e12 / 8e9) * math.exp(-4 / 1.2)
    q = quantized_loss(LAW, 8e9, 15e12, "int4", 1.9)
    assert q.penalty == pytest.approx(expected, rel=1e-12)
    assert q.quantized_loss == pytest.approx(1.9 + expected)


def test_loss_command_prints_the_quantized_loss_as_json():
    args = ["loss", "--params", "8B", "--tokens", "15T", "--quant", "int4", "--precision-law", str(LAW_FILE)]
    run = CliRunner().invoke(cli, [*args, "--json"])
    assert run.exit_code == 0, run.output
    d = json.loads(run.output[run.output.index("{") :])
    ptq = d["post_training_quantization"]
    base = get_law("chinchilla").loss_at(8e9, 15e12).loss
    assert ptq["loss_before_quant"] == pytest.approx(base) == pytest.approx(d["loss"])
    assert ptq["quantized_loss"] == pytest.approx(base + LAW.ptq_penalty(8e9, 15e12, 4))
    assert ptq["tokens_per_param"] == pytest.approx(1875) and ptq["bits"] == 4
    text = CliRunner().invoke(cli, args).output
    assert "loss after int4 PTQ" in text and "outside test-ptq-law's fit range" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--precision-law", str(LAW_FILE)], "--precision-law needs --quant"),
        (["--precision-law", "kumar2024"], "--precision-law needs --quant"),
        (["--quant", "int4", "--train-bits", "8"], "Eq. 9"),
        (["--train-bits", "3"], "invalid --train-bits 3: expected 4 to 32 bits"),
        (["--train-bits", "many"], "invalid --train-bits 'many'"),
        (["--train-bits", "8", "--precision-law", str(LAW_FILE)], "no 'training' constants"),
        (["--quant", "int4", "--precision-law", "kumar2025"], "expected a preset (kumar2024) or a JSON"),
        (["--quant", "int3", "--precision-law", str(LAW_FILE)], "int3"),
        (["--quant", "int4", "--precision-law", "nowhere.json"], "does not exist"),
    ],
)
def test_quant_without_what_it_needs_is_one_line_exit_2(args, message):
    run = CliRunner().invoke(cli, ["loss", "--params", "8B", "--tokens", "15T", *args])
    assert run.exit_code == 2 and message in run.output and "Traceback" not in run.output


@pytest.mark.parametrize(
    "entry, message",
    [
        ({}, "no 'constants'"),
        ({"constants": {"C_T": 1, "gamma_D": 0.5, "gamma_N": 0.5}}, "lack gamma_post"),
        ({"constants": {"C_T": -1, "gamma_D": 0.5, "gamma_N": 0.5, "gamma_post": 1}}, "C_T"),
        ({"constants": {"C_T": 1, "gamma_D": 9, "gamma_N": 0.5, "gamma_post": 1}}, "gamma_D 9"),
        ({"constants": {"C_T": "x", "gamma_D": 0.5, "gamma_N": 0.5, "gamma_post": 1}}, "expected a number"),
        (
            {
                "constants": {"C_T": 1, "gamma_D": 0.5, "gamma_N": 0.5, "gamma_post": 1},
                "fit_range": {"N": [1, 2]},
            },
            "fit_range N",
        ),
    ],
)
def test_bad_law_file_is_one_error_naming_the_field(entry, message):
    with pytest.raises(ScalingError, match=message.replace("(", r"\(")):
        precision_law_from_dict(entry)


def test_plan_prints_each_serving_option_after_quantizing():
    """The plan's section: its own model and each serving option (served at int4) with delta_PTQ for its own
    N and D; the over-trained flop-priced option pays the most."""
    from scaling.plan import make_plan

    plan = make_plan(
        gpus="64xH100",
        days=7,
        inference_tokens="2T",
        serve_on="8xH100",
        post_quant="int4",
        precision_law=str(LAW_FILE),
    )
    rows = dict(plan.quantized)
    assert set(rows) == {"plan", "compute-optimal", "flop-priced", "serving-priced"}
    for option in plan.serving.options:
        q = rows[option.label]
        assert q.loss == option.loss and q.penalty == pytest.approx(
            LAW.ptq_penalty(option.params, option.tokens, 4)
        )
    assert rows["plan"].penalty == pytest.approx(LAW.ptq_penalty(plan.spec.params, plan.tokens, 4))
    assert rows["flop-priced"].penalty == max(q.penalty for q in rows.values())
    d = plan.to_dict()["post_training_quantization"]
    assert [r["model"] for r in d][0] == "plan" and d[0]["quantized_loss"] == pytest.approx(
        rows["plan"].quantized_loss
    )
    assert plan.serving.workload.quant == "int4"


def test_plan_quant_without_a_law_uses_the_default_preset():
    """``--quant`` alone is priced by the one default (`DEFAULT_PRECISION_LAW`), as ``scaling loss`` does."""
    from scaling.laws.precision import DEFAULT_PRECISION_LAW, precision_law
    from scaling.plan import make_plan

    plan = make_plan(gpus="64xH100", days=7, post_quant="int8")
    (label, q), *_ = plan.quantized
    default = precision_law(DEFAULT_PRECISION_LAW)
    assert q.law == default and q.penalty == pytest.approx(
        default.ptq_penalty(plan.spec.params, plan.tokens, 8)
    )
    run = CliRunner().invoke(cli, ["plan", "--gpus", "64xH100", "--days", "7", "--quant", "int8"])
    assert run.exit_code == 0 and "kumar2024" in run.output and "outside the law's fit range" in run.output
    run = CliRunner().invoke(
        cli, ["plan", "--gpus", "64xH100", "--days", "7", "--precision-law", "kumar2024"]
    )
    assert run.exit_code == 2 and "--precision-law needs --quant" in run.output


def test_loss_quant_without_a_law_is_the_default_preset_with_its_range():
    args = ["loss", "--params", "8B", "--tokens", "15T", "--quant", "int4"]
    d, named = (
        _json(CliRunner().invoke(cli, [*args, *more, "--json"]).output)
        for more in ([], ["--precision-law", "kumar2024"])
    )
    assert d["post_training_quantization"] == named["post_training_quantization"]
    assert d["post_training_quantization"]["precision_law"]["name"] == "kumar2024"
    text = " ".join(CliRunner().invoke(cli, args).output.split())
    assert "fit range params 3e+07-2.2e+08; tokens 1.5e+09-2.6e+10" in text
    assert "outside kumar2024's fit range" in text and "App. K" in text


def _json(output: str) -> dict:
    return json.loads(output[output.index("{") :])
