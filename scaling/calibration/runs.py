"""A user's training logs as `TrainingRun`s: the table `scaling calibrate` reads.

One row per run (or per steady stretch of one), as CSV or JSON (a list of objects, or ``{"runs": [...]}``):

* the model: ``model`` (a preset or a config.json, relative to the table's folder), ``params`` (a standard
  Llama-style shape), or ``layers``, ``d_model``, ``heads`` [``kv_heads``, ``d_ff``, ``vocab``, ``gated``];
* the cluster: ``gpus`` as the command line writes it (``512xH100``, ``64x8xA100-80GB``), or ``devices`` with
  ``accelerator`` (or ``--accelerator`` for the whole table);
* the batch: ``global_batch`` (sequences) or ``global_batch_tokens``, and ``seq_len`` (default: the model's);
* the measurement: ``step_time`` (seconds, or a duration such as ``12.3s``) or ``tokens_per_s`` (the cluster);
* optional: the layout, ``tp``, ``pp``, ``zero``, ``micro_batch``, ``recompute``, ``sp``, ``interleave``
  (the layout search picks what is missing, as the plan does); ``dtype`` (bf16); ``peak_memory`` per device
  (``71.2GiB``, or bytes).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaling import checks, inputs, units
from scaling.cluster import Cluster, parse_cluster
from scaling.errors import ScalingError, quoted
from scaling.flops_report import Dimensions, choose_model
from scaling.model import ModelSpec

LAYOUT_COLUMNS = ("tp", "pp", "zero", "micro_batch", "recompute", "sp", "interleave")
COLUMNS_HELP = (
    "columns: model (or params, or layers/d_model/heads), gpus (or devices with accelerator), global_batch "
    "(or global_batch_tokens), seq_len, step_time (or tokens_per_s); optional tp, pp, zero, micro_batch, "
    "recompute, sp, interleave, dtype, peak_memory"
)


@dataclass(frozen=True)
class TrainingRun:
    """One measured run: the model, the cluster, the batch, the measured step and what else was logged."""

    row: int  # 1-based data row of the table
    spec: ModelSpec
    cluster: Cluster
    seq_len: int
    global_batch: int  # sequences per step
    step_seconds: float
    dtype: str = "bf16"
    layout: dict[str, Any] = field(default_factory=dict)
    peak_memory_bytes: float | None = None

    @property
    def tokens_per_step(self) -> float:
        return float(self.global_batch * self.seq_len)


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a CSV or JSON table, as dicts (keys lower-case, values as given)."""
    text = inputs.read_text(path, "measurements file")
    if str(path).lower().endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        data = inputs.parse_json(text, f"measurements file {quoted(str(path))}")
        rows = data.get("runs") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ScalingError(
                f"measurements file {quoted(str(path))}: expected a list of runs (objects), or "
                "{'runs': [...]}, or a vLLM / trtllm-bench result"
            )
    else:
        lines = [line for line in io.StringIO(text, newline="") if line.strip() and not line.startswith("#")]
        try:
            rows = list(csv.DictReader(lines))
        except csv.Error as exc:
            raise ScalingError(f"cannot read measurements file {quoted(str(path))}: {exc}") from None
    if not rows:
        raise ScalingError(f"measurements file {quoted(str(path))} has no rows ({COLUMNS_HELP})")
    return [{str(k).strip().lower(): v for k, v in r.items() if k is not None} for r in rows]


def read_runs(
    path: str | Path, *, accelerator: str | None = None, accelerator_files: tuple[str, ...] = ()
) -> list[TrainingRun]:
    """The training runs of a table; a bad row is one `ScalingError` naming the row and the column."""
    folder = Path(path).parent
    runs = []
    for number, row in enumerate(read_table(path), start=1):
        try:
            runs.append(_run(number, row, folder, accelerator, accelerator_files))
        except ScalingError as exc:
            raise ScalingError(f"measurements file {quoted(str(path))} row {number}: {exc}") from None
    return runs


def _given(row: dict[str, Any], key: str) -> Any:
    value = row.get(key)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _run(
    number: int, row: dict[str, Any], folder: Path, accelerator: str | None, files: tuple[str, ...]
) -> TrainingRun:
    spec = _spec(row, folder)
    cluster = _cluster(row, accelerator, files)
    seq = _given(row, "seq_len")
    seq_len = int(checks.positive_int(seq, "seq_len")) if seq is not None else int(spec.n_ctx)
    batch = _given(row, "global_batch")
    if batch is not None:
        global_batch = checks.positive_int(batch, "global_batch")
    elif _given(row, "global_batch_tokens") is not None:
        tokens = units.parse_count(row["global_batch_tokens"], "global_batch_tokens")
        global_batch = max(1, round(tokens / seq_len))
    else:
        raise ScalingError(f"no global_batch (sequences) or global_batch_tokens ({COLUMNS_HELP})")
    step = _given(row, "step_time")
    rate = _given(row, "tokens_per_s")
    if step is not None:
        seconds = float(checks.positive(step, "step_time")) if _numeric(step) else units.parse_duration(step)
    elif rate is not None:
        seconds = global_batch * seq_len / units.parse_count(rate, "tokens_per_s")
    else:
        raise ScalingError(f"no step_time or tokens_per_s ({COLUMNS_HELP})")
    memory = _given(row, "peak_memory")
    return TrainingRun(
        row=number,
        spec=spec,
        cluster=cluster,
        seq_len=seq_len,
        global_batch=int(global_batch),
        step_seconds=float(seconds),
        dtype=str(_given(row, "dtype") or "bf16"),
        layout=_layout(row),
        peak_memory_bytes=None if memory is None else _bytes(memory),
    )


def _numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _bytes(value: Any) -> float:
    if _numeric(value):
        return float(checks.positive(value, "peak_memory"))
    return units.parse_bytes(value, "peak_memory")


def _spec(row: dict[str, Any], folder: Path) -> ModelSpec:
    model = _given(row, "model")
    if model is not None and str(model).lower().endswith(".json") and not Path(str(model)).is_absolute():
        model = str(folder / str(model))
    dims = Dimensions(
        layers=_int(row, "layers"),
        d_model=_int(row, "d_model"),
        heads=_int(row, "heads"),
        kv_heads=_int(row, "kv_heads"),
        d_ff=_int(row, "d_ff"),
        vocab=_int(row, "vocab"),
        gated=None if _given(row, "gated") is None else str(row["gated"]).lower() in ("1", "true", "yes"),
    )
    params = _given(row, "params")
    seq = _int(row, "seq_len")
    choice = choose_model(
        None if model is None else str(model),
        None if params is None else units.parse_count(params, "params"),
        dims,
        seq,
        True,
    )
    assert choice.spec is not None  # needs_shape: a bare count gets a standard shape
    return choice.spec


def _int(row: dict[str, Any], key: str) -> int | None:
    value = _given(row, key)
    return None if value is None else int(checks.positive_int(value, key))


def _cluster(row: dict[str, Any], accelerator: str | None, files: tuple[str, ...]) -> Cluster:
    gpus = _given(row, "gpus")
    if gpus is not None:
        cluster = parse_cluster(str(gpus), "gpus", files)
        if cluster.accelerator is None:
            name = _given(row, "accelerator") or accelerator
            if name is None:
                raise ScalingError(f"gpus {quoted(str(gpus))} names no accelerator: write 64xH100")
            cluster = Cluster.of(name, cluster.devices, accelerator_files=files)
        return cluster
    devices = _given(row, "devices")
    name = _given(row, "accelerator") or accelerator
    if devices is None or name is None:
        raise ScalingError(f"no gpus (e.g. 64xH100), or devices with accelerator ({COLUMNS_HELP})")
    per_node = _int(row, "devices_per_node")
    return Cluster.of(str(name), devices, devices_per_node=per_node, accelerator_files=files)


def _layout(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in LAYOUT_COLUMNS:
        value = _given(row, key)
        if value is None:
            continue
        if key == "recompute":
            out[key] = checks.choice(str(value).lower(), ("none", "selective", "full"), "recompute")
        elif key == "sp":
            out[key] = str(value).lower() in ("1", "true", "yes")
        elif key == "zero":
            out[key] = int(checks.positive_int(value, "zero", allow_zero=True))
        else:
            out[key] = int(checks.positive_int(value, key))
    return out
