"""Law forms beside Chinchilla's (`scaling.laws.forms`, `scaling.fit.forms`) and ``--form auto``'s choice by
rolling-origin held-out error (`scaling.fit.select`)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scaling.cli import main
from scaling.errors import ScalingError
from scaling.fit import fit_runs, save_law, synthetic_runs
from scaling.fit.forms import fit_form
from scaling.fit.isoflop import budget_groups
from scaling.fit.select import held_out_error, select_form
from scaling.laws import get_law, law_from_dict, load_law, parametric_n_opt
from scaling.laws.forms import FormLaw, form_optimum

warnings.filterwarnings("ignore")
CHINCHILLA = get_law("chinchilla")  # Hoffmann et al. 2022, TeX constants
KAPLAN = get_law("kaplan")  # Kaplan et al. 2020, Eq. 1.5 with Table 2's fit


def farseer(gamma: float, **changes) -> FormLaw:
    c = CHINCHILLA
    values = {**dict(E=c.E, A=c.A, B=c.B, alpha=c.alpha, beta=c.beta, gamma=gamma, N_ref=1e9), **changes}
    return FormLaw(name=f"farseer-{gamma:g}", law_form="farseer", parameters=values)


def kaplan_form() -> FormLaw:
    k = KAPLAN
    values = dict(N_c=k.N_c, D_c=k.D_c, alpha_N=k.alpha_N, alpha_D=k.alpha_D)
    return FormLaw(name="kaplan-eq-1.5", law_form="kaplan", parameters=values)


def last_budget(runs):
    labels = budget_groups(runs)
    return labels == np.unique(labels)[-1]


# ------------------------------------------------------------------------------- the numerical optimum
@pytest.mark.parametrize("flops", [1e18, 1e21, 5.76e23, 1e26])
def test_farseer_with_gamma_zero_is_chinchilla_hoffmann_eq4(flops):
    # gamma = 0 is Chinchilla's law: the numerical optimum must reproduce Hoffmann et al. 2022 Eq. 4
    law = farseer(0.0)
    closed = parametric_n_opt(flops, CHINCHILLA.A, CHINCHILLA.B, CHINCHILLA.alpha, CHINCHILLA.beta)
    assert law.n_opt(flops) == pytest.approx(closed, rel=1e-6)
    assert law.loss_opt(flops) == pytest.approx(CHINCHILLA.loss_opt(flops), rel=1e-12)


def test_farseer_gamma_zero_gives_hoffmann_fig4_40b_for_gopher_budget():
    # Hoffmann et al. 2022, Fig. 4 caption: 40B is optimal for Gopher's 5.76e23 FLOPs (TeX constants: 40.4B)
    assert farseer(0.0).n_opt(5.76e23) == pytest.approx(40.4e9, rel=0.01)


@pytest.mark.parametrize("flops", [1e19, 1e21, 1e24])
def test_kaplan_eq_1_5_numerical_optimum_matches_its_closed_form(flops):
    # argmin over N of (N_c/N)^p + 6 D_c N / C, p = alpha_N/alpha_D: N = (p N_c^p C / (6 D_c))^(1/(1+p))
    law, k = kaplan_form(), KAPLAN
    p = k.alpha_N / k.alpha_D
    closed = (p * k.N_c**p * flops / (6 * k.D_c)) ** (1 / (1 + p))
    assert law.n_opt(flops) == pytest.approx(closed, rel=1e-6)
    assert law.a == pytest.approx(k.alpha_D / (k.alpha_N + k.alpha_D), rel=1e-6)


def test_kaplan_form_and_preset_share_eq_1_5():
    N, D = np.array([1e8, 7e9, 175e9]), np.array([1e10, 2e12, 300e9])
    assert np.array_equal(kaplan_form().predict(N, D), KAPLAN.predict(N, D))


@settings(max_examples=40, deadline=None)
@given(
    gamma=st.floats(-0.2, 0.2),
    alpha=st.floats(0.1, 0.8),
    beta=st.floats(0.1, 0.8),
    log_flops=st.floats(17.0, 26.0),
)
def test_farseer_optimum_is_a_minimum_along_the_isoflop(gamma, alpha, beta, log_flops):
    law = farseer(gamma, alpha=alpha, beta=beta)
    C = 10.0**log_flops
    assume(not form_optimum(law.spec, C, law.columns())[1].any())  # an optimum inside the searched D/N
    n = float(law.n_opt(C))
    best = float(law.predict(n, C / (6 * n)))
    for k in (0.97, 1.03, 0.5, 2.0):
        assert best <= float(law.predict(k * n, C / (6 * k * n))) * (1 + 1e-12)


# ----------------------------------------------------------------------------------------- law files
def test_form_law_file_roundtrip_answers_the_same(tmp_path):
    runs = synthetic_runs(farseer(0.05), per_budget=8, noise=0.003, seed=2)
    law = fit_form(runs, "farseer", bootstrap=30, seed=0)
    path = save_law(law, tmp_path / "farseer.json")
    back = load_law(path)
    C = np.array([1e20, 1e23])
    assert np.allclose(back.n_opt(C), law.n_opt(C), rtol=1e-12)
    assert back.optimal(C).intervals["params"][0] == pytest.approx(law.optimal(C).intervals["params"][0])
    assert json.loads(path.read_text())["fit"]["form"] == "farseer"


FARSEER_ENTRY = {"name": "f", "kind": "form", "law_form": "farseer", "constants": farseer(0.1).constants()}
KAPLAN_ENTRY = {"name": "k", "kind": "form", "law_form": "kaplan", "constants": kaplan_form().constants()}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**KAPLAN_ENTRY, "law_form": "hyperbolic"}, "law_form"),
        (
            {
                **FARSEER_ENTRY,
                "constants": {k: v for k, v in farseer(0.1).constants().items() if k != "gamma"},
            },
            "gamma",
        ),
        ({**KAPLAN_ENTRY, "constants": {**kaplan_form().constants(), "alpha_N": -0.1}}, "alpha_N"),
        ({**KAPLAN_ENTRY, "bootstrap": {"replicates": [[1.0, 2.0, 0.1]]}}, "rows of 4 numbers"),
        ({**FARSEER_ENTRY, "bootstrap": {"replicates": [[1.7, 400, 400, 0.3, 0.3, -0.1, -1e9]]}}, "positive"),
    ],
)
def test_malformed_form_law_is_one_clear_error(entry, message):
    with pytest.raises(ScalingError, match=message):
        law_from_dict(entry)


def test_farseer_gamma_may_be_negative_in_a_law_file():
    law = law_from_dict({**FARSEER_ENTRY, "constants": {**farseer(-0.1).constants()}})
    assert law.parameters["gamma"] == -0.1


# ---------------------------------------------------------------------------------------------- fits
def test_farseer_fit_recovers_gamma_and_auto_chooses_it():
    truth = farseer(0.05)
    runs = synthetic_runs(truth, per_budget=10, noise=0.003, seed=2)
    law = fit_form(runs, "farseer")
    assert law.parameters["gamma"] == pytest.approx(0.05, abs=0.005)
    # the data exponent at the truth's reference size, whatever N_ref the fit chose
    beta_at = law.parameters["beta"] * (1e9 / law.parameters["N_ref"]) ** law.parameters["gamma"]
    assert beta_at == pytest.approx(CHINCHILLA.beta, rel=0.05)
    selection = select_form(runs, ("chinchilla", "farseer", "kaplan"))
    assert selection.chosen == "farseer"
    assert selection.mean_errors["farseer"] < 0.5 * selection.mean_errors["chinchilla"]


def test_kaplan_fit_recovers_table_2_constants_and_auto_chooses_it():
    runs = synthetic_runs(kaplan_form(), per_budget=10, noise=0.003, seed=3)
    law = fit_form(runs, "kaplan")
    assert law.parameters["alpha_N"] == pytest.approx(KAPLAN.alpha_N, rel=0.05)
    assert law.parameters["alpha_D"] == pytest.approx(KAPLAN.alpha_D, rel=0.05)
    assert select_form(runs, ("chinchilla", "farseer", "kaplan")).chosen == "kaplan"


def test_muennighoff_fit_recovers_repetition_constants():
    # Muennighoff et al. 2023 (datablations README): R_D* = 15.39, R_N* = 5.31
    truth = get_law("muennighoff")
    runs = synthetic_runs(truth, budgets=(1e19, 3e19, 1e20, 3e20, 1e21), per_budget=8, noise=0.0, seed=4)
    rng = np.random.default_rng(4)
    # half the runs draw from ample data (100x their tokens: no penalty), half repeat 2 to 40 epochs
    epochs = np.where(np.arange(len(runs)) % 2 == 0, 0.01, rng.uniform(2.0, 40.0, len(runs)))
    runs["unique_tokens"] = runs["D"] / epochs
    runs["loss"] = truth.predict(
        runs["N"].to_numpy(), runs["D"].to_numpy(), unique_tokens=runs["unique_tokens"]
    )
    law = fit_form(runs, "muennighoff")
    assert law.R_D_star == pytest.approx(truth.R_D_star, rel=0.02)
    assert law.R_N_star == pytest.approx(truth.R_N_star, rel=0.1)
    assert law.to_dict()["fit"]["form"] == "muennighoff"


# ------------------------------------------------------------- auto against Chinchilla, held out honestly
@pytest.mark.parametrize(
    "runs",
    [
        pytest.param(synthetic_runs("chinchilla", noise=0.005, seed=1), id="chinchilla-252-runs"),
        pytest.param(synthetic_runs("epoch", per_budget=10, noise=0.0, seed=0), id="epoch-90-runs"),
    ],
)
def test_auto_is_no_worse_than_chinchilla_on_a_budget_it_never_saw(runs):
    # the choice is made on every budget but the largest; both laws then predict the largest
    last = last_budget(runs)
    train = runs[~last].reset_index(drop=True)
    chosen = select_form(train, ("chinchilla", "farseer", "kaplan")).chosen
    auto_error = held_out_error(fit_form(train, chosen), runs[last])
    chinchilla_error = held_out_error(fit_form(train, "chinchilla"), runs[last])
    assert auto_error <= chinchilla_error + 1e-12


def test_auto_records_every_forms_error_in_the_law_file(tmp_path):
    runs = synthetic_runs(farseer(0.05), per_budget=6, noise=0.003, seed=5)
    report = fit_runs(runs, form="auto")
    path = save_law(report.approach3, tmp_path / "auto.json")
    selection = json.loads(path.read_text())["fit"]["selection"]
    assert selection["chosen"] == report.selection.chosen == "farseer"
    assert set(selection["errors"]) == {"chinchilla", "farseer", "kaplan"}
    assert len(selection["fold_flops"]) == len(np.unique(budget_groups(runs))) - 2
    assert "muennighoff" in selection["skipped"]
    assert min(selection["mean_errors"], key=selection["mean_errors"].get) == "farseer"


# ----------------------------------------------------------------------------------------------- CLI
def test_cli_fit_form_auto_prints_the_table_and_the_chosen_law_plans(tmp_path):
    path = tmp_path / "runs.csv"
    synthetic_runs(farseer(0.05), per_budget=6, noise=0.003, seed=5).to_csv(path, index=False)
    law_path = tmp_path / "law.json"
    result = CliRunner().invoke(main, ["fit", str(path), "--form", "auto", "-o", str(law_path)])
    assert result.exit_code == 0, result.output
    assert "rolling-origin held-out error" in result.output and "farseer (chosen)" in result.output
    optimal = CliRunner().invoke(main, ["optimal", "--budget", "1e22", "--law", str(law_path), "--json"])
    assert optimal.exit_code == 0, optimal.output
    payload = json.loads(optimal.output)
    assert payload["params"] == pytest.approx(float(load_law(law_path).n_opt(1e22)), rel=1e-9)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--form", "hyperbolic"], "hyperbolic"), (["--form", "muennighoff"], "unique_tokens")],
)
def test_cli_bad_form_is_one_line_exit_2(tmp_path, args, message):
    path = tmp_path / "runs.csv"
    synthetic_runs("chinchilla", per_budget=6, noise=0.003, seed=6).to_csv(path, index=False)
    result = CliRunner().invoke(main, ["fit", str(path), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_designing_runs_refuses_a_law_of_another_form():
    from scaling.design import design_runs

    runs = synthetic_runs("chinchilla", per_budget=6, noise=0.003, seed=6)
    with pytest.raises(ScalingError, match="chinchilla form"):
        design_runs(kaplan_form(), runs, budget_flops=1e20)


def test_an_optimum_beyond_the_searched_ratios_is_said_to_be_the_edge():
    # alpha << beta: at 1e17 FLOPs the loss keeps falling as D/N goes below 1e-3
    allocation = farseer(0.0, alpha=0.25, beta=0.5).optimal(1e17)
    assert any("edge of the search" in w for w in allocation.warnings)


def test_a_is_the_local_slope_of_n_opt():
    law = farseer(0.05)
    C = 1e21
    slope = math.log(law.n_opt(C * 1.001) / law.n_opt(C / 1.001)) / math.log(1.001**2)
    assert law.a == pytest.approx(slope, abs=0.01)


def test_the_app_takes_an_uploaded_form_law(tmp_path):
    from scaling.app.views import law_from_upload

    path = save_law(kaplan_form(), tmp_path / "kaplan.json")
    law = law_from_upload(path.read_bytes(), "kaplan.json")
    assert float(law.n_opt(1e22)) == pytest.approx(float(kaplan_form().n_opt(1e22)), rel=1e-12)
