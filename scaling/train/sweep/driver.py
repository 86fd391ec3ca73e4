"""The driver: run a planned sweep, training what runs.csv lacks on a back-end and committing each finished
run's row as it arrives, then the edge extensions its finished budgets call for.

runs.csv is the commit point: a run is done when its row is there, rewritten whole and atomically after each
run. A sweep killed at any moment and started again with the same command skips those run_ids and redoes only
unfinished ones. Diverged runs stay in with ``status=diverged`` (the fitter skips them); failed runs (an
exception, a dead worker) are recorded as ``failed`` and retried on the next start. One process at a time
writes a folder (folder.py's lock, held from planning to the last row).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scaling.errors import ScalingError
from scaling.flops import six_nd
from scaling.train.folder import damaged_report, locked, read_table, write_rows
from scaling.train.run import RunConfig, RunRecord, on_gpu, plan_steps, write_curve
from scaling.train.sweep.backends import BACKENDS
from scaling.train.sweep.eta import (
    WORKER_START_S,
    Progress,
    cpu_share,
    default_workers,
    estimate_seconds,
    format_clock,
    probe_recipe,
    run_seconds,
)
from scaling.train.sweep.grid import cell_float, edge_extensions
from scaling.train.sweep.recipe import Sweep
from scaling.train.sweep.sweep_json import matching_sweep_json, move_aside, write_sweep_json


def run_sweep(
    sweep: Sweep,
    *,
    workers: int | None = None,
    backend: str = "local",
    say: Callable[[str], None] = print,
    probe: bool = True,
    calibration: Any = None,
) -> list[dict[str, Any]]:
    """Run every planned config not yet in runs.csv (then edge extensions), keeping runs.csv current.

    Holds the folder's lock throughout (a second sweep on the folder is refused). Returns all rows of the
    folder's runs.csv at the end."""
    if backend not in BACKENDS:
        raise ScalingError(f"unknown backend {backend!r}: expected {', '.join(BACKENDS)}")
    workers = max(1, workers or default_workers(sweep.recipe["device"]))
    with locked(sweep.out):
        rows, damaged = _open_folder(sweep, say)
        _execute(sweep, rows, damaged, workers, backend, say, probe, calibration)
    for message in sweep.warnings:
        say(f"warning: {message}")
    return list(rows.values())


def _open_folder(sweep: Sweep, say: Callable[[str], None]) -> tuple[dict[str, dict], list[tuple[int, str]]]:
    """Under the lock: move old results aside (--force-new), re-check the recipe (another process may have
    written the folder since planning), read runs.csv (damaged lines reported), write sweep.json if it
    changed."""
    out = sweep.out
    if sweep.set_aside:
        aside = move_aside(out)
        say(f"sweep: {sweep.set_aside}; previous results moved to {aside}")
        sweep.set_aside = None
    else:
        saved, _ = matching_sweep_json(out, sweep.recipe, force_new=False)
        sweep.configs += [c for c in saved.get("configs", []) if c not in sweep.configs]
    table = read_table(out / "runs.csv")
    report = damaged_report(out / "runs.csv", table)
    if report:
        say(f"warning: {report}")
    write_sweep_json(sweep)
    return {r["run_id"]: r for r in table.rows}, table.damaged


def eta_source(calibration, sweep) -> str:
    """Where a calibrated ETA's throughput came from, in words."""
    from scaling.train.sweep.calibrated import calibrated_rate

    return calibrated_rate(calibration, sweep.recipe["device"], sweep.recipe.get("precision", "auto"))[1]


def planned_eta(sweep, todo, workers: int, rates: dict | None = None, probe: bool = True, calibration=None):
    """(seconds, FLOP/s per shape, share of a core) for ``todo`` on ``workers``: the shapes not yet probed are
    probed with the sweep's recipe (or rated by ``calibration``, `scaling.train.sweep.calibrated`), scaled by
    the share of a core each worker gets on this machine."""
    share = cpu_share(workers) if probe and not on_gpu(sweep.recipe["device"]) else 1.0
    if rates is None or any((c.d_model, c.n_layer) not in rates for c in todo):
        shapes = [(c.d_model, c.n_layer) for c in todo]
        if calibration is not None:
            from scaling.train.sweep.calibrated import calibrated_rate

            rate, _ = calibrated_rate(
                calibration, sweep.recipe["device"], sweep.recipe.get("precision", "auto")
            )
            measured = dict.fromkeys(shapes, rate)
        else:
            measured = probe_recipe(sweep.recipe, shapes) if probe else {}
        rates = {**(rates or {}), **{s: measured.get(s, 1e10) * share for s in shapes}}
    return estimate_seconds(todo, rates, workers, WORKER_START_S / share), rates, share


def _execute(sweep, rows, damaged, workers, backend, say, probe, calibration=None) -> None:
    """Train what runs.csv lacks, committing each finished run's row as it arrives; then edge extensions."""
    out = sweep.out
    runs_path = out / "runs.csv"
    rates: dict | None = None
    first = True
    while True:
        todo = [c for c in sweep.configs if c.run_id not in rows or rows[c.run_id]["status"] == "failed"]
        if not todo:
            break
        eta, rates, share = planned_eta(sweep, todo, workers, rates, probe, calibration)
        if first:
            skipped = len(sweep.configs) - len(todo)
            say(
                f"sweep: {len(todo)} runs to do"
                + (f" ({skipped} already in {runs_path})" if skipped else "")
                + f" over {len(sweep.budgets)} budgets, {workers} {backend} worker(s);"
                + f" ETA ~{format_clock(eta)}"
                + (
                    f" (probe: {min(rates.values()) / 1e9:.1f}-{max(rates.values()) / 1e9:.1f} GFLOP/s"
                    + " per worker"
                    + (f" at ~{share:.0%} of a core on this busy machine)" if share < 1 else ")")
                    if probe and calibration is None
                    else ""
                )
                + (f" ({eta_source(calibration, sweep)})" if calibration is not None else "")
            )
            first = False
        else:
            say(
                f"sweep: {len(todo)} edge-extension run(s) beyond a budget's smallest or largest size;"
                f" ETA ~{format_clock(eta)}"
            )
        todo = run_order(todo, rates)
        progress = Progress({c.run_id: run_seconds(c, rates) for c in todo}, workers, WORKER_START_S / share)
        more: list[RunConfig] = []  # edge extensions found while the pool runs, started on it at once
        try:
            for config, result in BACKENDS[backend](todo, out, workers, tick=progress.tick, more=more):
                if "error" in result:
                    row = _failed_row(config, result["error"])
                    with open(out / "errors.log", "a") as fh:
                        fh.write(f"{config.run_id}: {result.get('traceback') or result['error']}\n")
                else:
                    record = RunRecord(**result)
                    write_curve(record, out)  # the curve first: a row in runs.csv always has its curve
                    row = record.row
                rows[config.run_id] = row
                write_rows(runs_path, list(rows.values()), damaged)  # the commit point
                status = row["status"] if row["status"] != "ok" else f"loss {float(row['loss']):.3f}"
                progress.update(config.run_id, status, cell_float(row.get("wall_s")))
                if sweep.preset.extend:
                    rates = _extend_now(sweep, rows, rates, share, more, progress)
        finally:
            progress.close()
        if not sweep.preset.extend:
            break
        extra = [c for c in edge_extensions(sweep, list(rows.values())) if c not in sweep.configs]
        if not extra:
            break
        sweep.configs += extra
        write_sweep_json(sweep)


def run_order(todo: list[RunConfig], rates: dict) -> list[RunConfig]:
    """The order runs start in: the smallest budget's runs first, then the longest runs first (LPT).

    Longest first keeps the last run to finish short (no long tail on one core). The smallest budget goes
    before that because its runs are the shortest and its minimum is the likeliest to fall below the ladder
    (as measured at 3e11 FLOPs): finished early, its edge extension trains beside the long runs instead of
    alone at the end, with a core idle."""
    first = min((c.budget for c in todo), default=None)
    return sorted(todo, key=lambda c: (c.budget != first, -run_seconds(c, rates)))


def _extend_now(sweep: Sweep, rows: dict, rates: dict, share: float, more: list, progress: Progress) -> dict:
    """Edge extensions of budgets that have just finished: planned (sweep.json), queued on the running pool,
    and counted by the progress bar. Returns the rates with the new shapes probed."""
    extra = [c for c in edge_extensions(sweep, list(rows.values())) if c not in sweep.configs]
    if not extra:
        return rates
    new_shapes = [(c.d_model, c.n_layer) for c in extra if (c.d_model, c.n_layer) not in rates]
    if new_shapes:
        measured = probe_recipe(sweep.recipe, new_shapes)
        rates = {**rates, **{s: measured[s] * share for s in new_shapes}}
    sweep.configs += extra
    write_sweep_json(sweep)
    more += extra
    for c in extra:
        progress.add(c.run_id, run_seconds(c, rates))
        progress.note(
            f"sweep: budget {c.budget:.3g}: its minimum is at an edge of its sizes; adding "
            f"d{c.d_model}l{c.n_layer} ({c.run_id})"
        )
    return rates


def _failed_row(config: RunConfig, error: str) -> dict[str, Any]:
    """A run that raised or whose worker died: recorded (retried on the next start) with its planned N, D,
    C."""
    spec = config.spec()
    D = plan_steps(config, spec) * config.batch * config.seq_len
    return {
        "run_id": config.run_id,
        "status": "failed",
        "budget": config.budget,
        "N": spec.params,
        "N_nonemb": spec.params_non_embedding,
        "D": D,
        "C": six_nd(spec.params, D),
        "loss": float("nan"),
        "d_model": config.d_model,
        "n_layer": config.n_layer,
        "n_head": spec.n_head,
        "seq_len": config.seq_len,
        "batch": config.batch,
        "lr": config.lr,
        "seed": config.seed,
    }
