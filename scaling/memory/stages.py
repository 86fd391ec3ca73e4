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
logits; an even split puts the layers left over on the first stages; ``pp_layers`` gives an uneven split
(Megatron's ``--decoder-first-pipeline-num-layers`` / ``--pipeline-model-parallel-layout``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scaling import checks
from scaling.errors import ScalingError


def parse_pp_layers(value: Any, layers: int | None = None, pp: int | None = None) -> tuple[int, ...] | None:
    """Layers per pipeline stage from ``"15,16,16,14"`` (or a sequence); None for an even split. With the
    model's ``layers`` and the ``pp`` size, the counts must be as many as the stages and sum to the layers."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "even", "none")):
        return None
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


def stage_layers(
    layers: int, pp: Any, stage: Any, pp_layers: tuple[int, ...] | None = None
) -> tuple[Any, Any]:
    """(layers held, index of its first layer) of pipeline ``stage`` (arrays broadcast): ``pp_layers`` when
    given, else an even split with the layers left over on the first stages."""
    stage = np.asarray(stage)
    if pp_layers is not None:
        counts = np.asarray(pp_layers)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return counts[stage], starts[stage]
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


def candidate_stages(shape: Any, pp: Any, pp_layers: tuple[int, ...] | None = None) -> list[Any]:
    """The stages that can be the heaviest, as index arrays (broadcast with ``pp``).

    With an even split the counts fall and the micro-batches in flight fall from stage to stage, so among
    stages holding one kind of layer the earliest is heaviest: the first, the second, the stage where the
    dense layers end and the one after it, and the last (head and logits). A given split: every stage.
    """
    pp = np.asarray(pp)
    if pp_layers is not None:
        return [np.full_like(pp, i) for i in range(len(pp_layers))]
    last_dense = np.maximum(shape.leading_dense - 1, 0)
    base, extra = shape.layers // pp, shape.layers % pp
    # the stage holding layer index ``last_dense``
    big = extra * (base + 1)
    transition = np.where(
        last_dense < big, last_dense // (base + 1), extra + (last_dense - big) // np.maximum(base, 1)
    )
    picks = [np.zeros_like(pp), np.ones_like(pp), transition, transition + 1, pp - 1]
    return [np.clip(s, 0, pp - 1) for s in picks]
