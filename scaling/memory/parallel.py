"""How a run is split over devices (`Parallelism`), and the one rule for which splits are valid.

Tensor (Shoeybi et al. 2019), pipeline (Narayanan et al. 2021), data, expert and sequence parallelism
(Korthikanti et al. 2022), ZeRO stage 0-3 (Rajbhandari et al. 2019) with the FSDP names, and DeepSpeed's
CPU offload. `layout_rules` states every divisibility rule once, over numpy arrays; `validate_layout`
(one layout, a clear error) and `scaling.layout.valid_mask` (many layouts, a mask) both read it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scaling import checks
from scaling.cluster import DEVICES_PER_NODE, MAX_DEVICES, device_count
from scaling.errors import ScalingError
from scaling.memory.stages import parse_pp_layers
from scaling.model import ModelSpec

__all__ = [
    "DEVICES_PER_NODE",
    "MAX_DEVICES",
    "OFFLOAD",
    "SCHEDULES",
    "ZERO_NAMES",
    "Parallelism",
    "device_count",
    "expert_rules",
    "layout_rules",
    "validate_layout",
    "zero_stage",
]
OFFLOAD = ("optimizer", "params", "both")
ZERO_STAGES = (0, 1, 2, 3)  # Rajbhandari et al. 2020: none, optimizer states, + gradients, + parameters
SCHEDULES = ("1f1b", "gpipe")
ZERO_NAMES = {  # PyTorch FSDP ShardingStrategy -> ZeRO stage
    "no_shard": 0,
    "ddp": 0,
    "shard_grad_op": 2,
    "full_shard": 3,
    "hybrid_shard": 3,
    "os": 1,
    "os+g": 2,
    "os+g+p": 3,
    "p_os": 1,
    "p_os+g": 2,
    "p_os+g+p": 3,
}


def zero_stage(value: Any) -> int:
    """A ZeRO stage from 0-3 or an FSDP sharding-strategy name (NO_SHARD, SHARD_GRAD_OP, FULL_SHARD,
    HYBRID_SHARD)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) in ZERO_STAGES:
        return int(value)
    accepted = "0, 1, 2, 3 or an FSDP name (NO_SHARD, SHARD_GRAD_OP, FULL_SHARD, HYBRID_SHARD)"
    key = str(value).strip().lower().replace("-", "_")
    stage = checks.digits(key, "ZeRO stage", accepted)
    if stage is not None and stage in ZERO_STAGES:
        return stage
    if key in ZERO_NAMES:
        return ZERO_NAMES[key]
    raise ScalingError(f"unknown ZeRO stage {value!r}: expected {accepted}")


def layout_rules(
    spec: ModelSpec, devices: Any, tp: Any, pp: Any, ep: Any = 1, etp: Any = None
) -> list[tuple[Any, str]]:
    """Each validity rule of a (TP, PP, EP, ETP) split of ``devices`` as (ok, message template), arrays
    broadcast.

    TP divides the attention heads; TP and the KV heads divide one another (GQA replicates KV heads when TP
    exceeds them); PP is at most the layers; TP x PP divides the devices; EP divides the experts; expert
    tensor parallelism ETP (None: TP) divides a routed expert's width, and ETP x EP x PP divides the devices
    (Megatron's expert data-parallel size EDP = devices / (ETP x EP x PP); with ETP = TP, EP divides DP).
    Message templates are formatted with ``tp``, ``pp``, ``ep``, ``etp``, ``dp``, ``devices``.
    """
    tp, pp, ep, devices = (np.asarray(x) for x in (tp, pp, ep, devices))
    split = devices % (tp * pp) == 0
    name = spec.name
    return [
        (
            spec.n_head % tp == 0,
            f"tensor parallel size {{tp}} does not divide the {spec.n_head} attention heads of {name}",
        ),
        (
            (spec.kv_heads % tp == 0) | (tp % spec.kv_heads == 0),
            f"tensor parallel size {{tp}} and the {spec.kv_heads} KV heads of {name} must divide one another",
        ),
        (
            pp <= spec.total_layers,
            f"pipeline parallel size {{pp}} is more than the {spec.total_layers} layers of {name}",
        ),
        (split, "device count {devices} is not divisible by TP x PP = {tp} x {pp} = {tp_pp}"),
        *expert_rules(spec, devices, tp, pp, ep, etp),
    ]


def expert_rules(
    spec: ModelSpec, devices: Any, tp: Any, pp: Any, ep: Any = 1, etp: Any = None
) -> list[tuple[Any, str]]:
    """`layout_rules`' rules for the routed experts (EP divides the experts, ETP a routed expert's width, and
    ETP x EP x PP the devices), arrays broadcast; a dense model passes them with EP 1."""
    tp, pp, ep, devices = (np.asarray(x) for x in (tp, pp, ep, devices))
    etp = tp if etp is None else np.asarray(etp)
    name, moe = spec.name, spec.is_moe
    return [
        (
            (ep == 1) | (spec.n_experts % ep == 0),
            f"expert parallel size {{ep}} does not divide the {spec.n_experts} experts of {name}",
        ),
        (
            (not moe) | (etp == 1) | (spec.expert_ffn_dim % np.maximum(etp, 1) == 0),
            f"expert tensor parallel size {{etp}} does not divide the expert width {spec.expert_ffn_dim} of "
            f"{name}",
        ),
        (
            (not moe) | (devices % np.maximum(etp * ep * pp, 1) == 0),
            "device count {devices} is not divisible by ETP x EP x PP = {etp} x {ep} x {pp}",
        ),
    ]


def validate_layout(
    spec: ModelSpec,
    devices: int,
    tp: int,
    pp: int,
    ep: int = 1,
    etp: int | None = None,
    pp_layers: tuple[int, ...] | None = None,
) -> int:
    """The data-parallel degree of a valid split; a `ScalingError` naming the first rule it breaks."""
    if (ep > 1 or etp is not None) and not spec.is_moe:
        what = f"expert parallel size {ep}" if ep > 1 else f"expert tensor parallel size {etp}"
        raise ScalingError(f"{what} needs a mixture-of-experts model; {spec.name} is dense")
    dp = devices // (tp * pp) if devices % (tp * pp) == 0 else 0
    shown = tp if etp is None else etp
    for ok, message in layout_rules(spec, devices, tp, pp, ep, etp):
        if not bool(ok):
            raise ScalingError(
                message.format(tp=tp, pp=pp, ep=ep, etp=shown, dp=dp, devices=devices, tp_pp=tp * pp)
            )
    parse_pp_layers(pp_layers, spec.total_layers, pp)
    return dp


@dataclass(frozen=True)
class Parallelism:
    """How a run is split over the devices of its `scaling.cluster.Cluster`: TP x PP x DP for the dense
    parts, ETP x EP x PP x EDP for the routed experts, the layers per stage (``pp_layers``), SP, ZeRO stage,
    offload, pipeline schedule and interleaving; DP is what the cluster's devices leave (`dp`). Build one
    with `Parallelism.of`, which checks the names and numbers; `validate` checks it against a model and a
    device count and returns the data-parallel degree."""

    tp: int = 1
    pp: int = 1
    ep: int = 1
    etp: int | None = None  # expert tensor parallel size; None: TP (Megatron's default)
    pp_layers: tuple[int, ...] | str | None = None  # per stage; None: balanced_split; "even", "memory"
    sp: bool = False
    zero: int = 0
    hybrid_shard: bool = False
    offload: str | None = None
    interleave: int = 1
    schedule: str = "1f1b"
    zero_init: bool = True

    @classmethod
    def of(
        cls,
        *,
        tp: Any = 1,
        pp: Any = 1,
        ep: Any = 1,
        etp: Any = None,
        pp_layers: Any = None,
        sp: bool = False,
        zero: Any = 0,
        offload: str | None = None,
        interleave: Any = 1,
        schedule: str = "1f1b",
        zero_init: bool = True,
    ) -> Parallelism:
        """A checked `Parallelism`; ``zero`` may be 0-3 or an FSDP name (HYBRID_SHARD shards
        within a node)."""
        stage = zero_stage(zero)
        offload = None if offload in (None, "", "none") else checks.choice(offload, OFFLOAD, "offload")
        if offload in ("optimizer", "both") and stage < 1:
            raise ScalingError(
                f"offload {offload!r} needs ZeRO stage 1 or more (DeepSpeed ZeRO-Offload); got stage {stage}"
            )
        if offload in ("params", "both") and stage < 3:
            raise ScalingError(
                f"offload {offload!r} needs ZeRO stage 3 (ZeRO-Infinity offloads parameters); got "
                f"stage {stage}"
            )
        return cls(
            tp=device_count(tp, "tensor parallel size"),
            pp=device_count(pp, "pipeline parallel size"),
            ep=device_count(ep, "expert parallel size"),
            etp=None if etp is None else device_count(etp, "expert tensor parallel size"),
            pp_layers=parse_pp_layers(pp_layers, pp=device_count(pp, "pipeline parallel size")),
            sp=bool(sp),
            zero=stage,
            hybrid_shard=isinstance(zero, str) and zero.strip().lower().replace("-", "_") == "hybrid_shard",
            offload=offload,
            interleave=checks.positive_int(interleave, "interleave (virtual stages)"),
            schedule=checks.choice(schedule, SCHEDULES, "pipeline schedule"),
            zero_init=bool(zero_init),
        )

    def dp(self, devices: int) -> int:
        """Data-parallel degree on ``devices``: devices / (TP x PP)."""
        return devices // (self.tp * self.pp)

    @property
    def offload_optimizer(self) -> bool:
        return self.offload in ("optimizer", "both")

    @property
    def offload_params(self) -> bool:
        return self.offload in ("params", "both")

    def validate(self, spec: ModelSpec, devices: int) -> int:
        """The data-parallel degree on ``devices``, after checking the split against the model
        (`validate_layout`)."""
        return validate_layout(spec, devices, self.tp, self.pp, self.ep, self.etp, self.pp_layers)

    @property
    def expert_tp(self) -> int:
        """Expert tensor parallel size: ``etp``, else TP."""
        return self.tp if self.etp is None else self.etp

    def edp(self, devices: int) -> int:
        """Expert data-parallel degree on ``devices``: devices / (ETP x EP x PP) (Megatron)."""
        return devices // (self.expert_tp * self.ep * self.pp)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
