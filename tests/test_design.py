"""Next-run design (`scaling next`): targets agree with the law's own allocation, the replicate update is the
linear-Gaussian conditioning it claims to be, a design respects its spend, and the command writes a CSV that
`scaling sweep --design` reads."""

from __future__ import annotations

import csv
import math
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from scaling.cli import main
from scaling.design import Candidates, design_runs, greedy_picks, log_loss, target_values
from scaling.errors import ScalingError
from scaling.fit import fit_parametric, synthetic_runs
from scaling.laws import get_law

HOFFMANN = get_law("chinchilla")


@pytest.fixture(scope="module")
def start():
    """Three IsoFLOP budgets x 5 sizes from Chinchilla's law with 1% noise, fitted with 200 replicates."""
    runs = synthetic_runs(
        "chinchilla", budgets=(1e17, 3e17, 1e18), per_budget=5, spread=4, noise=0.01, seed=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        law = fit_parametric(runs, bootstrap=200, seed=0)
    return runs, law


def test_targets_are_the_laws_own_allocation_at_the_gopher_budget():
    """Hoffmann et al. 2022 Eq. 4 at Gopher's 5.76e23 FLOPs: N_opt, D_opt/N_opt and L* as the law computes
    them."""
    C = 5.76e23
    params = HOFFMANN.params[None, :]
    n_opt = float(HOFFMANN.n_opt(C))
    assert math.exp(target_values(params, "n_opt", C)[0]) == pytest.approx(n_opt, rel=1e-12)
    assert math.exp(target_values(params, "ratio", C)[0]) == pytest.approx(C / 6 / n_opt**2, rel=1e-9)
    loss = float(HOFFMANN.predict(n_opt, C / 6 / n_opt))
    assert math.exp(target_values(params, "loss", C)[0]) == pytest.approx(loss, rel=1e-12)
    assert 3.5e10 < n_opt < 4.5e10  # Chinchilla's ~40B at the Gopher budget


def test_log_loss_is_the_law_at_every_run():
    N, D = np.array([1e8, 1e9]), np.array([2e9, 2e10])
    assert np.allclose(np.exp(log_loss(HOFFMANN.params[None, :], N, D))[0], HOFFMANN.predict(N, D))


def test_greedy_update_is_gaussian_conditioning():
    """One pick removes Cov(g, f)^2 / (Var f + sigma^2) from Var g (Sherman-Morrison), and the run that
    co-varies with the target is picked over a noisier-looking one that does not."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal(4000)
    related = 0.8 * g + 0.6 * rng.standard_normal(4000)
    unrelated = 3.0 * rng.standard_normal(4000)  # disagrees most, says nothing about g
    F = np.column_stack([unrelated, related])
    noise = 0.1
    picks, cuts, variance = greedy_picks(g, F, np.ones(2), noise, spend=1.0, max_runs=1, kappa=0.0)
    assert picks == [1]
    cov = np.cov(np.column_stack([g, related]).T)
    expected = cov[0, 0] - cov[0, 1] ** 2 / (cov[1, 1] + noise)
    assert variance == pytest.approx(expected, rel=1e-10)
    assert cuts[0] == pytest.approx(1 - expected / cov[0, 0], rel=1e-10)


def test_design_respects_its_spend_and_narrows_the_interval(start):
    runs, law = start
    design = design_runs(law, runs, budget_flops=1.5e19, max_runs=5, target_flops=1e24)
    assert 1 <= len(design.runs) <= 5
    assert design.spend_flops <= 1.5e19 * (1 + 1e-9)
    assert sum(r.cost for r in design.runs) == pytest.approx(design.spend_flops)
    lo, hi = design.interval_now
    lo2, hi2 = design.interval_after
    assert lo < lo2 < hi2 < hi and design.width_ratio < 1
    assert all(r.reason and "cuts the target variance" in r.reason for r in design.runs)
    data = design.to_dict()
    assert data["runs"][0]["C"] == pytest.approx(6 * design.runs[0].N * design.runs[0].D)


def test_design_refuses_without_replicates_or_budgets(start):
    runs, law = start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = fit_parametric(runs)
    with pytest.raises(ScalingError, match="bootstrap replicates"):
        design_runs(plain, runs, budget_flops=1e19)
    two = runs[runs["C"] < 5e17]
    with pytest.raises(ScalingError, match="at least 3"):
        design_runs(law, two, budget_flops=1e19)
    with pytest.raises(ScalingError, match="--quantity"):
        design_runs(law, runs, budget_flops=1e19, quantity="width")


def test_candidates_must_line_up():
    with pytest.raises(ScalingError):
        Candidates(N=np.ones(2), D=np.ones(3), cost=np.ones(2), budget=np.ones(2))


def test_next_command_writes_a_design_csv_and_never_overwrites(tmp_path, start):
    runs, _ = start
    table = tmp_path / "runs.csv"
    runs.to_csv(table, index=False)
    out = tmp_path / "next.csv"
    args = [
        "next",
        str(table),
        "--budget-flops",
        "1.5e19",
        "--runs",
        "4",
        "--target",
        "1e24",
        "--bootstrap",
        "200",
        "-o",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "now:" in result.output and "expected after:" in result.output
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert 1 <= len(rows) <= 4 and {"N", "D", "C", "budget", "reason"} <= set(rows[0])
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "--force" in again.output
    over_input = CliRunner().invoke(main, [*args[:-1], str(table), "--force"])
    assert over_input.exit_code == 2 and "input" in over_input.output


def test_a_spend_below_the_smallest_budget_is_one_line(tmp_path):
    from scaling.fit import synthetic_runs

    path = tmp_path / "runs.csv"
    synthetic_runs(seed=0).to_csv(path, index=False)
    result = CliRunner().invoke(main, ["next", str(path), "--budget-flops", "12"])
    assert result.exit_code == 2 and "buys no run" in result.output


@pytest.mark.parametrize(
    "budgets, options, message",
    [
        ((1e17, 3e17), [], "span 2 budget"),
        ((1e17, 3e17, 1e18), ["--bootstrap", "5"], "at least 20 bootstrap"),
        ((1e17, 3e17, 1e18), ["--quantity", "width"], "--quantity"),
        ((1e17, 3e17, 1e18), ["--runs", "0"], "--runs"),
    ],
    ids=["two-budgets", "few-replicates", "quantity", "runs"],
)
def test_next_refuses_before_the_fit_what_needs_no_fit(tmp_path, monkeypatch, budgets, options, message):
    """A design that cannot come of the runs or the options is refused before the seconds of a bootstrap fit
    (`scaling --help`'s own workflow once spent them on a two-budget sweep, then refused)."""
    import scaling.fit

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before refusing")

    monkeypatch.setattr(scaling.fit, "fit_parametric", no_fit)
    path = tmp_path / "runs.csv"
    synthetic_runs("chinchilla", budgets=budgets, per_budget=5, spread=4, seed=1).to_csv(path, index=False)
    result = CliRunner().invoke(main, ["next", str(path), "--budget-flops", "1e19", *options])
    assert result.exit_code == 2 and message in result.output, result.output


def test_next_over_the_bootstrap_limit_says_the_limit_and_what_to_pass(tmp_path, monkeypatch):
    # `next` on a 1M-row table refused "invalid --bootstrap 400", a value the user never typed (its default).
    import scaling.fit.parametric as parametric

    path = tmp_path / "runs.csv"
    synthetic_runs(seed=0).to_csv(path, index=False)  # 252 runs
    monkeypatch.setattr(parametric, "MAX_BOOTSTRAP_CELLS", 252 * 100)  # the limit a 1M-row table meets
    result = CliRunner().invoke(main, ["next", str(path), "--budget-flops", "1e21"])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "invalid --bootstrap" not in result.output
    assert "252 runs allow at most 100 bootstrap resamples, not 400" in result.output
    assert "pass --bootstrap 20 to 100" in result.output  # a design needs 20 replicates at least
    monkeypatch.setattr(parametric, "MAX_BOOTSTRAP_CELLS", 252 * 19)  # more runs than any design can fit
    result = CliRunner().invoke(main, ["next", str(path), "--budget-flops", "1e21"])
    assert result.exit_code == 2 and "252 runs are too many" in result.output
    assert "at most 239 runs" in result.output  # 252 x 19 // 20
