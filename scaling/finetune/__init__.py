"""Fine-tuning and continued-pretraining plans: FLOPs, memory, layout, time and cost of full, LoRA and QLoRA
runs.

FLOPs per token are a sum of named terms (`finetune_flops_per_token`), each a share of the forward count F
of `scaling.flops.training_flops` under one convention (``6nd``: F = 2N; ``exact``: Hoffmann et al. 2022,
App. F), so full fine-tuning is exactly `training_flops` and nothing else counts the model twice:

* ``forward``: F (Kaplan et al. 2020 §2.1: 2 FLOPs per parameter per token);
* ``backward_activations``: the input gradient of every matmul, F, plus a second input gradient for the
  weight-free attention matmuls (QK^T and softmax·V have two activation inputs and no weight); needed
  through frozen weights too, since trained parameters sit below them (LoRA adapters in every layer);
* ``backward_weights``: the weight gradient of every weight matmul, F minus the attention scores, for full
  fine-tuning only; LoRA skips it for the frozen base (Hu et al. 2021 §4.2: "we do not need to calculate
  the gradient for the vast majority of the parameters");
* ``adapters``: LoRA's x·A·B: 2 FLOPs per adapter parameter forward, 2 for its input gradient and 2 for its
  weight gradient, 6 per adapter parameter per token (the 6ND rule applied to the adapters);
* ``recompute`` (hardware FLOPs only, never in MFU): one more forward of the checkpointed layers, from
  `training_flops`' recompute term, plus the adapters' forward.

Activation gradients are needed down to the lowest trained parameter; the first layer's frozen input
projections therefore skip one input gradient, which the count leaves in (2% for six layers, less deeper).

Time: model FLOPs (the stated convention) / (devices x peak x ``mfu``), MFU being end-to-end model FLOPs
utilization (Chowdhery et al. 2022, App. B), as everywhere. The one step-time model
(`scaling.layout.explain_step`) explains a step: full fine-tuning through the layout search (compute,
pipeline bubble, TP/DP/PP communication; ZeRO/FSDP for several GPUs); LoRA and QLoRA keep the base frozen and
replicated (DDP) or sharded (FSDP, ZeRO-3), their communication the all-gathers of a sharded base and the
adapters' gradient all-reduce. A quantized base is dequantized before every matmul, so its kernels do
``QUANT_TIME_FACTOR`` times the work: QLoRA's default MFU is `DEFAULT_MFU` / ``QUANT_TIME_FACTOR``. Memory of
every candidate comes from `scaling.memory.estimate_memory` (mode ``finetune``).

The modules, each importing only those above it:

* ``tables.py``: `finetune_tables`, `continued_tables`, the plans as tables (CLI text and notebooks);
* ``flops.py``: `finetune_flops_per_token` by the terms above, `model_flops_per_token`;
* ``result.py``: `FinetunePlan`, the result;
* ``layouts.py``: the candidate layouts of a run, their memory and step time, and the choice among them;
* ``plan.py``: `plan_finetune`, its defaults (`QUANT_TIME_FACTOR`, `default_mfu`), notes and warnings;
* ``continued_pretraining.py``: `plan_continued_pretraining` and `ContinuedPretrainingPlan`;
* ``request.py``: `FinetuneRequest`, the question ``scaling finetune`` (and ``scaling plan --from``) asks, and
  `plan_finetune_request`, its answer (not imported here: it reads the options of `scaling.options`).
"""

from __future__ import annotations

from scaling.finetune.continued_pretraining import (
    DEFAULT_REPLAY_FRACTION,
    DOMAIN_ADAPTATION_FINDINGS,
    ContinuedPretrainingPlan,
    plan_continued_pretraining,
)
from scaling.finetune.flops import CONVENTIONS, finetune_flops_per_token, model_flops_per_token
from scaling.finetune.layouts import MAX_SEARCH
from scaling.finetune.plan import (
    DEFAULT_GLOBAL_BATCH,
    DEFAULT_MAX_SEQ_LEN,
    QUANT_TIME_FACTOR,
    default_mfu,
    plan_finetune,
)
from scaling.finetune.result import FinetunePlan
from scaling.finetune.tables import continued_tables, finetune_tables

__all__ = [
    "CONVENTIONS",
    "DEFAULT_GLOBAL_BATCH",
    "DEFAULT_MAX_SEQ_LEN",
    "DEFAULT_REPLAY_FRACTION",
    "DOMAIN_ADAPTATION_FINDINGS",
    "MAX_SEARCH",
    "QUANT_TIME_FACTOR",
    "ContinuedPretrainingPlan",
    "FinetunePlan",
    "continued_tables",
    "default_mfu",
    "finetune_flops_per_token",
    "finetune_tables",
    "model_flops_per_token",
    "plan_continued_pretraining",
    "plan_finetune",
]
