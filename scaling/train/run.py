"""One training run: ``train_run(config) -> RunRecord``, a pure function of a JSON-serialisable config.

The recipe is the one measured for byte-level GPTs of this size on 2 CPU cores:

* length from the FLOP budget: D = budget / (exact training FLOPs per token from `scaling.flops`), rounded to
  whole optimizer steps, so every cell of an IsoFLOP grid spends its budget under one FLOP convention;
* AdamW, betas (0.9, 0.95), weight decay 0.1 on matrices, gradient clipping at 1.0, peak LR 1e-2 (right for
  d_model <= 128 with 1024-token batches; 2e-2 diverges);
* linear warmup for min(100, steps/10) steps (Porian et al. 2024: long fixed warmups hurt small models), then
  a cosine to 10% of peak that ends exactly at the run's last step (Chinchilla: a cycle longer than the run
  biases the IsoFLOP fit);
* a fixed validation set (the same windows for every run on a corpus), evaluated periodically and at the end;
* deterministic for a given (config, corpus, torch version, thread count): model init and data order are
  seeded;
* fp32 by default; ``precision="bf16"`` runs the forward pass under bf16 autocast (matmuls in bfloat16; the
  weights, gradients, optimizer state and loss stay fp32), the usual mixed precision on GPUs
  (`resolve_precision`: "auto" picks it on a GPU that supports bf16).

A run whose loss turns NaN/inf stops and is recorded with ``status="diverged"``; the fitter skips it.

The same function runs under ``torchrun`` (see ddp.py): with a process group initialised it wraps the model in
DistributedDataParallel and each rank takes its slice of the same global batch, so the run (and its D, FLOPs
and schedule) is the one a single process would do.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError
from scaling.model import ModelSpec

# the columns of a row; their meaning is documented there
from scaling.runs_table import RUN_COLUMNS  # noqa: F401

CURVE_COLUMNS = ["step", "tokens", "flops", "train_loss", "val_loss"]
# A run's arithmetic; "auto" is resolved before a run exists (resolve_precision).
PRECISIONS = ("fp32", "bf16")
# Steps between reads of the training loss, by device: a read is a host sync, free on the CPU, while on a GPU
# a sync per step of a tiny model idles the device (a NaN is then caught up to 31 steps late, and still
# recorded).
READ_LOSS_EVERY = {"cpu": 1, "cuda": 32}


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run. JSON-serialisable; `run_id` is derived from all of it."""

    d_model: int
    n_layer: int
    n_head: int | None = None  # None: heads of 32 dims, at least 2 (scaling.train.model.gpt_spec)
    budget: float | None = None  # training FLOPs, exact convention; sets D
    tokens: float | None = None  # or D directly (then budget is recorded as the run's exact FLOPs)
    seq_len: int = 128
    batch: int = 8  # sequences per optimizer step: 8 x 128 = 1024 tokens beat larger batches here
    lr: float = 1e-2
    warmup: int | None = None  # None: min(100, steps // 10)
    min_lr_frac: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    evals: int = 10  # periodic validations (plus the final one)
    eval_windows: int = 320  # validation sequences per evaluation (40 batches of 8)
    data: str = "stdlib"
    device: str = "cpu"  # cpu | cuda | auto
    precision: str = "fp32"  # fp32 | bf16 (autocast)

    def __post_init__(self) -> None:
        if (self.budget is None) == (self.tokens is None):
            raise ScalingError("a run needs exactly one of budget (FLOPs) or tokens")
        for key in ("d_model", "n_layer", "seq_len", "batch", "evals", "eval_windows"):
            value = getattr(self, key)
            if not isinstance(value, int) or value <= 0:
                raise ScalingError(f"run config {key} must be a positive whole number, got {value!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ScalingError(f"run config lr must be a positive number, got {self.lr!r}")
        if self.precision not in PRECISIONS:
            raise ScalingError(
                f"run config precision {self.precision!r} is not one of {', '.join(PRECISIONS)}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ScalingError(f"unknown run config keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["precision"] == "fp32":  # the default is left out, so fp32 runs keep the ids they always had
            del data["precision"]
        return data

    def spec(self, vocab_size: int = 256) -> ModelSpec:
        from scaling.train.model import gpt_spec

        return gpt_spec(self.d_model, self.n_layer, self.n_head, vocab_size=vocab_size, seq_len=self.seq_len)

    @property
    def run_id(self) -> str:
        """Readable and unique: budget, shape, seed, and a hash of the whole config."""
        digest = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
        size = f"c{self.budget:.3g}" if self.budget is not None else f"t{self.tokens:.3g}"
        return f"{size.replace('+', '')}-d{self.d_model}l{self.n_layer}-s{self.seed}-{digest}"


@dataclass
class RunRecord:
    """A finished (or diverged) run: the runs.csv row plus its loss curve."""

    row: dict[str, Any]
    curve: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.row["run_id"]

    @property
    def status(self) -> str:
        return self.row["status"]

    @property
    def loss(self) -> float:
        return self.row["loss"]

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "curve": self.curve, "config": self.config}


# ------------------------------------------------------------------------------------------ accounting
def flop_accounting(spec: ModelSpec, tokens: float) -> dict[str, float]:
    """C under each convention for ``tokens`` training tokens, all from `scaling.flops` (one FLOP formula)."""
    from scaling.flops import training_flops

    def count(convention: str) -> float:
        return float(training_flops(spec, tokens, convention=convention, **exact_options(spec)).flops)

    # C is 6ND with N the total parameter count (the runs table's convention, `scaling.runs_table`); the
    # budget a run was sized by is the exact count, kept as C_exact (and as the `budget` column that groups an
    # IsoFLOP set).
    return {"C": count("6nd"), "C_exact": count("exact"), "C_6N_nonemb": count("6nd-nonembedding")}


def exact_options(spec: ModelSpec) -> dict[str, Any]:
    """How C is counted: forward + backward (3 x forward) of every matmul the GPT does, attention over the
    causal mask counted in full (what SDPA's FLOP counter reports), the LM head included (Porian et al. 2024),
    the embedding lookup excluded (it is a gather, not a matmul). tests/test_train.py checks this against
    `torch.utils.flop_counter.FlopCounterMode`."""
    return {"seq_len": spec.n_ctx, "causal": "full", "include_embeddings": False, "include_logits": True}


def exact_flops_per_token(spec: ModelSpec) -> float:
    """Training FLOPs per token under `exact_options`: the C axis and what sizes D from a budget."""
    from scaling.flops import training_flops

    return float(training_flops(spec, 1.0, convention="exact", **exact_options(spec)).flops_per_token)


def plan_steps(config: RunConfig, spec: ModelSpec) -> int:
    """Optimizer steps: the budget's tokens rounded to whole batches (at least 1)."""
    tokens_per_step = config.batch * config.seq_len
    tokens = config.tokens if config.tokens is not None else config.budget / exact_flops_per_token(spec)
    return max(1, round(tokens / tokens_per_step))


def default_warmup(steps: int) -> int:
    """Warmup steps of a run whose config names none: min(100, steps/10)."""
    return min(100, steps // 10)


def lr_at(step: int, steps: int, config: RunConfig) -> float:
    """Linear warmup, then cosine from the peak to min_lr_frac * peak, reached exactly at the last step."""
    warmup = config.warmup if config.warmup is not None else default_warmup(steps)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    span = max(1, steps - 1 - warmup)
    progress = min(1.0, (step - warmup) / span)
    floor = config.min_lr_frac * config.lr
    return floor + 0.5 * (config.lr - floor) * (1.0 + math.cos(math.pi * progress))


# ----------------------------------------------------------------------------------------------- run
def train_run(
    config: RunConfig | dict,
    out_dir: str | Path | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> RunRecord:
    """Train one model and return its record. With ``out_dir``, the final weights go to
    ``out_dir/checkpoints/<run_id>.pt`` (for `scaling sample`); nothing else is written.
    ``on_step(done, steps)`` is told the progress after every step (the sweep's progress bar within a run)."""
    from scaling.train.data import load_corpus

    if isinstance(config, dict):
        config = RunConfig.from_dict(config)
    started = time.perf_counter()
    corpus = load_corpus(config.data)
    spec = config.spec(corpus.vocab_size)
    steps = plan_steps(config, spec)
    D = steps * config.batch * config.seq_len
    flops = flop_accounting(spec, D)
    distributed, rank, world = _process_group(config.batch)
    device = torch_device(config.device, rank)
    model, trained = _build_model(spec, config.seed, device, distributed)
    curve, losses, status, train_seconds = _train_steps(
        model,
        trained,
        corpus,
        config,
        steps=steps,
        device=device,
        rank=rank,
        world=world,
        flops_per_token=flops["C_exact"] / D,
        on_step=on_step,
    )
    row = _run_row(
        config,
        spec,
        corpus,
        flops,
        status=status,
        curve=curve,
        losses=losses,
        steps=steps,
        train_seconds=train_seconds,
        started=started,
    )
    record = RunRecord(row=row, curve=curve, config=config.to_dict())
    if out_dir is not None and rank == 0:
        save_checkpoint(model, spec, record, Path(out_dir))
    return record


def _process_group(batch: int) -> tuple[bool, int, int]:
    """Whether a process group runs this (``torchrun``), this process's rank and the world size."""
    import torch

    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank = torch.distributed.get_rank() if distributed else 0
    world = torch.distributed.get_world_size() if distributed else 1
    if batch % world:
        raise ScalingError(f"batch {batch} must be divisible by the {world} processes")
    return distributed, rank, world


def _build_model(spec: ModelSpec, seed: int, device, distributed: bool):
    """The seeded GPT of ``spec`` on ``device``, and the module that trains it (DDP-wrapped in a process
    group)."""
    import torch

    from scaling.train.model import GPT

    torch.manual_seed(seed)
    model = GPT(spec).to(device)
    if sum(p.numel() for p in model.parameters()) != spec.params:  # the estimator and the model must agree
        raise AssertionError(
            f"GPT has {sum(p.numel() for p in model.parameters())} parameters, spec {spec.params}"
        )
    if not distributed:
        return model, model
    from torch.nn.parallel import DistributedDataParallel

    return model, DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def _train_steps(
    model,
    trained,
    corpus,
    config: RunConfig,
    *,
    steps: int,
    device,
    rank: int,
    world: int,
    flops_per_token: float,
    on_step: Callable[[int, int], None] | None,
) -> tuple[list[dict[str, Any]], list[float], str, float]:
    """The optimizer loop: the loss curve, every step's training loss, the status (``ok`` or ``diverged``)
    and the seconds spent in training steps."""
    import torch

    from scaling.train.data import Batches

    optimizer = torch.optim.AdamW(
        model.param_groups(config.weight_decay),
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        fused=device.type in ("cpu", "cuda"),
    )
    # Every rank draws the same global batch from the same seed and keeps its own slice, so a DDP run sees
    # exactly the data a single process would.
    batches = Batches(corpus, config.seq_len, seed=config.seed)
    local = slice(rank * config.batch // world, (rank + 1) * config.batch // world)
    val_starts = batches.val_starts(config.eval_windows)
    eval_at = {round(steps * k / config.evals) - 1 for k in range(1, config.evals + 1)} | {steps - 1}
    tokens_per_step = config.batch * config.seq_len
    curve: list[dict[str, Any]] = []
    status, train_seconds, losses = "ok", 0.0, []
    read_every = READ_LOSS_EVERY.get(device.type, READ_LOSS_EVERY["cuda"])
    unread: list[Any] = []
    for step in range(steps):
        tick = time.perf_counter()
        x, y = batches.gather(batches.train_starts(config.batch)[local])
        x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, config)
        with autocast(device, config.precision):
            _, loss = trained(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        unread.append(loss.detach())  # the local slice's loss; equal to the global loss when world == 1
        due = len(unread) >= read_every or step in eval_at or step == steps - 1
        values: list[float] = []
        if due:
            first = step + 1 - len(unread)
            values = [float(v) for v in torch.stack(unread).tolist()]
            unread = []
        train_seconds += time.perf_counter() - tick
        for offset, value in enumerate(values):
            done = first + offset + 1
            losses.append(value)
            curve.append(
                {
                    "step": done,
                    "tokens": done * tokens_per_step,
                    "flops": done * tokens_per_step * flops_per_token,
                    "train_loss": value,
                    "val_loss": None,
                }
            )
            if not math.isfinite(value):
                status = "diverged"
                break
        if status == "diverged":
            break
        if due and step in eval_at:
            # The final loss uses every validation window; the curve's periodic points a fixed quarter of them
            # (the same windows at every point and in every run), a quarter of the cost: 10 full evaluations
            # cost as much as ~150 training steps, a third of a short run.
            windows = val_starts if step == steps - 1 else val_starts[: periodic_windows(len(val_starts))]
            curve[-1]["val_loss"] = evaluate(
                model, batches, windows, config.batch * 8, device, config.precision
            )
        if on_step is not None:
            on_step(step + 1, steps)
    return curve, losses, status, train_seconds


def _run_row(
    config: RunConfig,
    spec: ModelSpec,
    corpus,
    flops: dict[str, float],
    *,
    status: str,
    curve: list[dict[str, Any]],
    losses: list[float],
    steps: int,
    train_seconds: float,
    started: float,
) -> dict[str, Any]:
    """The runs.csv row of a finished run (`scaling.runs_table.RUN_COLUMNS`): a run whose final validation
    loss is missing or not finite is recorded as diverged."""
    import numpy as np
    import torch

    tokens_per_step = config.batch * config.seq_len
    fpt = flops["C_exact"] / (steps * tokens_per_step)
    val = curve[-1]["val_loss"] if status == "ok" else None
    if status == "ok" and (val is None or not math.isfinite(val)):
        status = "diverged"
    tail = [v for v in losses[-max(1, min(50, len(losses) // 10)) :] if math.isfinite(v)]
    wall = time.perf_counter() - started
    return {
        "run_id": config.run_id,
        "status": status,
        "budget": config.budget if config.budget is not None else flops["C_exact"],
        "N": spec.params,
        "N_nonemb": spec.params_non_embedding,
        "D": steps * tokens_per_step,
        **flops,
        "loss": val if status == "ok" else float("nan"),
        "train_loss": float(np.mean(tail)) if tail else float("nan"),
        "d_model": spec.d_model,
        "n_layer": spec.n_layer,
        "n_head": spec.n_head,
        "seq_len": config.seq_len,
        "batch": config.batch,
        "lr": config.lr,
        "steps": steps,
        "seed": config.seed,
        "precision": config.precision,
        "wall_s": wall,
        "tokens_per_s": len(losses) * tokens_per_step / max(train_seconds, 1e-9),
        "flops_per_s": len(losses) * tokens_per_step * fpt / max(train_seconds, 1e-9),
        "corpus": corpus.name,
        "corpus_sha256": corpus.sha256,
        "tokenizer": corpus.tokenizer,
        "loss_unit": "nats/byte" if corpus.tokenizer == "bytes" else "nats/token",
        "vocab_size": corpus.vocab_size,
        "torch_version": str(torch.__version__),
        "python_version": platform.python_version(),
    }


def periodic_windows(windows: int) -> int:
    """Validation windows of a periodic (not the final) evaluation: a quarter, at least 8."""
    return min(windows, max(8, windows // 4))


def evaluation_tokens(config: RunConfig) -> int:
    """Tokens run forward by a run's evaluations (periodic ones on `periodic_windows`, the final on all)."""
    periodic = config.evals - 1 if config.evals >= 1 else 0
    return (periodic * periodic_windows(config.eval_windows) + config.eval_windows) * config.seq_len


def evaluate(model, batches, starts, chunk: int, device, precision: str = "fp32") -> float:
    """Mean next-token loss (nats/token) over the fixed validation windows, in the run's precision."""
    import torch

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), autocast(device, precision):
        for i in range(0, len(starts), chunk):
            x, y = batches.gather(starts[i : i + chunk])
            _, loss = model(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device))
            total += float(loss) * len(x)
            count += len(x)
    model.train(was_training)
    return total / count


def autocast(device, precision: str):
    """The forward pass's autocast context: bf16 for ``precision="bf16"``, a no-op for fp32."""
    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def resolve_precision(precision: str, device: str) -> str:
    """A run's precision from a user's choice: "auto" is bf16 on a GPU that supports it, else fp32."""
    if precision != "auto":
        if precision not in PRECISIONS:
            raise ScalingError(f"precision {precision!r}: expected auto, {', '.join(PRECISIONS)}")
        return precision
    if not on_gpu(device):
        return "fp32"
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp32"


def on_gpu(device: str) -> bool:
    """Whether runs on ``device`` (cpu, cuda or auto) train on a GPU: one that torch sees."""
    if device == "cpu":
        return False
    import torch

    return torch.cuda.is_available()


def torch_device(name: str, rank: int = 0):
    """The torch device for a run's ``device`` (cpu, cuda, or auto: a GPU when torch sees one) on process
    ``rank``."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ScalingError("device cuda requested but torch sees no GPU; use --device cpu")
        return torch.device("cuda", rank % torch.cuda.device_count())
    if name != "cpu":
        raise ScalingError(f"unknown device {name!r}: expected cpu, cuda or auto")
    return torch.device("cpu")


# ------------------------------------------------------------------------------------------ outputs
def save_checkpoint(model, spec: ModelSpec, record: RunRecord, out_dir: Path) -> Path:
    """Final weights plus what `sample` needs to rebuild the model, written atomically."""
    import torch

    path = out_dir / "checkpoints" / f"{record.run_id}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    payload = {
        "spec": {k: v for k, v in asdict(spec).items() if k != "aliases"},
        "config": record.config,
        "row": record.row,
        "model": model.state_dict(),
    }
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def write_curve(record: RunRecord, out_dir: str | Path) -> Path:
    """``out_dir/curves/<run_id>.csv`` (step, tokens, flops, train_loss, val_loss), written atomically."""
    import csv

    path = Path(out_dir) / "curves" / f"{record.run_id}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CURVE_COLUMNS)
        writer.writeheader()
        for point in record.curve:
            writer.writerow({k: ("" if point[k] is None else point[k]) for k in CURVE_COLUMNS})
    os.replace(tmp, path)
    return path
