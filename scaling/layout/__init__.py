"""Which (TP, PP, DP, ZeRO, micro-batch, recompute, SP) layouts fit, and how each spends a step: the search
(`search.py`), the one step-time model (`step_time.py`), the default batch (`batch.py`) and the table
(`table.py`).

Every candidate is one element of numpy arrays; memory comes from `scaling.memory.train_memory_arrays` (the
same formula as `estimate_memory`, no second copy) and the step from one documented model (`step_times`).

**MFU fixes the time; the layout explains it.** MFU is end-to-end model FLOPs utilization as PaLM defines it
(Chowdhery et al. 2022, App. B): model FLOPs (6ND by default, never counting recomputation) per second
achieved over the devices' dense peak. So at a given MFU a step takes model FLOPs / (devices x peak x MFU) on
every layout, and the layout says what that time is made of:

* communication, with no overlap (an upper bound):
  - tensor parallelism: per layer and micro-batch, 2 all-reduces forward and 2 backward (2 more with full
    recompute) of s·b·h activation values, ring cost 2(t-1)/t x bytes / intra-node bandwidth (Megatron-LM,
    Shoeybi et al. 2019, §3; sequence parallelism moves the same bytes as reduce-scatter + all-gather,
    Korthikanti et al. 2022 §4.2.2); TP stays within a node;
  - data parallelism: one gradient all-reduce per step, ring cost 2(d-1)/d x gradient bytes / bandwidth;
    ZeRO-1/2 move the same volume, ZeRO-3 1.5x (Rajbhandari et al. 2019, §7); the inter-node bandwidth once
    TP x DP ranks span more than one node;
  - pipeline parallelism: each micro-batch sends s·b·h values forward and its gradient back per boundary;
  - expert parallelism (MoE): each token's dispatch to its top-k experts and the combine back, forward and
    backward, for the share routed off the rank, per MoE layer of the stage (`all_to_all_bytes_per_token`);
    expert gradients all-reduce over the expert data-parallel ranks, not DP;
* the pipeline bubble, compute x (pp - 1) / (m x v), with m micro-batches per step and v virtual stages
  (Narayanan et al. 2021, §2.2);
* compute: the rest, in which the kernels execute the step's hardware FLOPs (exact, with attention and
  recomputation) at the ``kernel_efficiency`` it implies.

When that efficiency is above `KERNEL_EFFICIENCY_CEILING` the MFU is out of this layout's reach: ``max_mfu``
is the most it reaches with kernels at the ceiling, and layouts are ranked by it (the least time spent outside
the kernels first).

Bandwidths (bytes/s, per device, one direction) are the accelerator's intra-node link (NVLink generation,
PCIe generation, ICI) and inter-node network from the catalog (`scaling.catalog.Accelerator`), and can be
given explicitly.

The default global batch is DeepSeek LLM's compute-optimal batch B_opt(C) (`default_global_batch`), a target
that each layout rounds to a multiple of its DP x micro-batch (`batch_for_layout`).
"""

from __future__ import annotations

from scaling.layout.batch import (
    BATCH_TOLERANCE,
    MAX_GLOBAL_BATCH,
    MAX_STEP_TOKENS,
    MICRO_BATCHES,
    DefaultBatch,
    batch_for_layout,
    default_global_batch,
    default_global_batch_for,
)
from scaling.layout.search import LayoutChoices, candidate_grid, search_layouts, valid_mask
from scaling.layout.step_time import (
    FLOPS_CONVENTIONS,
    KERNEL_EFFICIENCY_CEILING,
    StepInputs,
    all_to_all_bytes_per_token,
    all_to_all_seconds,
    bandwidths,
    explain_step,
    flops_per_token,
    step_times,
)
from scaling.layout.table import layouts_table, step_model_notes

__all__ = [
    "BATCH_TOLERANCE",
    "FLOPS_CONVENTIONS",
    "KERNEL_EFFICIENCY_CEILING",
    "MAX_GLOBAL_BATCH",
    "MAX_STEP_TOKENS",
    "MICRO_BATCHES",
    "DefaultBatch",
    "LayoutChoices",
    "StepInputs",
    "all_to_all_bytes_per_token",
    "all_to_all_seconds",
    "bandwidths",
    "batch_for_layout",
    "candidate_grid",
    "default_global_batch",
    "default_global_batch_for",
    "explain_step",
    "flops_per_token",
    "layouts_table",
    "search_layouts",
    "step_model_notes",
    "step_times",
    "valid_mask",
]
