"""The shipped ``kumar2024`` precision law against what Kumar et al. 2024 ("Scaling Laws for Precision", arXiv
2411.04330, ICLR 2025) state: App. K Table 2's constants, the compute-optimal precision of Sec. 4.3.2, the
compute-matched models of Fig. 6 / App. J, Sec. 3.1's data scaling of delta_PTQ and App. E.1's critical data
size; and ``scaling loss --train-bits``, which reads a law at the paper's effective parameter count."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main as cli
from scaling.errors import ScalingError
from scaling.laws import get_law
from scaling.laws.precision import DEFAULT_PRECISION_LAW, precision_law, precision_law_presets
from scaling.laws.precision_training import BASELINE_BITS, low_precision_training

KUMAR = precision_law("kumar2024")
TRAINING = KUMAR.training
PAPER_LOSS = (
    KUMAR.paper_loss
)  # the paper's own fit: L = A N_eff^-alpha + B D^-beta + E (Eq. 1 without delta_PTQ)


def paper_loss(params, tokens, bits):
    """Kumar et al.'s fitted loss of a model trained at ``bits`` (weights, activations, KV cache tied)."""
    n_eff = np.asarray(params, dtype=float) * TRAINING.effective_fraction(bits)
    p = PAPER_LOSS
    return p["A"] * n_eff ** -p["alpha"] + p["B"] * np.asarray(tokens, dtype=float) ** -p["beta"] + p["E"]


# App. K, Table 2 ("Fitted constants and their values"): the table prints the activations' pair as gamma_i,
# n_i and the post-training exponent fit as gamma with offset b.
TABLE_2 = [
    ("A", KUMAR.paper_loss["A"], 4.299e3),
    ("alpha", KUMAR.paper_loss["alpha"], 0.4965),
    ("B", KUMAR.paper_loss["B"], 1.806e4),
    ("E", KUMAR.paper_loss["E"], 2.7648),
    ("gamma_w", TRAINING.gamma_w, 2.6745),
    ("n_w", TRAINING.n_w, 0.3037),
    ("gamma_i", TRAINING.gamma_a, 2.2102),
    ("n_i", TRAINING.n_a, 1.4072),
    ("gamma_kv", TRAINING.gamma_kv, 0.9578),
    ("n_kv", TRAINING.n_kv, 2.4185),
    ("C_T", KUMAR.C_T, 0.0598),
    ("gamma_D", KUMAR.gamma_D, 0.5068),
    ("gamma_N", KUMAR.gamma_N, 0.3439),
    ("gamma", KUMAR.gamma_post, 0.5907),
    ("b", KUMAR.b_post, 1.1277),
]


@pytest.mark.parametrize("name, shipped, table", TABLE_2, ids=[row[0] for row in TABLE_2])
def test_kumar2024_app_k_table_2(name, shipped, table):
    assert shipped == table
    assert KUMAR.paper_loss["beta"] == KUMAR.paper_loss["alpha"]  # App. K: "we tie alpha = beta"


def test_kumar2024_is_the_default_and_its_fit_range_is_section_2_3_sweep():
    """Sec. 2.3: N in 30M-220M (non-embedding), D in 1.5B-26B tokens."""
    assert DEFAULT_PRECISION_LAW in precision_law_presets()
    assert precision_law() == KUMAR
    assert KUMAR.fit_range == {"params": (3e7, 2.2e8), "tokens": (1.5e9, 2.6e10)}
    assert KUMAR.outside_fit(1.1e8, 1.3e10) == [] and len(KUMAR.outside_fit(8e9, 15e12)) == 2


def test_kumar2024_section_4_3_2_compute_optimal_precision_is_7_to_8_bits():
    """Finding 3: with N, D, P free at C proportional to N D P, the optimal precision is independent of
    compute and "our fits imply that 7-8 bits are compute-optimal". Brute force over (N, P) with the paper's
    own loss at two budgets 1000x apart agrees with the closed condition `compute_optimal_bits`."""
    p_star = TRAINING.compute_optimal_bits()
    assert 7.0 <= p_star <= 8.0
    bits = np.linspace(4.0, 16.0, 1201)[:, None]
    for compute in (1e19, 1e22):  # C = 6/16 N D P (Eq. 5)
        params = np.logspace(6, 12, 3001)[None, :]
        tokens = compute / (6 / 16 * params * bits)
        loss = paper_loss(params, tokens, bits)
        best_bits = bits[np.unravel_index(np.argmin(loss), loss.shape)[0], 0]
        assert best_bits == pytest.approx(p_star, abs=0.02)


def test_kumar2024_section_4_3_3_fixed_size_optimal_precision_grows_as_log_compute():
    """Sec. 4.3.3 / App. E.2.2: with N fixed (here Llama-3-8B's 8B) and D, P free at C proportional to N D P,
    "compute-optimal precision scales as P*(C) ∝ log C", P* ~ beta gamma ln C at large C: the bits gained per
    decade of compute rise towards beta gamma ln 10, gamma the part that saturates last (gamma_w)."""
    bits = np.linspace(3.5, 40.0, 36501)
    alive = TRAINING.effective_fraction(bits) > 0
    best = []
    for compute in 10.0 ** np.arange(21, 28):
        loss = paper_loss(8e9, compute / (6 / 16 * 8e9 * bits), bits)
        best.append(bits[np.argmin(np.where(alive, loss, np.inf))])
    per_decade = np.diff(best)
    assert np.all(per_decade > 0) and np.all(np.diff(per_decade) > 0)
    slowest = max(TRAINING.gamma_w, TRAINING.gamma_a, TRAINING.gamma_kv)
    assert per_decade[-1] == pytest.approx(PAPER_LOSS["beta"] * slowest * np.log(10), rel=0.03)


def test_kumar2024_figure_6_compute_matched_models_predict_8_bits_best():
    """App. J / Fig. 6: models with N P fixed on 16B tokens (4-bit 1.76B ... 32-bit 220M); the integer fit's
    prediction is lowest at 8 bits (880M), and training larger in lower precision beats 16 and 32 bits
    (Fig. 1, right: "Training larger models in lower precision can be compute optimal")."""
    suite = {4: 1.76e9, 6: 1.17e9, 8: 0.88e9, 16: 0.44e9, 32: 0.22e9}
    loss = {bits: paper_loss(params, 16e9, bits) for bits, params in suite.items()}
    assert min(loss, key=loss.get) == 8
    assert loss[8] < loss[16] < loss[32]
    assert all(2.9 < value < 3.3 for value in loss.values())  # Fig. 6 (left)'s axis


def test_kumar2024_section_4_3_2_below_4_bits_needs_over_4x_the_parameters():
    """Sec. 4.3.2: going below 4 bits "would force model sizes to become disproportionately (more than 4x)
    larger" (N_eff relative to 16-bit training below 1/4)."""
    relative = TRAINING.effective_fraction(np.array([3.5, 3.9, 3.99])) / TRAINING.effective_fraction(16)
    assert np.all(relative < 0.25)
    assert TRAINING.effective_fraction(8) / TRAINING.effective_fraction(16) > 0.25


def test_kumar2024_section_3_1_overtrained_models_degrade_more():
    """Sec. 3.1: delta_PTQ "increases in training data size across all model sizes, but ... for a fixed
    dataset size larger models incur a smaller degradation"; gamma_D and gamma_N are similar, so it is close
    to a power law in D/N."""
    sizes = np.array([30e6, 60e6, 110e6, 220e6])[:, None]
    tokens = np.array([1.5e9, 3e9, 6e9, 13e9, 26e9])[None, :]
    penalty = KUMAR.ptq_penalty(sizes, tokens, 4)
    assert np.all(np.diff(penalty, axis=1) > 0) and np.all(np.diff(penalty, axis=0) < 0)
    assert abs(KUMAR.gamma_D - KUMAR.gamma_N) < 0.5 * KUMAR.gamma_N


def test_kumar2024_appendix_e1_critical_data_size():
    """App. E.1, Eq. 13: past D_crit more pretraining raises the loss after quantizing, with the paper's own
    B, beta; at 5 bits that happens only at D/N above 10^3 across the fitted sizes, and at 8 bits D_crit is "a
    truly unreasonable amount of data"."""
    B, beta = PAPER_LOSS["B"], PAPER_LOSS["beta"]
    tokens = np.logspace(8, 16, 80001)
    for params in (30e6, 220e6):
        after = B * tokens**-beta + KUMAR.ptq_penalty(params, tokens, 4)
        critical = KUMAR.critical_tokens(params, 4, B, beta)
        assert tokens[np.argmin(after)] == pytest.approx(critical, rel=1e-3)
        assert KUMAR.critical_tokens(params, 5, B, beta) / params > 1e3
        assert KUMAR.critical_tokens(params, 8, B, beta) / params > 1e5


@settings(max_examples=60, deadline=None)
@given(
    params=st.floats(1e7, 1e12),
    ratio=st.floats(1.0, 1e4),
    more=st.floats(1.01, 100.0),
    bits=st.floats(2.0, 16.0),
    fewer=st.floats(0.25, 4.0),
)
def test_kumar2024_penalty_grows_with_tokens_per_parameter_and_falls_with_bits(
    params, ratio, more, bits, fewer
):
    base = KUMAR.ptq_penalty(params, params * ratio, bits)
    assert KUMAR.ptq_penalty(params, params * ratio * more, bits) > base
    assert KUMAR.ptq_penalty(params, params * ratio, bits - fewer) > base


@settings(max_examples=60, deadline=None)
@given(
    bits=st.floats(4.0, 31.0), more=st.floats(0.1, 8.0), params=st.floats(1e7, 1e12), ratio=st.floats(1, 1e4)
)
def test_kumar2024_training_loss_falls_with_bits(bits, more, params, ratio):
    """N_eff / N rises with bits towards 1, so a law read at N_eff loses less with more bits."""
    higher = min(bits + more, 32.0)
    low, high = TRAINING.effective_fraction(bits), TRAINING.effective_fraction(higher)
    assert 0 < low < high <= 1
    chinchilla = get_law("chinchilla")
    at = [low_precision_training(KUMAR, chinchilla, params, params * ratio, b) for b in (bits, higher)]
    assert at[0].loss_at_bits > at[1].loss_at_bits


def test_loss_train_bits_reads_the_law_at_the_effective_parameter_count():
    args = ["loss", "--params", "1B", "--tokens", "20B", "--train-bits", "8", "--json"]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 0, run.output
    d = json.loads(run.output[run.output.index("{") :])
    trained = d["low_precision_training"]
    fraction = TRAINING.effective_fraction(8) / TRAINING.effective_fraction(BASELINE_BITS)
    chinchilla = get_law("chinchilla")
    assert trained["effective_param_fraction"] == pytest.approx(fraction)
    assert trained["loss_at_16_bits"] == pytest.approx(d["loss"])
    assert trained["loss_at_bits"] == pytest.approx(chinchilla.loss_at(1e9 * fraction, 20e9).loss)
    assert trained["training_precision_penalty"] > 0
    assert trained["compute_optimal_bits"] == pytest.approx(TRAINING.compute_optimal_bits())
    assert trained["precision_law"]["training"]["gamma_kv"] == 0.9578
    text = " ".join(CliRunner().invoke(cli, args[:-1]).output.split())
    assert "loss trained at 8 bits" in text and "compute-optimal training precision 7.00 bits" in text


def test_sixteen_bit_training_costs_nothing():
    trained = low_precision_training(KUMAR, get_law("chinchilla"), 1e9, 20e9, 16)
    assert trained.penalty == 0 and trained.effective_fraction == 1


def test_loss_quant_prints_the_critical_tokens_of_the_law():
    """``scaling loss --quant`` with a parametric law: Eq. 13 with that law's B and beta."""
    run = CliRunner().invoke(cli, ["loss", "--params", "8B", "--tokens", "15T", "--quant", "int4", "--json"])
    ptq = json.loads(run.output[run.output.index("{") :])["post_training_quantization"]
    chinchilla = get_law("chinchilla")
    assert ptq["critical_tokens"] == pytest.approx(
        KUMAR.critical_tokens(8e9, 4, chinchilla.B, chinchilla.beta)
    )
    run = CliRunner().invoke(
        cli, ["loss", "--params", "8B", "--tokens", "15T", "--quant", "int4", "--law", "kaplan"]
    )
    assert run.exit_code == 0 and "raise the int4 loss" not in run.output


@pytest.mark.parametrize(
    "training, message",
    [
        ({"gamma_w": 1, "n_w": 0, "gamma_a": 1, "n_a": 0, "gamma_kv": -1, "n_kv": 0}, "gamma_kv"),
        ({"gamma_w": 1, "n_w": 0, "gamma_a": 1, "n_a": 0, "gamma_kv": 1}, "lacks n_kv"),
        ({"gamma_w": 1, "n_w": "x", "gamma_a": 1, "n_a": 0, "gamma_kv": 1, "n_kv": 0}, "n_w 'x'"),
    ],
)
def test_bad_training_constants_are_one_error_naming_the_field(training, message):
    from scaling.laws.precision import precision_law_from_dict

    entry = {"constants": {"C_T": 1, "gamma_D": 0.5, "gamma_N": 0.5, "gamma_post": 1}, "training": training}
    with pytest.raises(ScalingError, match=message):
        precision_law_from_dict(entry)
