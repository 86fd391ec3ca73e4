"""The training recipe beyond N and D: peak learning rate, global batch, schedule and AdamW, and the
benchmark error a loss maps to.

* ``hyperparameters.py``: the published learning-rate/batch laws (DeepSeek LLM's eta_opt(C), B_opt(C) with
  C = M·D; Step Law's eta(N, D), B(D)) and `RunShape`, what they read of a run;
* ``fitted.py``: the same laws fitted on a user's sweep and carried by a law file;
* ``schedule.py``: warmup, cosine to 10% or warmup-stable-decay, AdamW's constants;
* ``recipe.py``: `Recipe` and `training_recipe`, their composition, and `batch_target`, the one default
  global batch;
* ``curve.py``: the loss through a planned run under its schedule and batch, from a law's curve constants;
* ``downstream.py``: maps from loss to benchmark error (Gadre et al. 2024) and the check that a law's loss is
  on the map's data;
* ``ladder.py``: Bhagia et al. 2024's two-step ladder per task (task loss from N and D, accuracy from the task
  loss), fitted on a user's runs (`scaling.fit.ladder`) and carried by their law file;
* ``prediction.py``: `DownstreamPrediction`, what either kind of map answers at a plan.
"""

from scaling.recipe.hyperparameters import (
    DEEPSEEK,
    SPREAD,
    STEP_LAW,
    Hyperparameters,
    RunShape,
    deepseek_batch_tokens,
    deepseek_flops_per_token,
    deepseek_learning_rate,
    steplaw_batch_tokens,
    steplaw_learning_rate,
)
from scaling.recipe.recipe import HP_LAWS, Recipe, batch_target, choose_hp_law, training_recipe
from scaling.recipe.schedule import SCHEDULES, AdamW, Schedule, make_schedule

__all__ = [
    "DEEPSEEK",
    "HP_LAWS",
    "SCHEDULES",
    "SPREAD",
    "STEP_LAW",
    "AdamW",
    "Hyperparameters",
    "Recipe",
    "RunShape",
    "Schedule",
    "batch_target",
    "choose_hp_law",
    "deepseek_batch_tokens",
    "deepseek_flops_per_token",
    "deepseek_learning_rate",
    "make_schedule",
    "steplaw_batch_tokens",
    "steplaw_learning_rate",
    "training_recipe",
]
