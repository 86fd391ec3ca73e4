"""Pipeline stages one at a time: which layers each holds, the parameters one rank of it keeps, and which
stages can be the heaviest.

Megatron-LM's per-rank count (``theoretical_memory_usage.py`` after the fix of PR #4687, 2026, "take into
account expert parallelism correctly"): a rank of stage ``i`` holds

    (attention + dense FFN + shared experts of its layers [+ embedding on the first stage]
     [+ LM head on the last]) / TP
    + norms, routers and shared-expert gates of its layers [+ final norm on the last]   (replicated)
    + routed experts of its MoE layers / (ETP x EP)

and ZeRO shards the first two over DP = devices / (TP x PP), the experts over the expert data-parallel size
EDP = devices / (ETP x EP x PP). Before that fix Megatron divided the experts by TP and sharded their
optimizer over DP, which is wrong whenever ETP x EP != TP.

Stages are evaluated separately because they differ (Megatron-Bridge found a 31.8% underestimate from
averaging them): the first holds the embedding and, under 1F1B, the most micro-batches in flight (PP - i on
stage i); the last holds the LM head (a copy of a tied embedding when PP > 1), the final norm and the fp32
logits. Without a given split (``pp_layers``, Megatron's ``--decoder-first-pipeline-num-layers`` /
``--pipeline-model-parallel-layout``) the layers are split to minimise the heaviest stage's memory
(`balanced_split`); ``"even"`` asks for an even split, the layers left over on the first stages.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from scaling import checks
from scaling.errors import ScalingError

EVEN = "even"  # ``pp_layers`` asking for an even split (the default is `balanced_split`)
SPLIT_RULES = ("balanced", "memory")  # `balanced_split`'s rules, by name in ``pp_layers``


class LayerSpan(NamedTuple):
    """Explicit layers of the stages evaluated: ``count`` layers from index ``start`` (arrays broadcast);
    how `balanced_split`'s costs are probed."""

    count: Any
    start: Any


def parse_pp_layers(
    value: Any, layers: int | None = None, pp: int | None = None
) -> tuple[int, ...] | str | None:
    """Layers per pipeline stage from ``"15,16,16,14"`` (or a sequence); None (also ``"balanced"``) for
    `balanced_split`'s default rule, ``"memory"`` for its least-memory rule, ``"even"`` for an even split.
    With the model's ``layers`` and the ``pp`` size, the counts must be as many as the stages and sum to the
    layers."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "balanced")):
        return None
    if isinstance(value, str) and value.strip().lower() in (EVEN, "memory"):
        return value.strip().lower()
    parts = value.split(",") if isinstance(value, str) else list(value)
    counts = tuple(
        checks.positive_int(p.strip() if isinstance(p, str) else p, "layers per stage") for p in parts
    )
    if pp is not None and len(counts) != pp:
        raise ScalingError(
            f"--pp-layers {','.join(map(str, counts))} gives {len(counts)} stages; expected one count per "
            f"pipeline stage (PP {pp})"
        )
    if layers is not None and sum(counts) != layers:
        raise ScalingError(
            f"--pp-layers {','.join(map(str, counts))} holds {sum(counts)} layers; expected the model's "
            f"{layers}"
        )
    return counts


def stage_layers(layers: int, pp: Any, stage: Any, pp_layers: Any = None) -> tuple[Any, Any]:
    """(layers held, index of its first layer) of pipeline ``stage`` (arrays broadcast): ``pp_layers`` when
    given (counts per stage, or one row of counts per layout: shape (..., stages); a `LayerSpan`), else an
    even split with the layers left over on the first stages."""
    stage = np.asarray(stage)
    if isinstance(pp_layers, LayerSpan):
        return pp_layers.count, pp_layers.start
    if pp_layers is not None and not isinstance(pp_layers, str):
        counts = np.asarray(pp_layers)
        starts = np.cumsum(counts, axis=-1) - counts
        if counts.ndim == 1:
            return counts[stage], starts[stage]
        pick = np.broadcast_to(np.minimum(stage, counts.shape[-1] - 1), counts.shape[:-1])[..., None].astype(
            int
        )
        return np.take_along_axis(counts, pick, -1)[..., 0], np.take_along_axis(starts, pick, -1)[..., 0]
    pp = np.asarray(pp)
    base, extra = layers // pp, layers % pp
    return base + (stage < extra), stage * base + np.minimum(stage, extra)


def stage_kinds(shape: Any, pp: Any, stage: Any, pp_layers: tuple[int, ...] | None = None) -> tuple[Any, Any]:
    """(dense layers, MoE layers) held by ``stage``: the model's first ``leading_dense`` layers are dense."""
    count, start = stage_layers(shape.layers, pp, stage, pp_layers)
    dense = np.clip(shape.leading_dense - start, 0, count)
    return dense, count - dense


def stage_params(
    shape: Any,
    stage: Any = 0,
    *,
    tp: Any = 1,
    pp: Any = 1,
    ep: Any = 1,
    etp: Any = None,
    pp_layers: tuple[int, ...] | None = None,
) -> tuple[Any, Any]:
    """(non-expert, routed-expert) parameters on one rank of ``stage`` (Megatron's buckets, module doc);
    ``etp`` None is TP (Megatron's default expert tensor parallel size)."""
    tp, pp, ep = (np.asarray(x, dtype=float) for x in (tp, pp, ep))
    etp = tp if etp is None else np.asarray(etp, dtype=float)
    stage = np.asarray(stage)
    dense, moe = stage_kinds(shape, pp.astype(int), stage, pp_layers)
    sharded = dense * shape.dense_layer_sharded + moe * shape.moe_layer_sharded
    replicated = dense * shape.dense_layer_replicated + moe * shape.moe_layer_replicated
    experts = moe * shape.moe_layer_experts / (etp * ep)
    return sharded / tp + replicated + stage_extras(shape, stage, tp=tp, pp=pp), experts


def stage_extras(shape: Any, stage: Any = 0, *, tp: Any = 1, pp: Any = 1) -> Any:
    """Parameters on one rank of ``stage`` outside its layers: the embedding (first stage, vocab-parallel over
    TP), the LM head (last stage; a tied head's copy of the embedding when PP > 1) and the final norm."""
    tp, pp, stage = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float), np.asarray(stage)
    head = shape.last_stage_sharded + np.where(pp > 1, shape.tied_head, 0.0)
    first, last = stage == 0, stage == pp - 1
    return (np.where(first, shape.first_stage_sharded, 0.0) + np.where(last, head, 0.0)) / tp + np.where(
        last, shape.last_stage_replicated, 0.0
    )


def expert_data_parallel(devices: Any, tp: Any, pp: Any, ep: Any, etp: Any = None) -> Any:
    """Megatron's expert data-parallel size: devices / (ETP x EP x PP) (ETP None: TP)."""
    etp = tp if etp is None else etp
    return np.asarray(devices, dtype=float) / (np.asarray(etp) * np.asarray(ep) * np.asarray(pp))


def micro_batches_in_flight(pp: Any, stage: Any, micro_batches: Any, schedule: str = "1f1b") -> Any:
    """Micro-batches whose activations stage ``stage`` holds at its peak: PP - stage under 1F1B (at most the
    micro-batches of a step; Narayanan et al. 2021 §2.2), all of them under GPipe."""
    m = np.asarray(micro_batches, dtype=float)
    return np.minimum(np.asarray(pp, dtype=float) - np.asarray(stage), m) if schedule == "1f1b" else m


def candidate_stages(shape: Any, pp: Any, pp_layers: Any = None) -> list[Any]:
    """The stages that can be the heaviest, as index arrays (broadcast with ``pp``).

    With an even split the counts fall and the micro-batches in flight fall from stage to stage, so among
    stages holding one kind of layer the earliest is heaviest: the first, the second, the stage where the
    dense layers end and the one after it, and the last (head and logits). A given split: every stage.
    """
    pp = np.asarray(pp)
    if pp_layers is not None and not isinstance(pp_layers, str):
        return [np.minimum(np.full_like(pp, i), pp - 1) for i in range(np.shape(pp_layers)[-1])]
    last_dense = np.maximum(shape.leading_dense - 1, 0)
    base, extra = shape.layers // pp, shape.layers % pp
    # the stage holding layer index ``last_dense``
    big = extra * (base + 1)
    transition = np.where(
        last_dense < big, last_dense // (base + 1), extra + (last_dense - big) // np.maximum(base, 1)
    )
    picks = [np.zeros_like(pp), np.ones_like(pp), transition, transition + 1, pp - 1]
    return [np.clip(s, 0, pp - 1) for s in picks]


def balanced_split(
    fixed: Any,
    per_dense: Any,
    per_moe: Any,
    layers: int,
    leading_dense: int,
    pp: int,
    rule: str = "balanced",
) -> Any:
    """Layers per stage (shape (..., pp), one row per layout), each stage one layer or more.

    ``rule`` ``"balanced"``: no stage holds more than ceil(layers / PP) layers (the pipeline's pace is that of
    its fullest stage, so an even pace costs no time), and among those splits the one whose heaviest stage
    needs the least memory. ``"memory"``: the least heaviest-stage memory whatever the pace, then the fewest
    layers on the fullest stage.

    A stage's memory is affine in the layers it holds: ``fixed[..., i]`` (embedding, head, logits, buffers)
    plus ``per_dense[..., i]`` per dense and ``per_moe[..., i]`` per MoE layer (its micro-batches in flight
    priced in); the first ``leading_dense`` layers are dense. Under a bound on every stage's memory, the
    boundaries the first i stages can end at form an interval (a stage that fits still fits with fewer layers,
    and the dense layers come first), computed stage by stage; the least bound is found by bisection and the
    split read back from the last stage, each stage starting as late as its interval allows.
    """
    fixed, per_dense, per_moe = (np.asarray(x, dtype=float) for x in (fixed, per_dense, per_moe))
    per_dense, per_moe = np.maximum(per_dense, 1e-9), np.maximum(per_moe, 1e-9)
    rows = fixed.shape[:-1]

    def reach(start: Any, room: Any, i: int) -> Any:
        """How many layers stage ``i`` holds from layer ``start`` within ``room``."""
        dense_left = np.clip(leading_dense - start, 0, None)
        dense_fit = np.floor(room / per_dense[..., i] + 1e-9)
        return np.where(
            dense_fit < dense_left,
            dense_fit,
            dense_left + np.floor((room - dense_left * per_dense[..., i]) / per_moe[..., i] + 1e-9),
        )

    def pack(bound: Any, cap: Any) -> tuple[Any, Any]:
        lo, hi, ok = np.zeros(rows), np.zeros(rows), np.ones(rows, dtype=bool)
        spans = []  # the interval of starts each stage may have
        for i in range(pp):
            room = bound - fixed[..., i]
            dense_fits = room >= per_dense[..., i] * (1 - 1e-12)
            moe_fits = room >= per_moe[..., i] * (1 - 1e-12)
            # starts a layer can follow: both kinds fit, or only the dense layers' starts, or only the MoE's
            first = np.where(dense_fits | (lo >= leading_dense), lo, np.maximum(lo, leading_dense))
            last = np.where(moe_fits | (hi < leading_dense), hi, np.minimum(hi, leading_dense - 1))
            usable = (first <= last) & np.where(first < leading_dense, dense_fits, moe_fits)
            usable &= np.where(last < leading_dense, dense_fits, moe_fits)
            ok &= usable
            spans.append((first, last))
            end = last + np.minimum(reach(last, room, i), cap)
            lo, hi = first + 1, np.minimum(end, layers - (pp - 1 - i))
            ok &= lo <= hi
        first, last = spans[-1]
        start = np.minimum(last, layers - 1)
        ok &= (start >= first) & (layers - start <= cap)
        ok &= reach(start, bound - fixed[..., pp - 1], pp - 1) >= layers - start
        counts, end = [], np.full(rows, float(layers))
        for i in range(pp - 1, -1, -1):  # each stage starts as late as its interval allows
            first, last = spans[i]
            start = np.where(i == 0, 0.0, np.minimum(last, end - 1))
            counts.append(np.clip(end - start, 0, None))
            end = start
        return ok, counts[::-1]

    def least_bound(cap: Any) -> Any:
        everything = fixed.max(axis=-1) + layers * np.maximum(per_dense, per_moe).max(axis=-1)
        lo, hi = fixed.max(axis=-1), everything
        for _ in range(30):  # to 1e-9 of the range
            mid = (lo + hi) / 2
            ok, _ = pack(mid, cap)
            lo, hi = np.where(ok, lo, mid), np.where(ok, mid, hi)
        return hi

    pace = float(np.ceil(layers / pp))
    if rule == "balanced":
        cap = np.full(rows, pace)
        bound = least_bound(cap)
    else:
        bound = least_bound(np.full(rows, float(layers)))
        lo_k, cap = np.full(rows, pace - 1), np.full(rows, float(layers))
        while np.any(cap - lo_k > 1):
            mid = np.floor((lo_k + cap) / 2)
            ok, _ = pack(bound, mid)
            lo_k, cap = np.where(ok, lo_k, mid), np.where(ok, mid, cap)
    return np.stack(pack(bound, cap)[1], axis=-1).astype(int)
