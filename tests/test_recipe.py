"""The training recipe (`scaling.recipe`): learning-rate and batch laws against their papers, schedules,
the plan's recipe section, and Gadre et al. 2024's loss-to-error maps against the models they predicted."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main
from scaling.errors import ScalingError
from scaling.laws import get_law
from scaling.model import ModelSpec
from scaling.plan import make_plan, plan_markdown, plan_text
from scaling.recipe import (
    DEEPSEEK,
    SPREAD,
    STEP_LAW,
    RunShape,
    deepseek_batch_tokens,
    deepseek_flops_per_token,
    deepseek_learning_rate,
    make_schedule,
    steplaw_batch_tokens,
    steplaw_learning_rate,
    training_recipe,
)
from scaling.recipe.downstream import get_map
from scaling.recipe.schedule import parse_decay_fraction


# ------------------------------------------------------------------------------------ DeepSeek LLM
@pytest.mark.parametrize(
    "n_layer, d_model, n1, m, six_n1_over_m",
    [
        # Bi et al. 2024, Table 3 (l_seq 4096): N_1 = 12 n_layer d^2, M from Eq. 2, 6N_1/M
        (8, 512, 25.2e6, 352e6, 0.43),
        (12, 768, 84.9e6, 963e6, 0.53),
        (24, 1024, 302e6, 3.02e9, 0.60),
        (24, 2048, 1.21e9, 9.66e9, 0.75),
        (32, 4096, 6.44e9, 45.1e9, 0.85),
        (40, 5120, 12.6e9, 85.6e9, 0.88),
        (80, 8192, 64.4e9, 419e9, 0.92),
    ],
)
def test_deepseek_llm_table3_flops_per_token(n_layer, d_model, n1, m, six_n1_over_m):
    params = 12 * n_layer * d_model**2
    assert params == pytest.approx(n1, rel=0.005)
    flops_per_token = deepseek_flops_per_token(params, n_layer, d_model, 4096)
    assert flops_per_token == pytest.approx(m, rel=0.005)
    assert 6 * params / flops_per_token == pytest.approx(six_n1_over_m, abs=0.01)  # printed to 2 digits


@pytest.mark.parametrize(
    "compute, learning_rate, batch_tokens",
    [
        # the worked values of eta_opt = 0.3118 C^-0.125, B_opt = 0.2920 C^0.3271 (Bi et al. 2024, Eq. 1)
        (1e21, 7.39e-4, 2.16e6),
        (1e22, 5.55e-4, 4.59e6),
        (1e23, 4.16e-4, 9.74e6),
        (1e24, 3.12e-4, 20.7e6),
    ],
)
def test_deepseek_llm_eq1_worked_values(compute, learning_rate, batch_tokens):
    assert deepseek_learning_rate(compute) == pytest.approx(learning_rate, rel=0.002)
    assert deepseek_batch_tokens(compute) == pytest.approx(batch_tokens, rel=0.003)


DEEPSEEK_7B = ModelSpec(
    n_layer=30, d_model=4096, n_head=32, d_ff=11008, gated_ffn=True, vocab_size=102400, n_ctx=4096
)
DEEPSEEK_67B = ModelSpec(
    n_layer=95,
    d_model=8192,
    n_head=64,
    n_kv_head=8,
    d_ff=22016,
    gated_ffn=True,
    vocab_size=102400,
    n_ctx=4096,
)


@pytest.mark.parametrize(
    "spec, learning_rate, batch_sequences",
    [
        # Bi et al. 2024, Table 2: both trained on 2T tokens of 4096; peak LR and batch from their Eq. 1
        (DEEPSEEK_7B, 4.2e-4, 2304),
        (DEEPSEEK_67B, 3.2e-4, 4608),
    ],
)
def test_deepseek_llm_table2_hyperparameters_from_the_shape(spec, learning_rate, batch_sequences):
    """The rule converts the run's shape to C = M·D itself: the learning rate and batch DeepSeek LLM
    trained its 7B and 67B with come back from their shape and tokens (GQA kept in M for the 67B)."""
    answer = DEEPSEEK.answer(RunShape.of(spec, 2e12, 4096))
    assert answer.learning_rate == pytest.approx(learning_rate, rel=0.02)
    assert answer.batch_tokens / 4096 == pytest.approx(batch_sequences, rel=0.05)


def test_deepseek_compute_is_not_six_nd():
    """For a small model at long context C = M·D is a third above 6ND (attention; Bi et al. 2024 Table 3
    finds up to 50%): the conversion is the rule's, not the caller's."""
    small = ModelSpec(n_layer=8, d_model=512, n_head=8, vocab_size=32000, n_ctx=4096)
    run = RunShape.of(small, 1e9)
    assert run.deepseek_compute / run.flops > 1.3
    assert DEEPSEEK.learning_rate(run) == pytest.approx(float(deepseek_learning_rate(run.deepseek_compute)))


# --------------------------------------------------------------------------------------- Step Law
@pytest.mark.parametrize(
    "params, tokens, learning_rate, batch_tokens",
    [
        # eta = 1.7973 N^-0.71292 D^0.30749, B = 0.58069 D^0.57094 (Li et al. 2025, mean bootstrap fit)
        (7e9, 1.4e12, 9.35e-4, 5.0e6),
        (70e9, 15e12, 3.75e-4, 19.4e6),
        (400e9, 15e12, 1.08e-4, 19.4e6),
    ],
)
def test_step_law_worked_values(params, tokens, learning_rate, batch_tokens):
    assert steplaw_learning_rate(params, tokens) == pytest.approx(learning_rate, rel=0.005)
    assert steplaw_batch_tokens(tokens) == pytest.approx(batch_tokens, rel=0.005)


def test_step_law_reads_non_embedding_params():
    spec = ModelSpec(n_layer=7, d_model=960, n_head=15, d_ff=9368, gated_ffn=True, vocab_size=65536)
    # Li et al. 2025 (step-law/steplaw CSV): this shape's N is 4h^2 + 3 h ffn per layer x 7 = 214,663,680;
    # ours adds the norm gains (15 x 960 x 2 = 28,800, 0.013%)
    assert RunShape.of(spec, 1e9).params_non_embedding == pytest.approx(214_663_680, rel=2e-4)


def test_the_laws_disagree_in_kind():
    """DeepSeek's eta falls as the data grow (through C); Step Law's rises with D at fixed N."""
    short, long = RunShape.of(DEEPSEEK_7B, 1e11), RunShape.of(DEEPSEEK_7B, 1e13)
    assert DEEPSEEK.learning_rate(long) < DEEPSEEK.learning_rate(short)
    assert STEP_LAW.learning_rate(long) > STEP_LAW.learning_rate(short)


# --------------------------------------------------------------------------------------- schedules
def test_cosine_ends_at_ten_percent_after_warmup():
    s = make_schedule("cosine", params=1e9, batch_tokens=1e6, total_steps=10_000)
    assert s.warmup_steps == 1000  # N tokens of warmup (Porian et al. 2024), capped at 10% of the run
    lr = s.multipliers(np.arange(10_000))
    assert lr[999] == pytest.approx(1.0) and lr[-1] == pytest.approx(0.1, abs=1e-6)
    assert np.all(np.diff(lr[1000:]) <= 1e-12)


def test_wsd_holds_then_decays_over_its_fraction():
    s = make_schedule("wsd", params=1e6, batch_tokens=1e6, total_steps=1000, decay_fraction=0.2)
    lr = s.multipliers(np.arange(1001))
    assert s.warmup_steps == 1
    assert np.all(lr[1:800] == 1.0) and lr[1000] == pytest.approx(0.0)
    assert lr[900] == pytest.approx(0.5)


@settings(max_examples=50, deadline=None)
@given(
    kind=st.sampled_from(["cosine", "wsd"]),
    steps=st.integers(1, 100_000),
    params=st.floats(1e6, 1e12),
    fraction=st.floats(0.01, 0.99),
)
def test_schedules_stay_between_zero_and_the_peak(kind, steps, params, fraction):
    s = make_schedule(
        kind,
        params=params,
        batch_tokens=1e6,
        total_steps=steps,
        decay_fraction=fraction if kind == "wsd" else None,
    )
    lr = s.multipliers(np.linspace(0, steps, 257))
    assert np.all((lr >= 0) & (lr <= 1 + 1e-12))
    assert 1 <= s.warmup_steps <= max(1, steps)


@given(st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8))
def test_decay_fraction_is_a_fraction_below_one(value):
    try:
        fraction = parse_decay_fraction(value)
    except ScalingError as exc:
        assert "--decay-fraction" in str(exc)
    else:
        assert 0 < fraction < 1


# ---------------------------------------------------------------------------------- in the plan
@pytest.fixture(scope="module")
def plan_512():
    return make_plan(gpus="512xH100", days=30, mfu=0.4)


def test_plan_prints_a_complete_recipe(plan_512):
    data = plan_512.to_dict()
    for key in ("learning_rate", "warmup_steps", "schedule", "global_batch_tokens", "adam", "hp_law"):
        assert key in data
    assert data["hp_law"] == "deepseek"
    assert set(data["adam"]) >= {"beta1", "beta2", "eps", "weight_decay", "source"}
    assert data["schedule"]["kind"] == "cosine" and data["schedule"]["source"]
    text = plan_text(plan_512)
    for label in ("peak learning rate", "warmup", "schedule", "AdamW", "Bi et al. 2024", "Li et al. 2025"):
        assert label in text
    assert "Training recipe" in plan_markdown(plan_512)


def test_every_recipe_number_is_the_estimators_own(plan_512):
    run = RunShape.of(plan_512.spec, plan_512.tokens, plan_512.seq_len)
    recipe = training_recipe(
        plan_512.spec, plan_512.tokens, seq_len=plan_512.seq_len, batch_tokens=plan_512.global_batch_tokens
    )
    assert plan_512.recipe == recipe
    assert plan_512.to_dict()["learning_rate"] == DEEPSEEK.learning_rate(run)
    # the plan's default batch is the chosen law's B_opt, rounded to the layout
    assert plan_512.global_batch_tokens == pytest.approx(DEEPSEEK.batch_tokens(run), rel=0.1)
    steps = plan_512.to_dict()["schedule"]["total_steps"]
    assert steps == pytest.approx(plan_512.step.steps, abs=1)


def test_hp_law_steplaw_sets_the_batch_and_learning_rate():
    plan = make_plan(gpus="512xH100", days=30, mfu=0.4, hp_law="steplaw")
    run = RunShape.of(plan.spec, plan.tokens, plan.seq_len)
    assert plan.recipe.learning_rate == STEP_LAW.learning_rate(run)
    assert plan.global_batch_tokens == pytest.approx(STEP_LAW.batch_tokens(run), rel=0.1)
    assert plan.to_dict()["hp_law"] == "steplaw"


def test_disagreeing_laws_are_both_printed(plan_512):
    """At 38.6B on 2.27T tokens the batches differ 2.6x (17.2M vs 6.6M tokens): both are printed."""
    others = {o.law: o for o in plan_512.recipe.others}
    ratio = plan_512.recipe.chosen.batch_tokens / others["steplaw"].batch_tokens
    assert ratio > SPREAD
    assert "steplaw (differs > 2x)" in plan_text(plan_512)
    assert plan_512.to_dict()["hp_laws_disagree"] == ["steplaw"]


def test_agreeing_laws_say_so():
    """A 3B model on 100 tokens per parameter: the laws agree within 2x (1.9x at most)."""
    plan = make_plan(params="3B", tokens="300B", gpus="64xH100")
    assert plan.recipe.disagreements == ()
    assert "agrees within 2x" in plan_text(plan)


def test_wsd_plan_and_decay_fraction_refused_with_cosine():
    plan = make_plan(gpus="64xH100", days=7, schedule="wsd", decay_fraction="0.2")
    assert plan.to_dict()["schedule"]["decay_fraction"] == 0.2
    result = CliRunner().invoke(main, ["plan", "--gpus", "64xH100", "--days", "7", "--decay-fraction", "0.2"])
    assert result.exit_code == 2 and "--decay-fraction" in result.output
    assert len(result.output.strip().splitlines()) == 1


# ------------------------------------------------------------------------ Gadre et al. 2024 maps
# Gadre et al. 2024's two held-out RedPajama models, as their repository records them (mlfoundations/scaling,
# exp_data/models/rpj-open_lm_{1b-32.0,7b-1.0}.json: params, tokens and C4-val loss; exp_data/evals/: the
# mean top-1 error over the 17-task SUBSET of scaling/constants.py).
GADRE_TARGETS = [
    # params, tokens, C4 loss, 17-task error, paper's loss rel. error, paper's 17-task error rel. error
    (1_439_795_200, 921_468_928_000, 2.502054, 0.475215, 0.007103, 0.036365),  # 1.4B, M = 640
    (6_889_410_560, 137_788_211_200, 2.424993, 0.471637, 0.007320, 0.000464),  # 6.9B, M = 20
]


@pytest.mark.parametrize("params, tokens, loss, error, loss_rel, error_rel", GADRE_TARGETS)
def test_gadre_2024_redpajama_predicts_1b_and_7b(params, tokens, loss, error, loss_rel, error_rel):
    """Gadre et al.'s RedPajama fit predicts their 1.4B (32x over-trained) and 6.9B models' C4 loss and
    17-task error with the relative errors their notebook reports, to within 0.1 point (our constants are
    rounded to 4-5 digits)."""
    law, downstream = get_law("gadre-redpajama"), get_map("gadre-redpajama-17")
    predicted_loss = float(law.predict(params, tokens))
    assert abs(predicted_loss - loss) / loss == pytest.approx(loss_rel, abs=0.001)
    predicted_error = float(downstream.error(predicted_loss))  # error from the *predicted* loss
    assert abs(predicted_error - error) / error == pytest.approx(error_rel, abs=0.001)
    low, high = downstream.predict(predicted_loss).interval
    assert low <= error <= high


def test_gadre_law_is_the_papers_form():
    """L(C, M) = E + (a M^eta + b M^-eta) C^-eta with M = D/N (Gadre et al. 2024, their code's powlaw_ours)
    equals the preset's E + A/N^alpha + B/D^beta."""
    law = get_law("gadre-c4")
    E, eta, a, b = 1.5083, 0.1212, 141.28, 189.52
    N, D = 1.4e9, 1.4e9 * 80 * 20
    C, M = 6 * N * D, D / N
    assert float(law.predict(N, D)) == pytest.approx(E + (a * M**eta + b * M**-eta) * C**-eta, rel=1e-4)


def test_plan_with_a_gadre_law_prints_the_expected_error():
    plan = make_plan(gpus="64xH100", days=7, law="gadre-redpajama")
    (prediction,) = plan.downstream
    assert prediction.value == pytest.approx(float(get_map("gadre-redpajama-17").error(plan.loss)))
    low, high = prediction.interval
    assert low < prediction.value < high and prediction.level == 0.8
    assert "17-task average top-1 error" in plan_text(plan)
    assert plan.to_dict()["downstream"][0]["interval"] == [low, high]


def test_downstream_map_refused_for_a_law_on_other_data():
    result = CliRunner().invoke(
        main, ["plan", "--gpus", "64xH100", "--days", "7", "--downstream", "gadre-redpajama-17"]
    )
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "chinchilla" in result.output and "C4 validation" in result.output


def test_plan_json_has_the_recipe_keys():
    result = CliRunner().invoke(
        main, ["plan", "--gpus", "64xH100", "--days", "7", "--hp-law", "steplaw", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["hp_law"] == "steplaw" and data["learning_rate"] > 0 and data["warmup_steps"] >= 1


# ------------------------------------------------------------------- fitted hyperparameter laws
def _synthetic_hp_runs(seed: int = 0, noise: float = 0.0005):
    """Runs whose loss is Chinchilla's L(N, D) at eta_opt = 0.3118 C^-0.125 and B_opt = 0.292 C^0.3271
    (DeepSeek's constants as the truth), higher elsewhere on a 2x grid of learning rates and batches, with
    loss noise."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    chinchilla = get_law("chinchilla")
    rows = []
    for C in (1e17, 3e17, 1e18, 3e18, 1e19):
        for n_factor in (0.5, 1.0, 2.0):
            N = n_factor * (C / 120) ** 0.5
            for lr_f in 2.0 ** np.arange(-2, 3):
                for b_f in 2.0 ** np.arange(-2, 3):
                    loss = float(chinchilla.predict(N, C / (6 * N))) + 0.03 * (
                        np.log(lr_f) ** 2 + np.log(b_f) ** 2
                    )
                    rows.append(
                        dict(
                            N=N,
                            D=C / (6 * N),
                            C=C,
                            budget=C,
                            loss=loss * (1 + noise * rng.standard_normal()),
                            lr=0.3118 * C**-0.125 * lr_f,
                            batch=0.292 * C**0.3271 * b_f / 1024,
                            seq_len=1024,
                        )
                    )
    return pd.DataFrame(rows)


def test_fit_hyperparameters_recovers_a_synthetic_ladder():
    from scaling.fit.hyperparameters import fit_hyperparameters

    fit = fit_hyperparameters(_synthetic_hp_runs(), bootstrap=200, seed=1)
    assert fit.lr_exp == pytest.approx(-0.125, abs=0.03)
    assert fit.batch_exp == pytest.approx(0.3271, abs=0.03)
    low, high = fit.interval(1)
    assert low <= fit.lr_exp <= high
    assert fit.batch_varied and fit.budgets == 5


def test_fit_hyperparameters_refuses_one_budget():
    from scaling.fit.hyperparameters import fit_hyperparameters

    runs = _synthetic_hp_runs()
    with pytest.raises(ScalingError, match="2 or more budgets"):
        fit_hyperparameters(runs[runs["C"] == 1e17], bootstrap=0)
    with pytest.raises(ScalingError, match="lr column"):
        fit_hyperparameters(runs.drop(columns="lr"), bootstrap=0)


def test_fitted_law_file_is_used_by_the_plan(tmp_path):
    """``scaling fit RUNS --hyperparameters -o law.json``: the law carries eta_opt(C), B_opt(C), and the plan
    uses them by default, its batch and learning rate the fitted law's at the plan's 6ND."""
    runs = _synthetic_hp_runs()
    runs.to_csv(tmp_path / "runs.csv", index=False)
    out = tmp_path / "law.json"
    result = CliRunner().invoke(
        main, ["fit", str(tmp_path / "runs.csv"), "--hyperparameters", "--bootstrap", "50", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["hyperparameters"]["learning_rate"]["exp"] == pytest.approx(-0.125, abs=0.03)
    plan = make_plan(flops=1e19, law=str(out), gpus="8xH100")
    assert plan.to_dict()["hp_law"] == "law"
    fitted = saved["hyperparameters"]["learning_rate"]
    run = RunShape.of(plan.spec, plan.tokens, plan.seq_len)
    assert plan.recipe.learning_rate == pytest.approx(fitted["coef"] * run.flops ** fitted["exp"])
    assert [o.law for o in plan.recipe.others] == ["deepseek", "steplaw"]


def test_lr_grid_plans_each_run_at_neighbouring_learning_rates(tmp_path):
    pytest.importorskip("torch")
    from scaling.train.sweep import plan_sweep

    plain = plan_sweep(tmp_path / "a", preset="smoke")
    grid = plan_sweep(tmp_path / "b", preset="smoke", lr_grid=3, batch_grid=2)
    assert len(grid.configs) == 6 * len(plain.configs)
    base = plain.configs[0]
    lrs = sorted({c.lr for c in grid.configs if (c.d_model, c.budget) == (base.d_model, base.budget)})
    assert lrs == pytest.approx([base.lr / 2, base.lr, base.lr * 2])
    assert grid.recipe["lr_grid"] == 3 and "lr_grid" not in plain.recipe
