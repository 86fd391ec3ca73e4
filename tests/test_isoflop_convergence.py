"""Approach 2 sets aside runs that have not converged (fewer than `MIN_CONVERGED_STEPS` optimizer steps, the
threshold the sweep warns at) from an IsoFLOP profile that keeps 3 sizes without them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.fit.isoflop import converged, fit_isoflop
from scaling.runs_table.columns import MIN_CONVERGED_STEPS

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28  # Hoffmann et al. 2022, Eq. 10
BUDGETS = (1e18, 4e18, 1.6e19)


def n_opt(flops: float) -> float:
    """Chinchilla's compute-optimal N (Hoffmann et al. 2022, Eq. 4)."""
    front = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    return front * (flops / 6) ** (BETA / (ALPHA + BETA))


# tokens per optimizer step: the largest model of the smallest budget (4 N_opt) trains for 300 steps
TOKENS_PER_STEP = BUDGETS[0] / (6 * 4 * n_opt(BUDGETS[0])) / 300


def _profile(budget: float, sizes: np.ndarray, short_penalty: float = 0.0) -> pd.DataFrame:
    """Runs of one budget drawn from Chinchilla's law; a run under the step threshold gets ``short_penalty``
    added to its loss (what an unfinished schedule does)."""
    D = budget / (6 * sizes)
    steps = np.floor(D / TOKENS_PER_STEP)
    loss = E + A / sizes**ALPHA + B / D**BETA + np.where(steps < MIN_CONVERGED_STEPS, short_penalty, 0.0)
    return pd.DataFrame({"budget": budget, "N": sizes, "D": D, "C": budget, "loss": loss, "steps": steps})


def _quiet_fit(frame: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_isoflop(frame, min_points=3, **kw)


def test_a_short_run_no_longer_pulls_the_vertex():
    """Three budgets of five sizes; at the smallest the largest model trains under 500 steps with its loss
    0.1 too high. Kept, it drags that vertex to smaller N and steepens the exponent; set aside, the exponent
    is the one the clean runs give."""
    ladder = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    frame = pd.concat([_profile(c, ladder * n_opt(c), 0.1) for c in BUDGETS], ignore_index=True)
    clean = pd.concat([_profile(c, ladder * n_opt(c), 0.0) for c in BUDGETS], ignore_index=True)
    assert (frame["steps"] < MIN_CONVERGED_STEPS).sum() == 1
    kept_all = _quiet_fit(frame, min_steps=0)
    rule = _quiet_fit(frame)
    reference = _quiet_fit(clean)
    assert rule.a == pytest.approx(reference.a, abs=0.02)
    assert kept_all.a > reference.a + 0.03
    assert any("1 run(s) of fewer than 500 optimizer steps set aside" in w for w in rule.warnings)


def test_a_profile_of_three_sizes_is_kept_whole():
    frame = _profile(1e15, np.array([1e6, 3e6, 9e6]))
    kept, set_aside = converged(frame, MIN_CONVERGED_STEPS)
    assert set_aside == 0 and len(kept) == 3


def test_a_table_without_steps_is_kept_whole():
    frame = _profile(1e18, np.geomspace(1e7, 1e9, 5)).drop(columns="steps")
    assert converged(frame, MIN_CONVERGED_STEPS)[1] == 0


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.integers(1, 5000), min_size=3, max_size=9))
def test_what_is_kept_is_every_converged_run_or_everything(steps):
    frame = pd.DataFrame({"N": np.arange(1, len(steps) + 1) * 1e6, "steps": steps, "loss": 2.0, "C": 1e15})
    kept, set_aside = converged(frame, MIN_CONVERGED_STEPS)
    long_enough = sum(s >= MIN_CONVERGED_STEPS for s in steps)
    if long_enough >= 3:
        assert len(kept) == long_enough and set_aside == len(steps) - long_enough
    else:
        assert len(kept) == len(steps) and set_aside == 0
