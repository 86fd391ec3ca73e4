"""Energy, emissions and goodput (`scaling.energy.footprint`) against the model cards, and on every face."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import scaling.cli
from scaling.catalog import accelerators, get_accelerator
from scaling.energy import DEFAULT_GRID_GCO2_KWH, DEFAULT_PUE, footprint


def run_json(*args: str):
    result = CliRunner().invoke(scaling.cli.main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# Touvron et al. 2023 (Llama 2), Table 2: GPU-hours on A100-80GB, power per GPU, tCO2eq
LLAMA_2_TABLE_2 = [
    ("7B", 184_320, 400, 31.22),
    ("13B", 368_640, 400, 62.44),
    ("34B", 1_038_336, 350, 153.90),
    ("70B", 1_720_320, 400, 291.42),
]


@pytest.mark.parametrize("size, gpu_hours, watts, tco2", LLAMA_2_TABLE_2)
def test_llama_2_table_2_tco2eq(size, gpu_hours, watts, tco2):
    a100 = get_accelerator("A100-80GB")
    if watts != a100.tdp_watts:  # the 34B row ran at 350 W
        a100 = replace(a100, tdp_watts=float(watts))
    result = footprint(a100, device_hours=gpu_hours, seconds=gpu_hours * 3600 / 2048)
    assert result.co2_kg / 1000 == pytest.approx(tco2, abs=0.01)


def test_llama_2_table_2_total_539_tco2eq():
    a100 = get_accelerator("A100-80GB")
    total = sum(
        footprint(replace(a100, tdp_watts=float(watts)), device_hours=hours, seconds=1.0).co2_kg
        for _, hours, watts, _ in LLAMA_2_TABLE_2
    )
    assert total / 1000 == pytest.approx(539.00, abs=0.02)
    assert a100.tdp_watts == 400  # Table 2's power for the A100-80GB


# Meta's Llama 3.1 model card: 39.3M H100-80GB hours at a TDP of 700 W, 11,390 tCO2eq location-based in all;
# per model 8B 1.46M h / 420 t, 70B 7.0M h / 2,040 t, 405B 30.84M h / 8,930 t
LLAMA_3_1_CARD = [("8B", 1.46e6, 420), ("70B", 7.0e6, 2_040), ("405B", 30.84e6, 8_930)]


def test_llama_3_1_card_one_grid_intensity_gives_every_row():
    h100 = get_accelerator("H100-SXM")
    assert h100.tdp_watts == 700  # the card's TDP
    total = footprint(h100, device_hours=39.3e6, seconds=1.0, pue=1.0)
    assert total.energy_kwh == pytest.approx(39.3e6 * 0.7)
    grid = 11_390e6 / total.energy_kwh  # the card's intensity, gCO2eq/kWh (no PUE stated)
    assert 400 < grid < 430
    for _, hours, tco2 in LLAMA_3_1_CARD:
        row = footprint(h100, device_hours=hours, seconds=1.0, pue=1.0, grid_gco2_kwh=grid)
        assert row.co2_kg / 1000 == pytest.approx(tco2, rel=0.015)


def test_flops_json_energy_is_gpu_hours_times_tdp_pue_and_grid():
    data = run_json("flops", "llama-2-7b", "--tokens", "2T", "--gpus", "64xA100-80GB", "--goodput", "0.9")
    held = data["gpu_hours"] / 0.9
    assert data["goodput"] == 0.9
    assert data["energy_kwh"] == pytest.approx(held * 0.4 * DEFAULT_PUE)
    assert data["co2_kg"] == pytest.approx(data["energy_kwh"] * DEFAULT_GRID_GCO2_KWH / 1000)
    assert data["wall_clock_seconds"] == pytest.approx(data["seconds"] / 0.9)


def test_plan_and_finetune_footprint_is_the_estimators_own():
    plan = run_json("plan", "--flops", "1e22", "--gpus", "64xH100", "--grid-gco2-kwh", "100", "--pue", "1.2")
    expected = footprint(
        get_accelerator("H100-SXM"),
        device_hours=plan["gpu_hours"],
        seconds=plan["seconds"],
        pue=1.2,
        grid_gco2_kwh=100,
    )
    assert plan["energy_kwh"] == pytest.approx(expected.energy_kwh)
    assert plan["co2_kg"] == pytest.approx(expected.co2_kg)
    assert plan["goodput"] == 1.0
    tune = run_json("finetune", "llama-2-7b", "--tokens", "100M", "--gpus", "8xA100-80GB", "--goodput", "80%")
    assert tune["energy_kwh"] == pytest.approx(tune["gpu_hours"] / 0.8 * 0.4 * DEFAULT_PUE)
    assert tune["goodput"] == 0.8


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--goodput", "0", "--goodput"),
        ("--goodput", "1.5", "--goodput"),
        ("--pue", "0.5", "--pue"),
        ("--grid-gco2-kwh", "-3", "--grid-gco2-kwh"),
        ("--grid-gco2-kwh", "nan", "--grid-gco2-kwh"),
    ],
)
def test_bad_footprint_options_are_one_line(flag, value, message):
    result = CliRunner().invoke(
        scaling.cli.main, ["flops", "llama-2-7b", "--gpus", "8xA100-80GB", flag, value]
    )
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_every_catalog_power_has_a_source():
    for acc in accelerators():
        if acc.tdp_watts is not None:
            assert acc.tdp_source, acc.name
            assert 50 <= acc.tdp_watts <= 2000, acc.name


@settings(max_examples=40, deadline=None)
@given(
    hours=st.floats(1, 1e8),
    goodput=st.floats(0.05, 1.0),
    pue=st.floats(1.0, 3.0),
    grid=st.floats(0, 1000),
)
def test_footprint_scales_linearly(hours, goodput, pue, grid):
    h100 = get_accelerator("H100-SXM")
    one = footprint(h100, device_hours=hours, seconds=hours, goodput=goodput, pue=pue, grid_gco2_kwh=grid)
    two = footprint(h100, device_hours=2 * hours, seconds=hours, goodput=goodput, pue=pue, grid_gco2_kwh=grid)
    assert two.energy_kwh == pytest.approx(2 * one.energy_kwh)
    assert one.energy_kwh >= hours * 0.7  # never below the productive hours at TDP
    assert one.co2_kg == pytest.approx(one.energy_kwh * grid / 1000)
