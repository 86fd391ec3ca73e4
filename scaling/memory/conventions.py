"""Published memory accountings, each reproducing its source's number and leaving out what it leaves out.

* ``"zero"``: ZeRO paper Figure 1 / Table 1, model states only, 2 + 2 + 12 = 16 B/param (computed by our
  estimate with activations and overhead off, see `scaling.memory.estimate`);
* ``"megatron"``: 2 + 4 + 4 (fp32 gradients) + 8 = 18 B/param (Megatron ``theoretical_memory_usage.py``;
  HF "Model memory anatomy": 6 weights + 4 grads + 8 AdamW), plus activations (our estimate, fp32 gradients);
* ``"course"``: deeplearning.ai "Generative AI with LLMs": weights at their dtype (4 GB per 1B params at
  fp32), training adds 20 B/param (Adam 8 + gradients 4 + activations and temporaries 8) = 24 GB
  per 1B at fp32;
* ``"accelerate"``: ``accelerate estimate-memory``: inference = weights; training = the **max** (not the sum)
  of model, gradients, optimizer and step sizes (16 B/param at fp32, 8 B/param of the fp32 size at 16-bit);
* ``"deepspeed"``: DeepSpeed's ``estimate_zero2/zero3_model_states_mem_needs`` (``memory.rst``): model states
  only, with its offload, ``zero_init`` and 1.5 CPU-buffer conventions; ``cpu_bytes`` per node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scaling.cluster import Cluster
from scaling.errors import ScalingError
from scaling.memory.parallel import Parallelism
from scaling.memory.param_counts import ModelShape
from scaling.memory.precision import Precision
from scaling.memory.states import CPU_BUFFER_FACTOR

CONVENTIONS = ("zero", "megatron", "course", "accelerate", "deepspeed")
PUBLISHED = (
    "course",
    "accelerate",
    "deepspeed",
)  # accountings of their own (not our terms with parts left out)
Term = tuple[str, float, str]


@dataclass
class ConventionResult:
    """Bytes by term key (weights, master, gradients, optimizer, activations, logits, kv, overhead, cpu), the
    rows to print, whether the total is the sum or the max of the rows, and the trainable parameters."""

    out: dict[str, float]
    terms: list[Term] = field(default_factory=list)
    total_rule: str = "sum"
    trainable: float = 0.0
    overhead_rule: str = ""
    stages: list[dict[str, Any]] = field(default_factory=list)  # per pipeline stage: layers, total_bytes
    heaviest: int | None = None  # the stage whose memory the terms give


def _empty(overhead: float | None) -> dict[str, float]:
    keys = ("weights", "master", "gradients", "optimizer", "activations", "logits", "kv", "cpu")
    return {**dict.fromkeys(keys, 0.0), "overhead": float(overhead or 0.0)}


def course(mode: str, precision: Precision, params: float, overhead: float | None) -> ConventionResult:
    """deeplearning.ai "Generative AI with LLMs": 4 GB per 1B params at fp32; training adds 20 B/param."""
    res = ConventionResult(_empty(overhead), trainable=params if mode != "infer" else 0.0)
    store = precision.stored_weight_bytes
    res.out["weights"] = params * store  # course: 1B params x 4 B = 4 GB at fp32 (2 GB fp16, 1 GB int8)
    name = precision.quant or precision.dtype
    res.terms.append(("weights", res.out["weights"], f"{store:g} B/param ({name}) [deeplearning.ai course]"))
    if mode != "infer":
        res.out["optimizer"] = 8.0 * params  # course: Adam optimizer, 2 states, +8 B/param
        res.out["gradients"] = 4.0 * params  # course: gradients +4 B/param
        res.out["activations"] = (
            8.0 * params
        )  # course: activations and temporary memory, +8 B/param (high-end)
        res.terms += [
            ("optimizer", res.out["optimizer"], "8 B/param (Adam, two fp32 states) [course]"),
            ("gradients", res.out["gradients"], "4 B/param [course]"),
            (
                "activations",
                res.out["activations"],
                "8 B/param activations and temporaries [course: +20 B/param in all]",
            ),
        ]
    return res


def accelerate(mode: str, precision: Precision, params: float, overhead: float | None) -> ConventionResult:
    """``accelerate estimate-memory``: inference = weights; training = the max of its four sizes."""
    res = ConventionResult(_empty(overhead))
    fp32 = 4.0 * params
    res.out["weights"] = (
        params * precision.stored_weight_bytes
    )  # fp32 size / 2 (fp16), / 4 (int8), / 8 (int4)
    if mode == "infer":
        res.terms.append(
            (
                "weights",
                res.out["weights"],
                f"{precision.quant or precision.dtype}: parameter bytes [accelerate estimate-memory]",
            )
        )
        return res
    full = precision.weight_bytes >= 4.0
    if full:
        model_b, grads_b, optim_b, step_b = (
            fp32,
            fp32,
            2 * fp32,
            4 * fp32,
        )  # accelerate estimate_training_usage
    else:
        model_b, grads_b, optim_b = fp32, fp32 + fp32 / 2, 2 * fp32  # mixed precision: fp32 + 16-bit copies
        step_b = optim_b
    res.out.update(weights=model_b, gradients=grads_b, optimizer=optim_b)
    res.terms += [
        ("weights", model_b, "model: fp32 size [accelerate estimate_training_usage]"),
        ("gradients", grads_b, "gradients: fp32 size" + ("" if full else " x 1.5")),
        ("optimizer", optim_b, "optimizer: 2 x fp32 size (Adam)"),
        ("step", step_b, "step: 4 x fp32 size" if full else "step: = optimizer"),
    ]
    res.total_rule, res.trainable = "max", params
    return res


def deepspeed(
    shape: ModelShape,
    parallel: Parallelism,
    cluster: Cluster,
    largest_layer: float | None,
    overhead: float | None,
) -> ConventionResult:
    """DeepSpeed's ``estimate_zero2/zero3_model_states_mem_needs`` (docs ``memory.rst``), model states only;
    not split into weights/gradients/optimizer by DeepSpeed, so reported as weights."""
    P, stage, devices, per_node = shape.params, parallel.zero, cluster.devices, cluster.node
    if stage not in (2, 3):
        raise ScalingError(
            f"the deepspeed convention has estimators for ZeRO stages 2 and 3 only; got stage {stage}"
        )
    res = ConventionResult(_empty(overhead), trainable=P)
    ll = float(largest_layer) if largest_layer is not None else shape.largest_layer_params
    gpus_factor = 1.0 / max(devices // per_node, 1)  # 1 / nodes
    off_opt, off_par, zero_init = parallel.offload_optimizer, parallel.offload_params, parallel.zero_init
    if stage == 2:
        gpu = (
            2.0 * P if off_opt else 4.0 * P + int(16.0 * P / devices)
        )  # estimate_zero2: fp16 params only offloaded
        cpu = P * max(4 * devices, 16) if off_opt else P * 4 * per_node
        rule = "ZeRO-2: 2P with offload_optimizer, else 4P + 16P/total_gpus [DeepSpeed memory.rst]"
    elif off_par and not off_opt:
        raise ScalingError(
            "the deepspeed convention offloads parameters only together with the optimizer (--offload both)"
        )
    else:
        llm = 4.0 * ll  # largest_layer_memory = 4 x largest_layer_params
        per_param = 18 if off_par else 16  # host bytes per param with everything / the optimizer offloaded
        if off_opt:
            gpu = llm + (0 if off_par else int(2.0 * P / devices))
            cpu = P * (per_param * gpus_factor if zero_init else max(4 * per_node, per_param * gpus_factor))
        else:
            gpu = llm + int(18.0 * P / devices)
            cpu = (ll if zero_init else P) * 4 * per_node
        rule = "ZeRO-3: 4·largest_layer + (18P | 2P | 0)/total_gpus by offload [DeepSpeed memory.rst]"
    res.out["weights"] = gpu
    res.out["cpu"] = float(int(cpu * CPU_BUFFER_FACTOR))  # host memory per node, x1.5 buffer factor
    res.terms.append(("model_states", gpu, rule))
    return res
