"""Nothing a sweep folder holds is lost: one writer at a time, damaged rows set aside (the trained run is
still recorded), dry runs change nothing, and a folder or file that cannot be used is one `error:` line,
exit 2. `scaling sample` refuses meaningless settings and never suggests loading a checkpoint unsafely.

Needs torch (the train extra). The two tiny runs trained here take a few seconds.
"""

from __future__ import annotations

import csv
import json
import math
import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from scaling.cli import main  # noqa: E402
from scaling.errors import ScalingError  # noqa: E402
from scaling.train.folder import HOLDER_NAME, LOCK_NAME, locked, read_table  # noqa: E402
from scaling.train.sweep import plan_sweep, write_sweep_json  # noqa: E402

pytestmark = pytest.mark.torch
TWO_RUNS = ["sweep", "--preset", "smoke", "--budgets", "1e9", "--sizes", "2", "--workers", "1"]


def _invoke(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-run sweep folder (copied by the tests that change it)."""
    out = tmp_path_factory.mktemp("finished") / "sweep"
    result = _invoke([*TWO_RUNS, "--out", out])
    assert result.exit_code == 0, result.output
    return out


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


# --------------------------------------------------------------------------------------------- the lock
def test_second_sweep_on_a_locked_folder_says_who_holds_it_and_exits_2(tmp_path):
    """Two sweeps on one folder used to both train and replace each other's rows (issue: work lost)."""
    from filelock import FileLock

    out = tmp_path / "sweep"
    out.mkdir()
    other = FileLock(str(out / LOCK_NAME), thread_local=False)  # another holder (its own file descriptor)
    other.acquire(timeout=0)
    try:
        holder = {"pid": 4242, "host": "node7", "since": "2026-01-01 10:00:00", "command": "scaling sweep"}
        (out / HOLDER_NAME).write_text(json.dumps(holder))
        line = _one_error_line(_invoke([*TWO_RUNS, "--out", out]))
        assert "in use by another sweep" in line and "pid 4242 on node7" in line
        assert not (out / "runs.csv").exists() and not (out / "sweep.json").exists()
    finally:
        other.release()


def test_lock_is_reentrant_in_one_process_and_released_after(tmp_path):
    with locked(tmp_path), locked(tmp_path):
        holder = json.loads((tmp_path / HOLDER_NAME).read_text())
        assert holder["pid"] == os.getpid()
    from filelock import FileLock

    free = FileLock(str(tmp_path / LOCK_NAME), thread_local=False)
    free.acquire(timeout=0)  # released: anyone may take it now
    free.release()


# ------------------------------------------------------------------------------------- damaged runs.csv
def test_garbage_line_in_runs_csv_is_set_aside_and_the_retrained_run_recorded(finished, tmp_path):
    """A note appended to runs.csv used to crash the resumed sweep after it retrained the missing run, on
    every restart."""
    out = _copy(finished, tmp_path / "sweep")
    rows = _rows(out / "runs.csv")
    assert len(rows) == 2
    lines = (out / "runs.csv").read_text().splitlines()
    kept = [lines[0], next(line for line in lines[1:] if line.startswith(rows[0]["run_id"]))]
    (out / "runs.csv").write_text("\n".join(kept) + "\nmy note,,,\n")
    result = _invoke([*TWO_RUNS, "--out", out])
    assert result.exit_code == 0, result.output
    assert "damaged row" in result.output and "runs.damaged.csv" in result.output
    after = _rows(out / "runs.csv")
    assert sorted(r["run_id"] for r in after) == sorted(r["run_id"] for r in rows)  # the missing run is back
    assert "my note,,," in (out / "runs.damaged.csv").read_text().splitlines()  # kept, not dropped


def test_runs_csv_without_header_or_binary_is_one_error(finished, tmp_path):
    for name, content in (
        ("noheader", b"c1e9-d8l1,ok,1e9,1000,2000,1.5\n"),
        ("binary", b"\x00\x01\xff" * 50),
    ):
        out = _copy(finished, tmp_path / name)
        (out / "runs.csv").write_bytes(content)
        line = _one_error_line(_invoke([*TWO_RUNS, "--out", out, "--dry-run"]))
        assert "runs.csv" in line
    with pytest.raises(ScalingError, match="binary"):
        read_table(tmp_path / "binary" / "runs.csv")


def test_garbage_sweep_json_is_one_error_and_force_new_moves_it_aside(finished, tmp_path):
    out = _copy(finished, tmp_path / "sweep")
    (out / "sweep.json").write_text("{not json")
    line = _one_error_line(_invoke([*TWO_RUNS, "--out", out]))
    assert "sweep.json is damaged" in line and "--force-new" in line
    (out / "sweep.json").write_text(json.dumps({"recipe": {}, "configs": [{"d_model": "x"}]}))
    assert "damaged" in _one_error_line(_invoke([*TWO_RUNS, "--out", out, "--dry-run"]))


# ------------------------------------------------------------------------------------------- dry runs
def test_dry_run_with_force_new_changes_nothing(tmp_path):
    """`sweep --dry-run --force-new` used to move the existing results aside."""
    write_sweep_json(plan_sweep(tmp_path, preset="smoke"))
    (tmp_path / "runs.csv").write_text("run_id,status,budget,N,D,C,loss\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = _invoke(
        ["sweep", "--preset", "smoke", "--seed", "3", "--out", tmp_path, "--dry-run", "--force-new"]
    )
    assert result.exit_code == 0, result.output
    assert "a real run would move the previous results aside" in result.output
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no previous-*, no lock file


def test_finished_sweep_rewrites_nothing(finished, tmp_path):
    """A finished sweep run again rewrote sweep.json (so a read-only folder failed)."""
    out = _copy(finished, tmp_path / "sweep")
    stamps = {name: (out / name).stat().st_mtime_ns for name in ("sweep.json", "runs.csv")}
    result = _invoke([*TWO_RUNS, "--out", out])
    assert result.exit_code == 0, result.output
    assert {name: (out / name).stat().st_mtime_ns for name in stamps} == stamps


# ------------------------------------------------------------------------------ folders that cannot be
def test_names_over_255_bytes_and_unusable_folders_are_one_error(tmp_path):
    long = tmp_path / ("x" * 300)
    for extra in ([], ["--dry-run"]):
        assert "File name too long" in _one_error_line(_invoke([*TWO_RUNS, "--out", long, *extra]))
    (tmp_path / "file").write_text("not a folder")
    _one_error_line(_invoke([*TWO_RUNS, "--out", tmp_path / "file" / "sub"]))
    _one_error_line(_invoke(["train", "--d-model", "8", "--n-layer", "1", "--budget", "1e8", "--out", long]))


# ---------------------------------------------------------------------------------------------- sample
@pytest.mark.parametrize(
    "option",
    [
        ["--temperature", "nan"],
        ["--temperature", "0"],
        ["--top-k", "-1"],
        ["--top-p", "nan"],
        ["--top-p", "1.5"],
        ["--max-new-tokens", "-3"],
    ],
    ids=lambda o: " ".join(o),
)
def test_sample_refuses_meaningless_settings(finished, option):
    line = _one_error_line(_invoke(["sample", finished, *option]))
    assert option[0] in line


def test_damaged_or_foreign_checkpoint_is_one_error_without_unsafe_advice(finished, tmp_path):
    checkpoint = next((finished / "checkpoints").glob("*.pt"))
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(checkpoint.read_bytes()[:2000])
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(pickle.dumps(os.system))  # would run code if loaded unsafely
    for path in (damaged, foreign, hostile):
        result = _invoke(["sample", path, "--max-new-tokens", "5"])
        line = _one_error_line(result)
        assert "weights_only" not in result.output and str(path) in line


# ------------------------------------------------------------------------------------------ designs
def test_sweep_design_runs_exactly_those_runs_under_the_folders_recipe(finished, tmp_path):
    out = _copy(finished, tmp_path / "sweep")
    design = tmp_path / "next.csv"
    design.write_text("N,D,C,budget,d_model,n_layer,reason\n1,1,1,2e9,12,1,left\n1,1,1,2e9,8,1,right\n")
    before = {r["run_id"]: r for r in _rows(out / "runs.csv")}
    planned = _invoke(["sweep", "--design", design, "--out", out, "--dry-run", "--json"])
    assert planned.exit_code == 0, planned.output
    result = _invoke(["sweep", "--design", design, "--out", out, "--workers", "1"])
    assert result.exit_code == 0, result.output
    after = {r["run_id"]: r for r in _rows(out / "runs.csv")}
    new = [r for k, r in after.items() if k not in before]
    assert sorted((int(r["d_model"]), float(r["budget"])) for r in new) == [(8, 2e9), (12, 2e9)]
    assert all(after[k] == r for k, r in before.items())  # the sweep's own runs untouched
    recipe = json.loads((out / "sweep.json").read_text())["recipe"]
    assert recipe == json.loads((finished / "sweep.json").read_text())["recipe"]  # the folder's recipe
    stamp = (out / "runs.csv").stat().st_mtime_ns
    again = _invoke(["sweep", "--design", design, "--out", out, "--workers", "1"])
    assert again.exit_code == 0 and (out / "runs.csv").stat().st_mtime_ns == stamp  # resumed: nothing redone


def test_sweep_design_that_is_not_a_design_is_one_error(finished, tmp_path):
    for text in (
        "N,D,loss\n1,2,3\n",
        "d_model,n_layer,budget\n12,1,-5\n",
        "d_model,n_layer,budget\n12.5,1,1e9\n",
    ):
        design = tmp_path / "bad.csv"
        design.write_text(text)
        _one_error_line(_invoke(["sweep", "--design", design, "--out", finished, "--dry-run"]))


def test_next_on_a_sweep_folder_proposes_trainable_shapes_that_sweep_design_plans(tmp_path):
    """`scaling next FOLDER -o next.csv` then `scaling sweep --design next.csv`: the proposed runs are the
    sweep's own shapes on exact-FLOP budgets, and the sweep plans exactly them (losses here from Chinchilla's
    law)."""
    from scaling.laws import get_law
    from scaling.runs_table import write_rows
    from scaling.train.run import flop_accounting, plan_steps

    plan = plan_sweep(tmp_path, preset="smoke", budgets=[3e9, 1e10, 3e10], sizes=4)
    write_sweep_json(plan)
    law = get_law("chinchilla")
    rng = np.random.default_rng(0)
    rows = []
    for c in plan.configs:
        spec = c.spec()
        D = plan_steps(c, spec) * c.batch * c.seq_len
        loss = float(law.predict(spec.params * 1e4, D * 1e4)) * math.exp(0.01 * rng.standard_normal())
        rows.append(
            {
                "run_id": c.run_id,
                "status": "ok",
                "budget": c.budget,
                "N": spec.params,
                "D": D,
                **flop_accounting(spec, D),
                "loss": loss,
                "d_model": c.d_model,
                "n_layer": c.n_layer,
            }
        )
    write_rows(tmp_path / "runs.csv", rows)
    out = tmp_path.parent / f"{tmp_path.name}-next.csv"
    result = _invoke(
        ["next", tmp_path, "--budget-flops", "1e11", "--runs", "3", "--bootstrap", "200", "-o", out]
    )
    assert result.exit_code == 0, result.output
    proposed = _rows(out)
    assert 1 <= len(proposed) <= 3 and sum(float(r["cost_flops"]) for r in proposed) <= 1e11 * (1 + 1e-9)
    shapes = {(8, 1), (12, 1), (16, 1), (24, 1), (32, 1)}
    assert all((int(r["d_model"]), int(r["n_layer"])) in shapes for r in proposed)
    planned = _invoke(["sweep", "--design", out, "--out", tmp_path, "--dry-run", "--json"])
    assert planned.exit_code == 0, planned.output
    configs = json.loads(planned.output[planned.output.index("[") :])
    new = [c for c in configs if c["run_id"] not in {r["run_id"] for r in rows}]
    expected = [(int(r["d_model"]), float(r["budget"]), int(r["seed"])) for r in proposed]
    assert sorted((c["d_model"], c["budget"], c["seed"]) for c in new) == sorted(expected)
    assert len(new) == len(
        proposed
    )  # a repeat of a run already there (or proposed twice) trains under a new seed


def test_dry_run_prints_the_eta_its_help_promises(tmp_path):
    # `sweep --help` says an ETA is printed first; a dry run printed none, and its budgets as "1e+09".
    result = CliRunner().invoke(
        main, ["sweep", "--preset", "smoke", "--out", str(tmp_path / "r"), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "ETA ~" in result.stderr and "edge extension" in result.stderr
    assert "e+" not in result.stdout and "1.00e09 FLOP" in result.stdout
    assert not (tmp_path / "r").exists()  # a dry run writes nothing
