"""The recipe's options (`scaling.recipe`): which learning-rate/batch law, which schedule and its decay.
Shared by ``scaling plan`` and ``scaling loss``."""

from __future__ import annotations

from scaling.options.records import Option
from scaling.recipe.recipe import HP_LAWS
from scaling.recipe.schedule import SCHEDULES, parse_decay_fraction

HP_LAW = Option(
    "hp_law",
    ("--hp-law",),
    "Learning-rate/batch law: deepseek (Bi et al. 2024, C = M·D), steplaw (Li et al. 2025), or law (the "
    "--law file's fitted ones; the default when it has them, else deepseek).",
    choices=HP_LAWS,
    placeholder="the law's own, else deepseek (default)",
)
SCHEDULE = Option(
    "schedule",
    ("--schedule",),
    "Learning-rate schedule: cosine (to 10% of the peak) or wsd (warmup-stable-decay).",
    default="cosine",
    choices=SCHEDULES,
)
DECAY_FRACTION = Option(
    "decay_fraction",
    ("--decay-fraction",),
    "With --schedule wsd: the fraction of the steps the final decay takes (default 0.2).",
    parse=parse_decay_fraction,
)
DOWNSTREAM = Option(
    "downstream",
    ("--downstream",),
    "Downstream map (e.g. gadre-redpajama-17): the benchmark error at the plan's loss; or a law JSON fitted "
    "with 'scaling fit RUNS --downstream evals.csv': its tasks' accuracy at the plan's N and D. Refused when "
    "the law's loss is on other data than the map's (the Gadre laws and fitted ladders carry theirs).",
)
