"""Round trips for every parser/formatter in scaling.units, and rejection of bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling import units
from scaling.errors import ScalingError

# 3 significant figures round to within half a unit in the last place: 0.5 % relative at worst
REL = 5.01e-3
_positive = st.floats(min_value=1e-3, max_value=1e30, allow_nan=False, allow_infinity=False)


@settings(max_examples=300)
@given(st.floats(min_value=1.0, max_value=1e24))
def test_count_round_trip(value):
    assert units.parse_count(units.format_count(value)) == pytest.approx(value, rel=REL)


@settings(max_examples=200)
@given(st.floats(min_value=1e3, max_value=1e30), st.integers(min_value=2, max_value=6))
def test_flops_round_trip(value, digits):
    text = units.format_flops(value, digits)
    assert text.endswith(" FLOP")
    assert units.parse_flops(text) == pytest.approx(value, rel=0.51 * 10 ** (1 - digits))


@settings(max_examples=200)
@given(st.floats(min_value=1e15, max_value=1e30))
def test_pf_days_round_trip(value):
    assert units.parse_flops(units.format_pf_days(value)) == pytest.approx(value, rel=REL)


@settings(max_examples=300)
@given(st.floats(min_value=1.0, max_value=1e18), st.booleans())
def test_bytes_round_trip_binary_and_decimal(value, binary):
    text = units.format_bytes(value, binary=binary)
    assert ("i" in text) == binary or text.endswith(" B")
    assert units.parse_bytes(text) == pytest.approx(value, rel=REL)


@settings(max_examples=300)
@given(st.floats(min_value=0.01, max_value=1e10))
def test_duration_round_trip(seconds):
    text = units.format_duration(seconds)
    assert units.parse_duration(text) == pytest.approx(seconds, rel=REL)


@settings(max_examples=300)
@given(st.floats(min_value=0.01, max_value=1e14))
def test_money_round_trip(usd):
    # cents are rounded half to even ($0.875 prints $0.88): half a cent, plus float slack
    assert units.parse_money(units.format_usd(usd)) == pytest.approx(usd, rel=REL, abs=0.005 + 1e-12)


@settings(max_examples=300)
@given(st.floats(min_value=1e-4, max_value=1.0))
def test_fraction_round_trip(value):
    assert units.parse_fraction(units.format_fraction(value)) == pytest.approx(value, rel=REL)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("7B", 7e9),
        ("1.4T", 1.4e12),
        ("350M", 350e6),
        ("70e9", 70e9),
        ("1_000_000", 1e6),
        ("12k", 12e3),
        ("2 G", 2e9),
    ],
)
def test_parse_count_examples(text, expected):
    assert units.parse_count(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("80GB", 80e9),
        ("80GiB", 80 * 2**30),
        ("512MiB", 512 * 2**20),
        ("1.5TB", 1.5e12),
        ("8Gb", 1e9),
        ("1 kB", 1e3),
        ("5KiB", 5120),
        ("100", 100),
    ],
)
def test_parse_bytes_gb_vs_gib(text, expected):
    assert units.parse_bytes(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("3640 PF-days", 3640 * 8.64e19),
        ("1 pfs-day", 8.64e19),
        ("100ZFLOP", 1e23),
        ("3.14e23", 3.14e23),
        ("5e21 FLOPs", 5e21),
    ],
)
def test_parse_flops_examples(text, expected):
    assert units.parse_flops(text) == pytest.approx(expected)


def test_small_values_keep_their_digits():
    assert units.parse_flops(units.format_pf_days(1e15)) == pytest.approx(1e15, rel=REL)
    assert units.format_count(0.000123) == "0.000123"


def test_pf_day_constant():
    assert units.PF_DAY_FLOPS == 8.64e19
    assert units.format_pf_days(8.64e19) == "1 PF-days"


def test_parse_duration_and_money_examples():
    assert units.parse_duration("30d") == 30 * 86400
    assert units.parse_duration("720h") == 720 * 3600
    assert units.parse_duration(2) == 2 * 86400  # a bare number is days
    assert units.parse_money("$2.49/h") == 2.49
    assert units.parse_money("$2M") == 2e6
    assert units.parse_fraction("40%") == 0.4


_BAD_NUMBERS = ["nan", "inf", "-inf", "0", "-1", "", "abc", "7 bananas", "1e400"]


@pytest.mark.parametrize(
    "parser",
    [
        units.parse_count,
        units.parse_int,
        units.parse_flops,
        units.parse_bytes,
        units.parse_duration,
        units.parse_money,
        units.parse_fraction,
    ],
)
@pytest.mark.parametrize("bad", _BAD_NUMBERS + [float("nan"), float("inf"), 0, -5, -0.1])
def test_parsers_reject_nan_inf_zero_negative_garbage(parser, bad):
    with pytest.raises(ScalingError):
        parser(bad)


@pytest.mark.parametrize("bad", [1.5, "2.5", 0])
def test_parse_int_rejects_fractions_and_zero(bad):
    with pytest.raises(ScalingError):
        units.parse_int(bad)


def test_parse_fraction_rejects_above_one():
    for bad in (1.01, "101%", "2"):
        with pytest.raises(ScalingError):
            units.parse_fraction(bad)


def test_errors_name_the_value_and_what_is_accepted():
    with pytest.raises(ScalingError) as info:
        units.parse_count("7 bananas", "--tokens")
    message = str(info.value)
    assert "--tokens" in message and "7 bananas" in message and "1.4T" in message


def test_allow_zero():
    assert units.parse_count("0", allow_zero=True) == 0
    assert units.parse_money(0, allow_zero=True) == 0


def test_counts_are_decimal_never_1024():
    assert units.format_count(6_738_415_616) == "6.74B"
    assert units.format_count(1e9) == "1B"


@given(st.integers(min_value=1_000, max_value=10**15))
def test_thousands_separators_parse_to_the_number(value):
    assert units.parse_count(f"{value:,}") == value


@given(st.integers(min_value=1, max_value=999), st.integers(min_value=0, max_value=99))
def test_decimal_commas_are_refused_not_read_as_thousands(whole, fraction):
    # "1,5" means 1.5 in much of the world; reading it as 15 would be a silent error.
    with pytest.raises(ScalingError, match="commas separate thousands"):
        units.parse_count(f"{whole},{fraction}")


@given(
    devices=st.integers(min_value=1, max_value=100_000),
    accelerator=st.sampled_from(["H100", "A100-80GB", "A100-40GB"]),
    days=st.integers(min_value=1, max_value=400),
    percent=st.integers(min_value=1, max_value=100),
)
def test_cluster_budget_string_is_devices_x_peak_x_mfu_x_time(devices, accelerator, days, percent):
    from scaling.budget import budget_from_text
    from scaling.catalog import get_accelerator

    budget = budget_from_text(f"{devices}x{accelerator} {days}d {percent}%")
    peak = get_accelerator(accelerator).peak("bf16")
    assert budget.flops == pytest.approx(devices * peak * percent / 100 * days * 86400, rel=1e-12)
    assert budget.kind == "time" and budget.seconds == days * 86400


@given(st.text(max_size=30))
def test_budget_parser_accepts_or_says_why(text):
    from scaling.budget import budget_from_text

    try:
        budget = budget_from_text(text)
    except ScalingError as exc:
        assert "budget" in str(exc) and "\n" not in str(exc)
    else:
        assert budget.flops > 0 and budget.flops < float("inf")
