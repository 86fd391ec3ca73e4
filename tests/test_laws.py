"""Published numbers the scaling-law presets reproduce, and the invariants every preset keeps."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.errors import ScalingError
from scaling.laws import get_law, list_laws


def test_chinchilla_tex_constants_gopher_budget_40b():
    # Hoffmann et al. 2022 Fig. 4 caption: 40B at 5.76e23 with the TeX constants (40.4B unrounded)
    alloc = get_law("chinchilla").optimal(5.76e23)
    assert alloc.params == pytest.approx(40.4e9, rel=0.005)
    assert alloc.flops == pytest.approx(5.76e23)


def test_chinchilla_printed_constants_gopher_budget_32b():
    # Hoffmann et al. 2022 Eq. 10 as printed (rounded constants) gives 32.2B
    assert get_law("chinchilla-printed").n_opt(5.76e23) == pytest.approx(32.2e9, rel=0.005)


def test_epoch_72b_18_tokens_per_param():
    # Besiroglu et al. 2024 constants: 72.4B and D/N 18.3 at 5.76e23 (Besiroglu et al. 2024, Table 1)
    alloc = get_law("epoch").optimal(5.76e23)
    assert alloc.params == pytest.approx(72.4e9, rel=0.005)
    assert alloc.tokens_per_param == pytest.approx(18.3, abs=0.05)
    lo, hi = alloc.intervals["params"]
    assert lo < alloc.params < hi


def test_epoch_allocation_without_intervals_is_the_same_allocation():
    # Besiroglu et al. 2024, Table 1 budget (5.76e23): the intervals are extra, the allocation does not move
    law = get_law("epoch")
    full, bare = law.optimal(5.76e23), law.optimal(5.76e23, intervals=False)
    assert full.intervals and bare.intervals == {}
    assert (bare.params, bare.tokens, bare.loss) == (full.params, full.tokens, full.loss)


@pytest.mark.parametrize("C,n,ratio", [(1e25, 312e9, 17.1), (1e26, 1.02e12, 16.1)])
def test_epoch_allocations_table(C, n, ratio):
    alloc = get_law("epoch").optimal(C)
    assert alloc.params == pytest.approx(n, rel=0.01)
    assert alloc.tokens_per_param == pytest.approx(ratio, abs=0.1)


def test_muennighoff_readme_losses():
    # datablations README: Figure 1 models with 25B unique tokens
    law = get_law("muennighoff")
    assert law.predict(6.34e9, 242e9, unique_tokens=25e9) == pytest.approx(2.2256440889984477, abs=1e-6)
    assert law.predict(8.67e9, 178e9, unique_tokens=25e9) == pytest.approx(2.2269634075087867, abs=1e-6)


def test_muennighoff_readme_optimal_allocation_1e22_25b_unique():
    # README example: 237.3B tokens (9.49 epochs), 7.02B params at C = 1e22, U = 25B
    alloc = get_law("muennighoff").optimal(1e22, unique_tokens=25e9)
    assert alloc.tokens == pytest.approx(237.3e9, rel=0.01)
    assert alloc.epochs == pytest.approx(9.49, rel=0.01)
    assert alloc.params == pytest.approx(7.02e9, rel=0.01)


def test_muennighoff_unlimited_data_69_96b_at_gopher_budget():
    assert get_law("muennighoff").n_opt(5.76e23) == pytest.approx(69.96e9, rel=0.002)


def test_harm_overhead_21_percent():
    # Harm's law (Hugging Face Space lvwerra/harms-law) with Hoffmann's Eq. 4: TeX constants
    # k_N = 0.5 -> +21.0%, 0.3 -> +107.5%; Besiroglu et al. 2024 constants +25.9%, +161%
    assert get_law("chinchilla").overhead(0.5) == pytest.approx(0.210, abs=0.001)
    assert get_law("chinchilla").overhead(0.3) == pytest.approx(1.075, abs=0.002)
    assert get_law("epoch").overhead(0.5) == pytest.approx(0.259, abs=0.001)
    assert get_law("epoch").overhead(0.3) == pytest.approx(1.61, abs=0.01)
    assert get_law("chinchilla").overhead(1.0) == pytest.approx(0.0, abs=1e-12)


def test_kaplan_d4_4_68b_at_1e21():
    # Hoffmann et al. 2022 App. D.4: "Kaplan: 4.68B at 1e21"
    assert get_law("kaplan").n_opt(1e21) == pytest.approx(4.68e9, rel=0.002)


def test_chinchilla_table3_a1_line_2_86b():
    # Approach 1 line fitted to Table 3 gives 2.86B at 1e21 (App. D.4)
    assert get_law("chinchilla-a1").n_opt(1e21) == pytest.approx(2.86e9, rel=0.002)
    assert get_law("chinchilla-a2").n_opt(1e21) == pytest.approx(2.82e9, rel=0.005)


@pytest.mark.parametrize(
    "params,flops", [(400e6, 1.92e19), (10e9, 1.23e22), (175e9, 3.85e24), (1e12, 1.27e26)]
)
def test_chinchilla_table3_rows_within_6_percent(params, flops):
    assert get_law("chinchilla-a1").n_opt(flops) == pytest.approx(params, rel=0.06)


def test_llama3_405b_budget():
    # Llama 3 §3.2.1: 3.8e25 FLOPs -> 402B on 16.55T tokens; Fig. 3 legend constants (0.537, 0.299) give
    # 389B / 16.29T
    alloc = get_law("llama3").optimal(3.8e25)
    assert alloc.tokens == pytest.approx(16.29e12, rel=0.005)
    assert alloc.params == pytest.approx(402e9, rel=0.04)
    text = get_law("llama3-text").optimal(3.8e25)
    assert text.tokens == pytest.approx(10.46e12, rel=0.005)
    assert text.warnings


def test_deepseek_1e24():
    # Bi et al. 2024 (DeepSeek LLM) §3.2: M_opt = 0.1715 C^0.5243 at 1e24 is 6.57e11 FLOPs/token, D = 1.52T
    alloc = get_law("deepseek").optimal(1e24)
    assert alloc.params * 6 == pytest.approx(6.57e11, rel=0.005)
    assert alloc.tokens == pytest.approx(1.52e12, rel=0.01)
    assert math.isnan(alloc.loss)


def test_loss_compute_exponent_values():
    # loss-compute exponent alpha*beta/(alpha+beta) of Hoffmann Eq. 4: 0.155 (TeX),
    # 0.178 (Besiroglu et al. 2024)
    for name, value in (("chinchilla", 0.155), ("epoch", 0.178)):
        law = get_law(name)
        assert law.alpha * law.beta / (law.alpha + law.beta) == pytest.approx(value, abs=0.001)


def test_sardana_inference_aware_smaller_model_same_loss():
    law = get_law("chinchilla")
    plain = law.optimal(1e23)
    inf = law.optimal(1e23, inference_tokens=2e12)
    assert inf.params < plain.params and inf.tokens > plain.tokens
    assert inf.loss == pytest.approx(plain.loss)
    assert float(law.predict(inf.params, inf.tokens)) == pytest.approx(plain.loss, abs=1e-9)
    assert inf.total_flops < plain.flops + 2 * plain.params * 2e12


def test_data_constrained_uses_muennighoff_constants_for_other_laws():
    alloc = get_law("chinchilla").optimal(1e23, unique_tokens=100e9)
    assert alloc.epochs > 1
    assert any("muennighoff preset" in n for n in alloc.notes)


def test_allocation_only_law_has_no_loss():
    with pytest.raises(ScalingError, match="without a loss model"):
        get_law("llama3").predict(7e9, 1e12)


def test_unknown_law_suggests():
    with pytest.raises(ScalingError, match="did you mean"):
        get_law("chinchila")


def test_aliases_and_every_preset_has_source():
    assert get_law("Epoch-2024") is get_law("besiroglu")
    assert get_law("kaplan-2020").name == "kaplan"
    for law in list_laws():
        assert law.source and law.convention
        assert set(law.optimal(1e23).to_dict()) >= {"flops", "params", "tokens", "loss", "tokens_per_param"}


def test_optimal_broadcasts_over_budgets():
    alloc = get_law("epoch").optimal(np.array([1e21, 1e23, 1e25]))
    assert alloc.params.shape == (3,)
    assert alloc.intervals["params"][0].shape == (3,)


def test_bad_budget_raises():
    with pytest.raises(ScalingError):
        get_law("chinchilla").optimal(-1)


@settings(max_examples=50, deadline=None)
@given(st.floats(18, 28), st.sampled_from(["chinchilla", "epoch", "chinchilla-printed", "muennighoff"]))
def test_optimal_invariants(log_c, name):
    law = get_law(name)
    C = 10.0**log_c
    alloc = law.optimal(C)
    assert 6 * alloc.params * alloc.tokens == pytest.approx(C, rel=1e-9)  # 6ND = C
    # first-order condition of min L(N, C/6N): alpha A N^-alpha = beta B D^-beta (Hoffmann et al.
    # 2022, App. D.2)
    lhs = law.alpha * law.A * alloc.params**-law.alpha
    rhs = law.beta * law.B * alloc.tokens**-law.beta
    assert lhs == pytest.approx(rhs, rel=1e-9)
    assert law.loss_opt(C * 1.5) < alloc.loss  # loss decreases with compute
    assert law.flops_for_loss(alloc.loss) == pytest.approx(C, rel=1e-9)
    # no other split of C does better
    for k in (0.8, 1.25):
        assert law.predict(alloc.params * k, alloc.tokens / k) > alloc.loss


@pytest.mark.parametrize(
    "tokens, expected",
    [(4e11, None), (4.01e11, "beyond ~4 epochs"), (1.7e12, "far beyond")],
)
def test_epochs_warning_muennighoff_2023_thresholds(tokens, expected):
    from scaling.laws import epochs_warning

    message = epochs_warning(tokens, 1e11)
    assert (message is None) if expected is None else (expected in message)


def test_comparison_laws_are_presets():
    from scaling.laws import CHINCHILLA_FAMILY, COMPARISON_LAWS

    for name in COMPARISON_LAWS + CHINCHILLA_FAMILY:
        assert get_law(name).name == name
    assert "kaplan" not in CHINCHILLA_FAMILY


def test_each_kind_is_its_own_class_without_placeholders():
    from scaling.laws import AllocationLaw, KaplanLaw, Law, ParametricLaw

    kinds = {law.name: type(law) for law in list_laws()}
    assert kinds["chinchilla"] is ParametricLaw and kinds["llama3"] is AllocationLaw
    assert kinds["kaplan"] is KaplanLaw and all(issubclass(k, Law) for k in kinds.values())
    assert not hasattr(get_law("llama3"), "E")  # an allocation line has no loss constants at all
    for law in list_laws():
        assert all(value == value for value in law.constants().values())  # no NaN stand-ins


def _law_file(tmp_path, text, encoding="utf-8"):
    path = tmp_path / "law.json"
    path.write_text(text, encoding=encoding)
    return str(path)


GOOD = {"name": "mine", "kind": "parametric", "E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"E": "Infinity"}, "E"),
        ({"A": -3.0}, "A"),
        ({"alpha": 1e-300}, "alpha"),
        ({"beta": 50}, "beta"),
        ({"bootstrap": "abc"}, "bootstrap"),
        ({"bootstrap": {"replicates": [[1.7, 400, 410, 0.34, "x"]]}}, "replicates"),
        ({"bootstrap": {"replicates": [[1.7, 400, 410, 0.34]]}}, "replicates"),
        ({"fit": "x"}, "fit"),
        ({"fit": {"flops_range": [1e20]}}, "flops_range"),
        ({"fit": {"flops_range": [1e22, 1e20]}}, "flops_range"),
        ({"kind": "quadratic"}, "kind"),
        ({"aliases": "x"}, "aliases"),
        ({"loss_unit": "bits"}, "loss_unit"),
        ({"vocab_size": -1}, "vocab_size"),
    ],
)
def test_bad_law_files_are_one_clear_error(tmp_path, change, message):
    entry = {**GOOD, **change}
    with pytest.raises(ScalingError, match=message):
        get_law(_law_file(tmp_path, json.dumps(entry)))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_law_file_non_finite_json_constants_refused(tmp_path, constant):
    text = json.dumps(GOOD).replace("1.7", constant)
    with pytest.raises(ScalingError, match="finite"):
        get_law(_law_file(tmp_path, text))


def test_law_file_utf16_named(tmp_path):
    with pytest.raises(ScalingError, match="UTF-16"):
        get_law(_law_file(tmp_path, json.dumps(GOOD), encoding="utf-16"))


def test_law_file_round_trip_keeps_loss_unit_and_tokenizer(tmp_path):
    from scaling.laws import save_law

    law = get_law(
        _law_file(
            tmp_path, json.dumps({**GOOD, "loss_unit": "nats/byte", "tokenizer": "bytes", "vocab_size": 256})
        )
    )
    back = get_law(str(save_law(law, tmp_path / "again.json")))
    assert (back.loss_unit, back.tokenizer, back.vocab_size) == ("nats/byte", "bytes", 256)
    assert back.optimal(1e21).loss_unit == "nats/byte"


@pytest.mark.parametrize("name", ["chinchilla", "kaplan", "llama3"])
def test_budget_below_one_parameter_is_a_clear_error(name):
    with pytest.raises(ScalingError, match="too small"):
        get_law(name).optimal(1.5)


def test_inference_aware_tiny_budget_no_crash():
    with pytest.raises(ScalingError):
        get_law("chinchilla").optimal(1.5, inference_tokens=2e12)
    alloc = get_law("chinchilla").optimal(1e15, inference_tokens=2e12)
    assert alloc.extra_flops > 0 and alloc.flops == pytest.approx(alloc.budget_flops + alloc.extra_flops)


_VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**400), 10**400),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
    st.lists(st.floats(0.01, 10), max_size=6),
    st.dictionaries(
        st.sampled_from(["coef", "exp", "replicates", "flops_range", "level", "a"]), st.floats(), max_size=3
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "kind",
                "E",
                "A",
                "B",
                "alpha",
                "beta",
                "bootstrap",
                "fit",
                "se",
                "uncertainty",
                "n_opt",
                "d_opt",
                "m_opt",
                "joint_law",
                "aliases",
                "loss_unit",
                "vocab_size",
                "name",
                "constants",
            ]
        ),
        _VALUES,
        max_size=4,
    ),
    st.sampled_from([GOOD, {"name": "line", "kind": "allocation", "n_opt": {"coef": 0.1, "exp": 0.5}}]),
)
def test_any_law_file_loads_into_a_working_law_or_one_clear_error(tmp_path_factory, damage, base):
    from scaling.laws import law_from_dict

    try:
        law = law_from_dict({**base, **damage})
    except ScalingError as exc:
        assert "\n" not in str(exc)
        return
    try:  # a law that loads may still have no sensible optimum at this budget: that too is one line
        alloc = law.optimal(1e22)
    except ScalingError as exc:
        assert "\n" not in str(exc)
        return
    assert np.isfinite(alloc.params) and alloc.params > 0 and np.isfinite(alloc.tokens)
    assert not law.has_loss or np.isfinite(alloc.loss)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["chinchilla", "epoch", "muennighoff", "kaplan", "llama3", "deepseek"]),
    st.floats(0, 40),
    st.one_of(st.none(), st.floats(0, 16)),
    st.one_of(st.none(), st.floats(0, 30)),
)
def test_optimal_answers_or_refuses_in_one_line(name, log_c, log_u, log_inf):
    unique = None if log_u is None else 10.0**log_u
    inference = None if log_inf is None else 10.0**log_inf
    try:
        alloc = get_law(name).optimal(10.0**log_c, unique_tokens=unique, inference_tokens=inference)
    except ScalingError as exc:
        assert "\n" not in str(exc)
        return
    assert np.isfinite(alloc.params) and alloc.params >= 1 and np.isfinite(alloc.tokens) and alloc.tokens >= 1
