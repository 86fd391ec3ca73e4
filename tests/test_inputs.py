"""Input files are read only from regular files, at most `MAX_INPUT_BYTES`, through one function."""

from __future__ import annotations

import os
import threading

import pytest

from scaling import catalog, inputs
from scaling.cli import main
from scaling.errors import ScalingError
from scaling.laws import load_law
from scaling.model import spec_from_hf_config
from scaling.runs_table import read_table
from tests.fuzzing import run_call

READERS = {
    "runs table": read_table,
    "known models": catalog.known_models,
    "catalog CSV": catalog.read_csv,
    "law JSON": load_law,
    "config.json": spec_from_hf_config,
}


@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    return path


def _within_seconds(call, seconds=10):
    """What ``call`` returned or the exception it raised, failing the test if it is still running after
    ``seconds``."""
    outcome = {}

    def target():
        try:
            outcome["exc"] = call()
        except BaseException as exc:  # noqa: BLE001 - the caller inspects it
            outcome["exc"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the read never returned"
    return outcome.get("exc")


@pytest.mark.parametrize("reader", READERS.values(), ids=list(READERS))
def test_device_is_refused_not_read_forever(reader):
    exc = _within_seconds(lambda: reader("/dev/zero"))
    assert isinstance(exc, ScalingError) and "not a regular file" in str(exc)


@pytest.mark.parametrize("reader", READERS.values(), ids=list(READERS))
def test_fifo_is_refused_without_waiting_for_a_writer(reader, fifo):
    exc = _within_seconds(lambda: reader(fifo))
    assert isinstance(exc, ScalingError) and "not a regular file" in str(exc)


def test_chart_zone_known_models_dev_zero_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["chart", "zone", "--known-models", "/dev/zero", "-o", "z.html"]
    outcome = _within_seconds(lambda: run_call(main, args))
    assert outcome.unhandled is None and outcome.bad_error is None and outcome.exit_code == 2


def test_file_over_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_INPUT_BYTES", 100)
    path = tmp_path / "runs.csv"
    path.write_text("N,D,loss\n" + "1e8,1e9,3.0\n" * 20)
    with pytest.raises(ScalingError, match="the limit on an input file"):
        read_table(path)


@pytest.mark.parametrize("reader", READERS.values(), ids=list(READERS))
def test_path_holding_a_nul_byte_is_one_error(reader):
    with pytest.raises(ScalingError, match="NUL byte"):
        reader("runs\x00.csv")


def test_folder_given_as_a_law_file_is_one_error(tmp_path):
    with pytest.raises(ScalingError, match="it is a folder"):
        load_law(tmp_path)
    with pytest.raises(ScalingError, match="it is a folder"):
        catalog.known_models(tmp_path)
