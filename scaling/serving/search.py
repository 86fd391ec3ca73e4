"""The cheapest way to serve a model on a set of devices: precision, tensor-parallel size and batch, under a
target.

Every power-of-two tensor-parallel size that divides the devices (up to one node of 8: beyond it the
all-reduces cross the slower inter-node network; a mixture of experts, whose experts spread over the replica's
devices (EP = TP), may span nodes, so weights that overflow a node still serve), for a MoE every wide
expert-parallel replica (`scaling.serving.wide_ep`: attention TP in data-parallel groups, EP a power-of-two
multiple of a node), and every batch
from 1 to the largest that fits (powers of two and the largest itself) is evaluated with the roofline of
`scaling.serving.roofline`, vectorised over the batch. A candidate meets the target when its time per output
token is at most ``latency_s``, its time to first token (the batch's prefill) at most ``ttft_s``, and the
deployment makes at least ``min_tokens_per_s`` output tokens per second; `ServingWorkload.caution` warns when
the targets leave the other latency extreme. The cheapest is the one with the most output tokens per
device-second (the least dollars per million output tokens at any price per device-hour); ties go to the lower
latency. With ``search_precision`` the same grid is repeated for every precision the accelerator runs
(`scaling.serving.precisions.supported_precisions`: 16-bit, fp8, int8 and int4 weight-only), and the answer
says which one it chose, what the others reached, and that a precision below 16 bits needs a quality check.
`search_grid` is the grid itself (every candidate evaluated), which `scaling chart inference` draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from scaling import checks
from scaling.catalog import Accelerator, get_accelerator
from scaling.errors import ScalingError
from scaling.memory import DEVICES_PER_NODE, device_count
from scaling.model import ModelSpec, load_model
from scaling.render import Displayable, Table
from scaling.serving.efficiency import ServingAssumptions
from scaling.serving.precisions import ServingPrecision, quality_caveat, supported_precisions
from scaling.serving.roofline import (
    Deployment,
    ServingEstimate,
    estimate_from_deployment,
    fitting_batch,
    make_deployment,
    tp_sizes,
)
from scaling.serving.tables import phases_table, summary_table
from scaling.serving.wide_ep import wide_layouts


@dataclass(frozen=True)
class ServingWorkload:
    """What each request looks like and what it must get: lengths, dtypes and optional targets.

    ``latency_s`` caps the time per output token, ``ttft_s`` the time to first token (the prefill of the
    batch); ``min_tokens_per_s`` floors the deployment's output tokens per second. ``quant`` is the weights'
    storage dtype, ``kv_dtype`` the KV cache's."""

    prompt_tokens: int = 2048
    output_tokens: int = 256
    precision: str = "bf16"
    quant: str | None = None
    kv_dtype: str | None = None
    latency_s: float | None = None
    min_tokens_per_s: float | None = None
    ttft_s: float | None = None

    def __post_init__(self) -> None:
        checks.positive_int(self.prompt_tokens, "prompt length")
        checks.positive_int(self.output_tokens, "output length")
        if self.latency_s is not None:
            checks.positive(self.latency_s, "latency target")
        if self.min_tokens_per_s is not None:
            checks.positive(self.min_tokens_per_s, "tokens-per-second target")
        if self.ttft_s is not None:
            checks.positive(self.ttft_s, "time-to-first-token target")

    def deployment(
        self,
        spec: ModelSpec,
        accelerator: Accelerator,
        tp: int,
        assumptions: ServingAssumptions | None = None,
        ep: int | None = None,
    ) -> Deployment:
        """One tensor-parallel replica (``ep`` above ``tp``: a wide one) serving these requests
        (`make_deployment` with this workload's lengths and dtypes)."""
        return make_deployment(
            spec,
            accelerator,
            tp=tp,
            ep=ep,
            prompt_tokens=self.prompt_tokens,
            output_tokens=self.output_tokens,
            precision=self.precision,
            quant=self.quant,
            kv_dtype=self.kv_dtype,
            assumptions=assumptions,
        )

    @property
    def serving_precision(self) -> ServingPrecision:
        return ServingPrecision(self.precision, self.quant, self.kv_dtype)

    def with_precision(self, p: ServingPrecision) -> ServingWorkload:
        """The same requests and targets at another precision."""
        return replace(self, precision=p.precision, quant=p.quant, kv_dtype=p.kv_dtype)

    @property
    def context(self) -> int:
        return self.prompt_tokens + self.output_tokens

    @property
    def has_target(self) -> bool:
        return any(t is not None for t in (self.latency_s, self.min_tokens_per_s, self.ttft_s))

    def describe(self) -> str:
        targets = []
        if self.latency_s is not None:
            targets.append(f"at most {self.latency_s * 1e3:g} ms per output token")
        if self.ttft_s is not None:
            targets.append(f"at most {self.ttft_s * 1e3:g} ms to the first token")
        if self.min_tokens_per_s is not None:
            targets.append(f"at least {self.min_tokens_per_s:,.0f} output tokens/s")
        return " and ".join(targets) or "no target"

    def caution(self, e: ServingEstimate) -> str | None:
        """The one rule for a latency the targets leave unbounded: a time-per-token target alone cautions when
        the wait for the first token is longer than generating the rest of the answer; a first-token target
        alone when each later token takes longer than the first was allowed to."""
        if self.latency_s is not None and self.ttft_s is None:
            rest = (self.output_tokens - 1) * e.decode_s_per_token
            if e.prefill_s > rest:
                return (
                    f"--latency bounds the time per output token only: the first token takes "
                    f"{e.prefill_s:,.3g} s, longer than the other {self.output_tokens - 1} ({rest:,.3g} s), "
                    f"and a request {e.latency_s:,.3g} s; add --ttft to bound it"
                )
        if self.ttft_s is not None and self.latency_s is None and e.decode_s_per_token > self.ttft_s:
            return (
                f"--ttft bounds the first token only: each later token takes "
                f"{e.decode_s_per_token * 1e3:,.3g} ms, longer than the first was allowed; "
                "add --latency to bound it"
            )
        return None


@dataclass(frozen=True)
class PrecisionChoice:
    """Which precision a search chose, why, and what every precision it considered reached."""

    chosen: str
    reason: str
    caveat: str | None
    considered: tuple[tuple[str, float | None], ...]  # (label, best output tokens/s per device; None: missed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "reason": self.reason,
            "quality_caveat": self.caveat,
            "considered": [{"precision": k, "tokens_per_s_per_device": v} for k, v in self.considered],
        }


@dataclass(frozen=True)
class ServingSearch(Displayable):
    """The cheapest layout meeting the target, and the cheapest candidates that met it (cheapest first).

    ``to_dict()`` is the best estimate's dict (the same keys as `ServingEstimate`) plus ``candidates``,
    ``evaluated``, ``target`` and, when precision was searched, ``precision_choice`` (``chosen``, ``reason``,
    ``quality_caveat``, ``considered``)."""

    best: ServingEstimate
    candidates: tuple[ServingEstimate, ...]
    evaluated: int
    target: str
    precision_choice: PrecisionChoice | None = None

    def display_tables(self) -> list[Table]:
        """The best layout's tables, with the target it meets (and the precision it chose)."""
        c = self.precision_choice
        extra = [] if c is None else [("precision", f"{c.chosen}: {c.reason}")]
        if c is not None and c.caveat:
            extra.append(("quality", c.caveat))
        return [phases_table(self.best), summary_table(self.best, self.target, extra)]

    def to_dict(self) -> dict[str, Any]:
        out = {
            **self.best.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "evaluated": self.evaluated,
            "target": self.target,
        }
        if self.precision_choice is not None:
            out["precision_choice"] = self.precision_choice.to_dict()
        return out


@dataclass(frozen=True)
class GridPart:
    """One precision and tensor-parallel size of the search grid: its batches and what each reaches."""

    precision: ServingPrecision
    dep: Deployment
    fits: int  # the largest batch the replica holds
    batch: np.ndarray
    decode_s_per_token: np.ndarray
    prefill_s: np.ndarray
    tokens_per_s_per_device: np.ndarray
    meets: np.ndarray  # the workload's targets


def batch_candidates(largest: int) -> np.ndarray:
    """1, 2, 4, ... up to ``largest``, and ``largest`` itself."""
    if largest < 1:
        return np.zeros(0, dtype=int)
    powers = [1 << i for i in range(int(math.log2(largest)) + 1)]
    return np.array(sorted(set(powers + [largest])), dtype=int)


def _part(
    p: ServingPrecision, dep: Deployment, batches: np.ndarray, fits: int, devices: int, w: ServingWorkload
) -> GridPart:
    """One deployment's grid part: each batch's latencies, throughput and whether it meets the targets."""
    tpot = np.asarray(dep.decode_seconds(batches)["total"], dtype=float)
    ttft = np.asarray(dep.prefill_seconds(batches)["total"], dtype=float)
    replicas = devices // dep.devices_per_replica
    ok = np.ones(batches.shape, dtype=bool)
    if w.latency_s is not None:
        ok &= tpot <= w.latency_s
    if w.ttft_s is not None:
        ok &= ttft <= w.ttft_s
    if w.min_tokens_per_s is not None:
        ok &= replicas * batches / tpot >= w.min_tokens_per_s
    return GridPart(p, dep, fits, batches, tpot, ttft, batches / tpot / dep.devices_per_replica, ok)


def search_grid(
    model: ModelSpec | str,
    accelerator: str | Accelerator,
    *,
    devices: int = 1,
    workload: ServingWorkload | None = None,
    tp: int | None = None,
    assumptions: ServingAssumptions | None = None,
    search_precision: bool = False,
    batches=batch_candidates,
    ep: int | None = None,
) -> list[GridPart]:
    """Every candidate the search evaluates: per precision (the workload's, or with ``search_precision``
    every one the accelerator runs) and layout (`layouts`), the batches from ``batches(largest)`` (default:
    powers of two and the largest that fits)."""
    spec, acc, w = load_model(model), get_accelerator(accelerator), workload or ServingWorkload()
    devices = device_count(devices)
    precisions = supported_precisions(acc) if search_precision else (w.serving_precision,)
    parts = []
    for p in precisions:
        wp = w.with_precision(p)
        for size, wide in layouts(spec, devices, tp, ep):
            dep = wp.deployment(spec, acc, size, assumptions, wide)
            fits = fitting_batch(dep)
            grid = batches(fits)
            if len(grid):
                parts.append(_part(p, dep, grid, fits, devices, wp))
    return parts


def layouts(
    spec: ModelSpec, devices: int, tp: int | None = None, ep: int | None = None
) -> list[tuple[int, int | None]]:
    """(TP, EP) of every replica the search considers (EP None: EP = TP, `expert_parallel`): the power-of-two
    TPs that pass the layout rules (up to a node for a dense model, the devices for a MoE), and for a MoE the
    wide replicas (`scaling.serving.wide_ep.wide_layouts`: EP a power-of-two multiple of a node, attention TP
    below it). ``tp`` alone fixes TP (EP = TP); ``ep`` fixes EP; both fix the replica."""
    if tp is not None:
        tp = checks.positive_int(tp, "tensor parallel size")
        if devices % tp:
            raise ScalingError(f"tensor parallel size {tp} does not divide the {devices} devices")
    if ep is not None and devices % checks.positive_int(ep, "expert parallel size"):
        raise ScalingError(f"expert parallel size {ep} does not divide the {devices} devices")
    if tp is not None:
        return [(tp, None if ep in (None, tp) else ep)]
    sizes = tp_sizes(spec, devices, None if spec.is_moe else DEVICES_PER_NODE)
    return [(s, None) for s in sizes if ep in (None, s)] + list(wide_layouts(spec, devices, ep=ep))


def _precision_choice(parts: list[GridPart], chosen: ServingPrecision) -> PrecisionChoice:
    """Why ``chosen``: the most output tokens per device-second among the precisions meeting the target."""
    best: dict[str, float | None] = {}
    for part in parts:
        label = part.precision.label
        met = part.tokens_per_s_per_device[part.meets]
        reached = float(np.max(met)) if len(met) else None
        known = best.get(label)
        best[label] = reached if known is None else max(known, reached or known)
    others = [
        f"{label}: {rate:,.0f}" if rate is not None else f"{label}: misses it"
        for label, rate in best.items()
        if label != chosen.label
    ]
    reason = f"the most output tokens/s per device meeting the target, {best[chosen.label]:,.0f}" + (
        f" ({'; '.join(others)})" if others else ""
    )
    return PrecisionChoice(chosen.label, reason, quality_caveat(chosen), tuple(best.items()))


def cheapest_serving(
    model: ModelSpec | str,
    accelerator: str | Accelerator,
    *,
    devices: int = 1,
    workload: ServingWorkload | None = None,
    tp: int | None = None,
    price_usd_per_hour: float | None = None,
    assumptions: ServingAssumptions | None = None,
    keep: int = 10,
    search_precision: bool = False,
    ep: int | None = None,
) -> ServingSearch:
    """The batch and layout (`layouts`: tensor-parallel size, and for a MoE a wide expert-parallel replica;
    ``tp`` and ``ep`` fix them), and with ``search_precision`` the precision, that serve ``model`` cheapest on
    ``devices`` accelerators while meeting the workload's targets; the error says what the best layout
    reaches."""
    spec, acc, w = load_model(model), get_accelerator(accelerator), workload or ServingWorkload()
    devices = device_count(devices)
    parts = search_grid(
        spec,
        acc,
        devices=devices,
        workload=w,
        tp=tp,
        assumptions=assumptions,
        search_precision=search_precision,
        ep=ep,
    )
    found: list[tuple[float, float, GridPart, int]] = []
    evaluated = sum(len(part.batch) for part in parts)
    fastest = min((float(np.min(part.decode_s_per_token)) for part in parts), default=math.inf)
    for part in parts:
        rate, tpot = part.tokens_per_s_per_device, part.decode_s_per_token
        found += [(-rate[i], tpot[i], part, int(part.batch[i])) for i in np.flatnonzero(part.meets)]
    if not found:
        if not evaluated:
            raise ScalingError(
                f"{spec.name} does not fit on {devices} {acc.name} at {w.context} tokens of context"
            )
        what = "precision, batch" if search_precision else "batch"
        raise ScalingError(
            f"no {what} and tensor-parallel size of {devices} {acc.name} serves {spec.name} "
            f"with {w.describe()} (the fastest reaches {fastest * 1e3:.3g} ms per output token at batch 1); "
            "use faster or more devices"
        )
    found.sort(key=lambda c: (c[0], c[1]))
    kept = [
        estimate_from_deployment(part.dep, devices, batch, price_usd_per_hour, part.fits)
        for _, _, part, batch in found[: max(1, keep)]
    ]
    caution = w.caution(kept[0])
    if caution:
        kept[0] = replace(kept[0], warnings=(*kept[0].warnings, caution))
    choice = _precision_choice(parts, found[0][2].precision) if search_precision else None
    return ServingSearch(
        best=kept[0],
        candidates=tuple(kept),
        evaluated=evaluated,
        target=w.describe(),
        precision_choice=choice,
    )
