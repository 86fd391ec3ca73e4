"""How long a sweep takes: the throughput probe, each run's predicted wall time, the ETA on a number of
workers, and the progress bar that calibrates it as runs finish.

The probe times a few of each shape's real training steps on one thread; a run's prediction is its FLOPs at
that rate plus a fixed overhead, scaled by the share of a core each worker can expect on a busy machine.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from scaling.train.run import (
    RunConfig,
    autocast,
    evaluation_tokens,
    exact_flops_per_token,
    on_gpu,
    torch_device,
)
from scaling.train.sweep.recipe import RECIPE_DEFAULTS


def probe_throughput(
    shapes: list[tuple[int, int]],
    seq_len: int,
    batch: int,
    seconds: float = 0.25,
    device: str = "cpu",
    precision: str = "fp32",
) -> dict:
    """Measured training FLOP/s (exact convention) of each shape per worker: a few of the run's own steps
    (forward in the run's precision, backward, gradient clipping, fused AdamW) on random tokens. On the CPU
    they are timed in CPU time of one thread, so that a busy machine does not distort a short probe
    (`cpu_share` says how much of a core each worker will get); on a GPU by the wall clock, synchronised. At
    the smallest sizes a step is bound by per-op overhead, the optimizer's included: a stand-in step would
    overstate their speed."""
    import torch

    from scaling.train.model import GPT, gpt_spec

    where = torch_device(device)
    gpu = where.type == "cuda"
    clock = time.perf_counter if gpu else time.thread_time
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rates = {}
    try:
        for shape in sorted(set(shapes)):
            spec = gpt_spec(*shape, seq_len=seq_len)
            model = GPT(spec).to(where)
            optimizer = torch.optim.AdamW(model.param_groups(0.1), lr=1e-4, betas=(0.9, 0.95), fused=True)
            x = torch.randint(0, 256, (batch, seq_len), device=where)
            n, elapsed = 0, 0.0
            for i in range(1000):
                tick = clock()
                with autocast(where, precision):
                    _, loss = model(x, x)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                loss.item()  # a host sync on a GPU, as in the run
                if i >= 2:  # skip the first steps (allocation, kernel selection)
                    n, elapsed = n + 1, elapsed + clock() - tick
                    if elapsed > seconds and n >= 3:
                        break
            rates[shape] = exact_flops_per_token(spec) * batch * seq_len * n / elapsed
    finally:
        torch.set_num_threads(threads)
    return rates


def probe_recipe(recipe: dict[str, Any], shapes: list[tuple[int, int]]) -> dict:
    """`probe_throughput` of these shapes under the sweep's recipe (sequence, batch, device, precision)."""
    return probe_throughput(
        shapes,
        recipe["seq_len"],
        recipe["batch"],
        device=recipe.get("device", "cpu"),
        precision=recipe.get("precision", RECIPE_DEFAULTS["precision"]),
    )


RUN_OVERHEAD_S = 1.0  # per run in a warm worker: read the (cached) corpus, build the model, save a checkpoint
# per worker on a quiet machine: import torch (3 s), torch._dynamo (3 s), the corpus (1 s), two starting at
# once
WORKER_START_S = 10.0


def run_seconds(config: RunConfig, rates: dict) -> float:
    """A run's predicted wall time: its training FLOPs and its evaluations' forward FLOPs (a third of a
    training step's per token) at the probed FLOP/s of its shape, plus a fixed per-run overhead."""
    spec = config.spec()
    evaluation = evaluation_tokens(config) * exact_flops_per_token(spec) / 3.0
    return (config.budget + evaluation) / rates[(config.d_model, config.n_layer)] + RUN_OVERHEAD_S


def default_workers(device: str) -> int:
    """Worker processes when the user names none: one per core on the CPU, one per GPU on GPUs."""
    if on_gpu(device):
        import torch

        return max(1, torch.cuda.device_count())
    return max(1, os.cpu_count() or 1)


def cpu_share(workers: int) -> float:
    """The fraction of a core each of ``workers`` single-threaded workers can expect: 1 on a quiet machine,
    less when the 1-minute load average (less this process) says other work holds the cores."""
    cores = os.cpu_count() or 1
    try:
        others = max(0.0, os.getloadavg()[0] - 1.0)
    except OSError:
        others = 0.0
    return min(1.0, cores / (others + max(1, workers)))


def estimate_seconds(
    configs: list[RunConfig], rates: dict, workers: int, startup_s: float = WORKER_START_S
) -> float:
    """Wall time on ``workers`` processes: longest runs first, each on the first free worker (LPT)."""
    durations = sorted((run_seconds(c, rates) for c in configs), reverse=True)
    free = [startup_s] * max(1, workers)
    for d in durations:
        i = free.index(min(free))
        free[i] += d
    return max(free) if durations else 0.0


class Progress:
    """Progress of a sweep on stderr: a tqdm bar that moves within runs, and an ETA calibrated as runs finish.

    Work is counted in predicted seconds (`run_seconds`), not runs or FLOPs: the smallest models run at a
    fraction of the larger ones' FLOP/s, so a FLOP-weighted bar would lag and jump. Each finished run's
    measured wall time against its prediction rescales what is left (the probe runs alone on an idle core; the
    workers share the machine, with each other and with whatever else runs). Without a terminal, one line per
    finished run."""

    def __init__(
        self, estimates: dict[str, float], workers: int, startup_s: float = WORKER_START_S, stream=None
    ):
        from tqdm import tqdm

        self.estimates, self.workers = estimates, max(1, workers)
        self.startup_s = startup_s
        self.finished: dict[str, float] = {}  # run_id -> measured seconds
        self.fractions: dict[str, float] = {}
        self.last = ""
        self.start = time.perf_counter()
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = tqdm(
            total=1000,
            file=self.stream,
            disable=not self.tty,
            leave=True,
            mininterval=0.5,
            bar_format="{percentage:3.0f}%|{bar:24}| {postfix}",
        )

    def factor(self) -> float:
        """Measured / predicted wall time of the finished runs (1 before any finishes)."""
        predicted = sum(self.estimates[k] for k in self.finished)
        return sum(self.finished.values()) / predicted if predicted > 0 else 1.0

    def left_s(self) -> float:
        """Calibrated seconds left: the unfinished work shared by the workers, at least the longest run
        left."""
        remaining = [
            pred * (1.0 - self.fractions.get(k, 0.0))
            for k, pred in self.estimates.items()
            if k not in self.finished
        ]
        if not remaining:
            return 0.0
        elapsed = time.perf_counter() - self.start
        startup = max(0.0, self.startup_s - elapsed) if not self.finished else 0.0
        return startup + self.factor() * max(max(remaining), sum(remaining) / self.workers)

    def tick(self, fractions: dict[str, float]) -> None:
        """Progress within runs (fraction of steps done per run_id)."""
        self.fractions.update(fractions)
        self._draw()

    def add(self, run_id: str, seconds: float) -> None:
        """A run joined the sweep while it runs (an edge extension), predicted to take ``seconds``."""
        self.estimates[run_id] = seconds
        if self.tty:
            self._draw()

    def note(self, message: str) -> None:
        """A line of its own, above the bar on a terminal."""
        if self.tty:
            self.bar.write(message, file=self.stream)
        else:
            self.stream.write(message + "\n")
            self.stream.flush()

    def update(self, run_id: str, label: str, seconds: float | None = None) -> None:
        """A run finished (``seconds``: its measured wall time, when it has one)."""
        self.finished[run_id] = seconds if seconds and seconds > 0 else self.estimates.get(run_id, 0.0)
        self.fractions[run_id] = 1.0
        self.last = f"{run_id} {label}"
        if self.tty:
            self._draw()
        else:
            self.stream.write(self._status() + "\n")
            self.stream.flush()

    def _status(self) -> str:
        elapsed = time.perf_counter() - self.start
        return (
            f"{len(self.finished)}/{len(self.estimates)} runs  {format_clock(elapsed)} elapsed  "
            f"~{format_clock(self.left_s())} left  {self.last}"
        )

    def _draw(self) -> None:
        total = sum(self.estimates.values()) or 1.0
        done = sum(pred * self.fractions.get(k, 0.0) for k, pred in self.estimates.items())
        self.bar.n = round(1000 * min(1.0, done / total))
        self.bar.set_postfix_str(self._status(), refresh=True)

    def close(self) -> None:
        self.bar.close()


def format_clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"
