"""The loss curve of a planned run: the law's schedule-aware constants (`scaling.laws.curve`) under the
recipe's schedule and global batch (`training_recipe`), one function for ``scaling loss --schedule``, the
plan and ``scaling chart curve``, so the three show the same curve.

The curve reads each step's learning rate as a fraction of the peak: the peak itself is the recipe's (its
hyperparameter law's) and assumed tuned, as the runs the constants were fitted on were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from scaling.errors import ScalingError
from scaling.laws.curve import CurvePrediction, check_steps, curve_law, no_curve_message

if TYPE_CHECKING:
    from scaling.recipe.recipe import Recipe

PEAK_ASSUMPTION = (
    "the peak learning rate is taken as tuned (the law reads each step's rate as a fraction of the peak)"
)


def recipe_curve(law: Any, recipe: Recipe, params: float) -> CurvePrediction:
    """The predicted loss through a run of ``params`` trained with ``recipe`` (its schedule's steps at its
    global batch); refused in one line for a law without curve constants."""
    constants = curve_law(law)
    if constants is None:
        raise ScalingError(no_curve_message(law))
    schedule = recipe.schedule
    rates = schedule.multipliers(np.arange(check_steps(schedule.total_steps)))
    return constants.predict(
        float(params),
        rates,
        recipe.batch_tokens,
        schedule=schedule.to_dict(),
        loss_unit=getattr(law, "loss_unit", "nats/token"),
    )


def planned_curve(
    law: Any,
    params: float,
    tokens: float,
    *,
    schedule: str = "cosine",
    decay_fraction: float | None = None,
    hp_law: str | None = None,
) -> tuple[CurvePrediction, Recipe]:
    """The curve of a model of ``params`` trained on ``tokens``: the recipe of the standard shape of that
    size (`scaling.model.shapes.shape_for_params`, with the law's vocabulary and context when it records
    them), then `recipe_curve`."""
    from scaling.model.shapes import shape_for_params
    from scaling.recipe.recipe import training_recipe

    if curve_law(law) is None:
        raise ScalingError(no_curve_message(law))
    vocab = getattr(law, "vocab_size", None) or 32000
    context = getattr(law, "seq_len", None) or 4096
    spec = shape_for_params(float(params), vocab_size=vocab, n_ctx=context)
    recipe = training_recipe(
        spec, tokens, hp_law=hp_law, law=law, schedule=schedule, decay_fraction=decay_fraction
    )
    return recipe_curve(law, recipe, params), recipe
