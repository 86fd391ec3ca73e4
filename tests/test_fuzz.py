"""Hostile input never gives a traceback: a seeded fuzz of every non-training command, in process.

The calls come from `tests/fuzzing.py` (adversarial numbers, unit strings, unicode, damaged files; the
options are read from the commands). ``bench/fuzz.py`` runs the same fuzzer for 40,000 calls.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaling.cli import main
from tests.fuzzing import damaged_files, draw_call, run_call


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return damaged_files(tmp_path_factory.mktemp("fuzz-inputs"))


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(rng=st.randoms(use_true_random=False))
def test_no_command_gives_a_traceback_or_a_multi_line_error(
    rng: random.Random, files, tmp_path_factory, monkeypatch
):
    monkeypatch.chdir(tmp_path_factory.getbasetemp())
    args = draw_call(rng, main, files)
    accelerators = [f for f in files if "accel_" in f]
    env = (
        {"SCALING_ACCELERATORS": rng.choice(accelerators)} if rng.random() < 0.1 else None
    )  # a damaged catalog
    outcome = run_call(main, args, env)
    assert outcome.unhandled is None, f"scaling {' '.join(args)}: {outcome.unhandled}"
    assert outcome.bad_error is None, f"scaling {' '.join(args)}: {outcome.bad_error}"


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--gpu-hours", "1e30"],
        ["plan", "--gpus", "99999999999999999999xH100", "--days", "30"],
        ["plan", "--flops", "1e23", "--inference-tokens", "1e25"],
        ["flops", "--params", "1e308", "--tokens", "1T"],
        ["plan", "--flops", "1e22", "--html", "/dev/null/x.html"],
        ["plan", "--flops", "1e22", "--html", "n" * 300 + ".html"],
    ],
)
def test_known_hostile_calls_are_one_error_line_fast(args, tmp_path, monkeypatch):
    # Each of these once ran for minutes, overflowed, printed inf or a traceback.
    monkeypatch.chdir(tmp_path)
    outcome = run_call(main, args)
    assert outcome.unhandled is None and outcome.bad_error is None, (outcome.unhandled, outcome.bad_error)
    assert outcome.exit_code == 2
    assert outcome.seconds < 5


BIG = "9" * 5000  # past Python's 4,300-digit limit on reading a whole number


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--gpus", f"{BIG}xH100", "--days", "30"],
        ["plan", "--gpus", f"8x{BIG}xH100", "--days", "30"],
        ["memory", "llama-2-7b", "--zero", BIG],
        ["memory", "llama-2-7b", "--tp", BIG],
        ["gpus", "--accelerator-file", "a\x00b.csv"],
        ["plan", "--flops", "1e22", "--html", "a\x00b.html"],
        ["chart", "zone", "--known-models", "k\x00.csv", "-o", "z.html"],
        ["fit", "runs\x00.csv"],
    ],
    ids=[
        "gpus-digits",
        "gpus-per-node-digits",
        "zero-digits",
        "tp-digits",
        "nul-accelerator-file",
        "nul-html",
        "nul-known-models",
        "nul-runs",
    ],
)
def test_huge_digit_strings_and_nul_bytes_are_one_short_error_line(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome = run_call(main, args)
    assert outcome.unhandled is None and outcome.bad_error is None, (outcome.unhandled, outcome.bad_error)
    assert outcome.exit_code == 2


def test_python_warnings_print_as_one_warning_line():
    import warnings

    import click
    from click.testing import CliRunner

    @click.command()
    def noisy():
        warnings.warn("a numerical caution", RuntimeWarning, stacklevel=1)

    main.add_command(noisy, "noisy-test-command")
    try:
        result = CliRunner().invoke(main, ["noisy-test-command"])
    finally:
        main.commands.pop("noisy-test-command")
    assert result.exit_code == 0
    assert result.stderr.strip() == "warning: a numerical caution"


def _huge_field_table(path):
    from scaling.fit import synthetic_runs

    frame = synthetic_runs("chinchilla", seed=2).astype({"N": object})
    frame.loc[3, "N"] = "x" * 10_000_000
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    "args",
    [
        ["laws", "7B\n"],
        ["flops", "--params", "7" * 9_000 + "Q", "--tokens", "1T"],
        ["flops", "--params", "7B\x1b[31m\r", "--tokens", "1T"],
        ["optimal", "--budget", "1e23", "--law", "q" * 20_000],
        ["optimal", "--budget", "1e23", "--law", "chinchilla\nsecond line"],
        ["gpus", "--accelerator-file", "a" * 5_000],
        ["fit", "{huge}"],
    ],
)
def test_every_message_is_one_short_line_with_the_value_shortened(args, tmp_path, monkeypatch):
    # a 10 MB field became a 10 MB warning line, a 5,000-character argument was echoed whole, and
    # `scaling laws $'7B\n'` gave a two-line error
    from click.testing import CliRunner

    from scaling.errors import LINE_CHARS

    monkeypatch.chdir(tmp_path)
    args = [a.replace("{huge}", _huge_field_table(tmp_path / "runs.csv")) for a in args]
    result = CliRunner().invoke(main, args)
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith(("error:", "warning:")) for line in lines), lines
    assert sum(line.startswith("error:") for line in lines) == (result.exit_code != 0)
    assert all(len(line) <= LINE_CHARS and line.isprintable() for line in lines), [len(x) for x in lines]
    assert result.exit_code in (0, 2) and isinstance(result.exception, (SystemExit, type(None)))


def test_quoted_values_keep_their_start_and_say_their_length():
    from scaling.errors import one_line, quoted

    assert quoted("7B") == "'7B'"
    assert quoted("7B\n") == "'7B\\n'"
    assert quoted("x" * 1000) == "'" + "x" * 80 + "'… (1,000 characters)"
    assert quoted(list(range(1000))).endswith("characters)") and len(quoted(list(range(1000)))) < 120
    line = one_line("error: invalid thing '" + "x" * 10_000_000 + "': expected a number\n")
    assert len(line) <= 400 and line.endswith("': expected a number\\n") and " … " in line
