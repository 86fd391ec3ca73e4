"""Where a sweep's runs execute: a thin back-end over `train_run`, each run a pure function of its
`RunConfig`.

* ``local``: a pool of single-threaded worker processes, one per core (faster here than threads, as measured),
  or one per GPU, each worker seeing its own GPU;
* ``ray``: Ray tasks of 1 CPU each, on the cluster at $RAY_ADDRESS or a local one.

Each yields (config, record) as runs finish; a run that raises or whose worker dies becomes a record with an
``error``, never a crash of the sweep.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError
from scaling.train.run import RunConfig, on_gpu, train_run

_SHARED: Any = None  # in a worker process: the pool's shared per-run progress (fraction of steps done)


def _init_worker(progress: Any = None, counter: Any = None, gpus: int = 0) -> None:
    # Before torch is imported in this fresh (spawned) process: one thread, so N workers use N cores without
    # oversubscription. Processes beat threads for models this small (as measured). With GPUs, each worker
    # sees one of them (in turn), so that a run's cuda:0 is that worker's own GPU.
    global _SHARED
    _SHARED = progress
    if counter is not None and gpus > 0:
        with counter.get_lock():
            index, counter.value = counter.value, counter.value + 1
        visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        os.environ["CUDA_VISIBLE_DEVICES"] = (visible or [str(i) for i in range(gpus)])[index % gpus]
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def _run_one(config: dict[str, Any], out: str, slot: int = -1) -> dict[str, Any]:
    """Worker entry: one run -> its record as a dict (a failure becomes a ``failed`` record, never a
    crash)."""

    def on_step(done: int, steps: int) -> None:
        _SHARED[slot] = done / steps

    try:
        tell = on_step if _SHARED is not None and slot >= 0 else None
        return train_run(config, out_dir=out, on_step=tell).to_dict()
    except Exception as exc:  # recorded, retried on the next start
        return {
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "config": config,
        }


def execute_local(
    configs: list[RunConfig],
    out: Path,
    workers: int,
    tick: Callable[[dict[str, float]], None] | None = None,
    more: list[RunConfig] | None = None,
) -> Iterator[tuple[RunConfig, dict]]:
    """Run configs on a pool of single-threaded worker processes; yield each (config, record) as it finishes.
    ``tick`` gets every run's fraction of steps done about once a second (progress within runs). Configs the
    caller appends to ``more`` while it handles a result are run too, on the same pool."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # spawn: a clean interpreter per worker (fork after torch is imported can deadlock its thread pools).
    context = multiprocessing.get_context("spawn")
    shared = context.Array("d", len(configs) + 64, lock=False)  # progress slots, with room for added runs
    started: list[RunConfig] = []  # by progress slot
    gpus = 0
    if any(on_gpu(c.device) for c in configs):
        import torch

        gpus = torch.cuda.device_count()
    initargs = (shared, context.Value("i", 0), gpus)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=initargs
    ) as pool:

        def submit(config: RunConfig) -> None:
            slot = len(started) if len(started) < len(shared) else -1
            started.append(config)
            pending[pool.submit(_run_one, config.to_dict(), str(out), slot)] = config

        # At most one run per worker in the pool at a time, so that a run added to ``more`` starts next rather
        # than behind every queued one.
        queue, pending = list(configs), {}
        try:
            while queue or pending:
                while queue and len(pending) < workers:
                    config = queue.pop(0)
                    try:
                        submit(config)
                    # a broken pool (a worker died): each run left is recorded failed
                    except Exception as exc:
                        yield config, {"error": f"{type(exc).__name__}: {exc}", "config": config.to_dict()}
                done, _ = wait(pending, timeout=1.0 if tick else None, return_when=FIRST_COMPLETED)
                if tick is not None:
                    tick({c.run_id: shared[i] for i, c in enumerate(started[: len(shared)])})
                for future in done:
                    config = pending.pop(future)
                    try:
                        yield config, future.result()
                    except Exception as exc:  # a dead worker (killed, out of memory)
                        yield config, {"error": f"{type(exc).__name__}: {exc}", "config": config.to_dict()}
                    if more:
                        queue[:0] = more
                        more.clear()
        finally:
            for future in pending:
                future.cancel()


def execute_ray(
    configs: list[RunConfig],
    out: Path,
    workers: int,
    tick: Callable[[dict[str, float]], None] | None = None,
    more: list[RunConfig] | None = None,
) -> Iterator[tuple[RunConfig, dict]]:
    """Run configs as Ray tasks of 1 CPU each, on the cluster at $RAY_ADDRESS or a local one (progress is
    reported per finished run; ``tick`` is not called).

    On a real cluster ``out`` must be on a filesystem every node sees (checkpoints are written by the
    workers); runs.csv and the curves are written here, by the driver."""
    try:
        import ray
    except ImportError:
        raise ScalingError("--backend ray needs Ray: pip install 'ray[default]'") from None
    if not ray.is_initialized():
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            num_cpus=None if os.environ.get("RAY_ADDRESS") else workers,
            runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}},
            include_dashboard=False,
            log_to_driver=False,
        )
    task = ray.remote(num_cpus=1)(_ray_task)
    pending = {task.remote(c.to_dict(), str(out)): c for c in configs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            config = pending.pop(ref)
            try:
                yield config, ray.get(ref)
            except Exception as exc:
                yield config, {"error": f"{type(exc).__name__}: {exc}", "config": config.to_dict()}
            while more:
                added = more.pop(0)
                pending[task.remote(added.to_dict(), str(out))] = added


def _ray_task(config: dict[str, Any], out: str) -> dict[str, Any]:
    _init_worker()
    return _run_one(config, out)


BACKENDS: dict[str, Callable[..., Iterator[tuple[RunConfig, dict]]]] = {
    "local": execute_local,
    "ray": execute_ray,
}
