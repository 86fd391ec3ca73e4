"""The serving results as `scaling.render.Table`s: what `scaling inference` prints and notebooks show."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from scaling.render import Table
from scaling.units import GB, format_duration, format_usd

# `scaling.serving.roofline.ServingEstimate`, named in words: roofline renders through this module,
# so even a type-checking import would close a cycle.
ServingEstimate = Any


def fmt_seconds(seconds: float) -> str:
    """Seconds in the unit that reads best: minutes and up, ms, or us."""
    if seconds >= 1:
        return format_duration(seconds)
    if seconds == 0:
        return "0"
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} us"


def _cost(value: float | None) -> str:
    return "n/a (no price: give one per device-hour)" if value is None else format_usd(value)


def phases_table(e: ServingEstimate) -> Table:
    """Prefill and decode time: max(compute, memory) + TP communication (and a wide replica's all-to-all) +
    the fixed per-pass overhead."""
    s = fmt_seconds
    rows = [
        (
            "prefill (TTFT)",
            s(e.prefill_s),
            s(e.prefill_compute_s),
            s(e.prefill_memory_s),
            s(e.prefill_comm_s),
            s(e.prefill_overhead_s),
        ),
        (
            "decode, per output token",
            s(e.decode_s_per_token),
            s(e.decode_compute_s),
            s(e.decode_memory_s),
            s(e.decode_comm_s),
            s(e.decode_overhead_s),
        ),
    ]
    experts = f" (EP {e.ep})" if e.ep > 1 else ""
    if e.attention_dp > 1:  # a wide replica: attention in data-parallel groups, experts over all of it
        experts = f" x DP {e.attention_dp} attention, EP {e.ep} experts,"
    layout = f"TP {e.tp}{experts} x {e.replicas} replica{'s' if e.replicas > 1 else ''}"
    title = (
        f"{e.model} on {e.devices} x {e.accelerator} ({layout}), batch {e.batch} per replica, "
        f"{e.prompt_tokens} prompt + {e.output_tokens} output tokens; weights {e.weight_dtype}, "
        f"KV {e.kv_dtype}"
    )
    comm = "TP comm" if e.all_to_all is None else "TP + all-to-all"
    return Table.of(rows, ("phase", "time", "compute", "memory", comm, "overhead"), title=title)


def summary_table(
    e: ServingEstimate, target: str | None = None, extra: Sequence[tuple[str, str]] = ()
) -> Table:
    """Which roofline binds, latency, throughput, the largest batch and the price per million tokens (after
    the target and the ``extra`` rows a search adds)."""
    if math.isinf(e.crossover_batch):
        bound = f"{e.bound}; never compute-bound at this context (the KV cache read grows with the batch)"
    else:
        bound = f"{e.bound}; compute-bound from a batch of about {e.crossover_batch:,.0f}"
    price = (
        ""
        if e.price_usd_per_hour is None
        else f" at {format_usd(e.price_usd_per_hour)}/device-h ({e.price_source})"
    )
    rows = [("cheapest meeting", target)] if target else []
    rows += list(extra)
    rows += [
        ("decode bound", bound),
        ("bytes read per step", f"{e.bytes_per_step / GB:,.3g} GB per device"),
        ("request latency", fmt_seconds(e.latency_s)),
        (
            "decode throughput",
            f"{e.tokens_per_s:,.0f} output tokens/s ({e.tokens_per_s_per_device:,.0f} per "
            f"device); {e.end_to_end_tokens_per_s:,.0f} counting the prefill",
        ),
        ("prefill throughput", f"{e.input_tokens_per_s:,.0f} prompt tokens/s"),
        ("largest batch that fits", f"{e.max_batch:,}"),
        ("per million input tokens", _cost(e.usd_per_million_input_tokens) + price),
        ("per million output tokens", _cost(e.usd_per_million_output_tokens) + price),
    ]
    return Table.of(rows, align="ll", notes=tuple(f"- {n}" for n in e.notes))
