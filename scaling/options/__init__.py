"""Every option a user can give, declared once: its keyword, flags, parser, unit, default, help and example.

scikit-learn keeps an estimator's parameters in one ``_parameter_constraints`` table that validation reads;
here an `Option` is one row of such a table and a `Declaration` is the table of one face:

* `PLAN` (``scaling plan``, `scaling.plan.make_plan`), `MEMORY` (``scaling memory``), `SERVING`
  (``scaling inference``), `FINETUNE` (``scaling finetune``) and `FLOPS` (``scaling flops``);
* options several faces share are one object (`GPUS`, `MFU`, `PRICE`, `DAYS`, `TOKENS`, ...), so a flag
  means the same thing, with the same parser, default and help, wherever it appears.

What is generated from them:

* the click options of each command (`scaling.commands._common.declared`);
* the app's form fields, their flag names and placeholders (`scaling.app.page`, `scaling.app.views`);
* the library's keywords: `Declaration.parse` refuses an unknown keyword (a `TypeError` naming the accepted
  ones), parses each given value once with its option's parser and fills in the defaults. Commands, the app
  and `make_plan` all go through it, so a value is parsed and checked once, at the edge.

Where each part lives: ``records.py`` (`Option`, `Declaration`, `Parsed`), ``parsers.py`` (the few parsers
`scaling.units` and `scaling.checks` do not provide), ``shared.py`` (the shared options and the output
options), ``faces.py`` (one declaration per face).

The package sits on a low floor: it imports the parsers (`scaling.units`, `scaling.checks`,
`scaling.cluster`), the assumed MFU from its one home (`scaling.cost.DEFAULT_MFU`) and the FLOP conventions'
names (`scaling.flops`); nothing that estimates.
"""

from scaling.cost import DEFAULT_MFU
from scaling.options.faces import (
    FINETUNE,
    FINETUNE_COMMAND,
    FLOPS,
    FLOPS_COMMAND,
    FROM_MODEL,
    LAW,
    MEMORY,
    MEMORY_COMMAND,
    MEMORY_MODES,
    PLAN,
    PLAN_COMMAND,
    PLAN_DTYPES,
    SERVING,
    SERVING_COMMAND,
    SHAPE_STYLES,
)
from scaling.options.parsers import count_or_zero, flag, integer, number, real, serving_cluster, whole
from scaling.options.records import Declaration, Option, Parsed
from scaling.options.shared import (
    ACCELERATOR_FILES,
    BATCH,
    DAYS,
    FLASH,
    FORCE,
    GLOBAL_BATCH,
    GPUS,
    HTML,
    JSON,
    KV_DTYPE,
    LORA_RANK,
    LORA_TARGETS,
    MARKDOWN,
    MFU,
    MODEL,
    OPTIMIZER,
    PARAMS,
    PRECISION,
    PRICE,
    QUANT,
    SEQ_LEN,
    TOKENS,
    UNIQUE_TOKENS,
    VOCAB,
)

__all__ = [
    "ACCELERATOR_FILES",
    "BATCH",
    "DAYS",
    "DEFAULT_MFU",
    "FINETUNE",
    "FINETUNE_COMMAND",
    "FLASH",
    "FLOPS",
    "FLOPS_COMMAND",
    "FORCE",
    "FROM_MODEL",
    "GLOBAL_BATCH",
    "GPUS",
    "HTML",
    "JSON",
    "KV_DTYPE",
    "LAW",
    "LORA_RANK",
    "LORA_TARGETS",
    "MARKDOWN",
    "MEMORY",
    "MEMORY_COMMAND",
    "MEMORY_MODES",
    "MFU",
    "MODEL",
    "OPTIMIZER",
    "PARAMS",
    "PLAN",
    "PLAN_COMMAND",
    "PLAN_DTYPES",
    "PRECISION",
    "PRICE",
    "QUANT",
    "SEQ_LEN",
    "SERVING",
    "SERVING_COMMAND",
    "SHAPE_STYLES",
    "TOKENS",
    "UNIQUE_TOKENS",
    "VOCAB",
    "Declaration",
    "Option",
    "Parsed",
    "count_or_zero",
    "flag",
    "integer",
    "number",
    "real",
    "serving_cluster",
    "whole",
]
