"""The plan's training recipe and downstream error: `scaling.recipe` composed for the plan's model, tokens and
layout's batch, and rendered as the plan's "Training recipe" and "Downstream" sections.

The plan keeps no copy of a rule: the learning rate, batch, schedule and AdamW are `training_recipe`'s, the
default batch the layout rounded is `scaling.recipe.batch_target`'s, and the error is the map's
(`scaling.recipe.downstream`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scaling.laws.curve import CurvePrediction
    from scaling.plan.request import PlanRequest
    from scaling.recipe import Recipe
    from scaling.recipe.downstream import DownstreamPrediction

# Types of the plan modules above this one (compose, result), named in words: they import this module,
# so even a type-checking import of theirs would close a cycle.
Draft = Plan = Any


def plan_recipe(request: PlanRequest, draft: Draft) -> Recipe:
    """The recipe for the plan's model and tokens at the global batch its layout uses."""
    from scaling.recipe import training_recipe

    return training_recipe(
        draft.spec,
        draft.tokens,
        seq_len=draft.seq_len,
        batch_tokens=draft.batch_tokens,
        hp_law=request.hp_law,
        law=request.law,
        schedule=request.schedule,
        decay_fraction=request.decay_fraction,
    )


def plan_curve(request: PlanRequest, recipe: Recipe, params: float) -> CurvePrediction | None:
    """The loss through the plan's run under its recipe, for a law with curve constants (else None)."""
    from scaling.laws.curve import curve_law
    from scaling.recipe.curve import recipe_curve

    return recipe_curve(request.law, recipe, params) if curve_law(request.law) is not None else None


def curve_rows(plan: Plan) -> list[tuple[str, str]]:
    """The recipe section's loss-curve rows: milestones and the end of the schedule, or one line saying the
    law has no curve constants."""
    from scaling import units
    from scaling.laws.curve import no_curve_message

    curve = plan.loss_curve
    if curve is None:
        return [("loss curve", no_curve_message(plan.law))] if plan.recipe is not None else []
    steps = ", ".join(
        f"{fraction:.0%} {units.format_loss(value)}" for fraction, _, value in curve.milestones()
    )
    return [
        ("loss through training", f"{steps} {curve.loss_unit} (at these fractions of the tokens)"),
        ("  source", curve.source),
    ]


def plan_downstream(
    request: PlanRequest, params: float, tokens: float, loss: float | None
) -> tuple[DownstreamPrediction, ...]:
    """The --downstream map's error at the plan's loss, or a ladder map's accuracy at its N and D (refused
    when the law's loss is on other data), else the maps attached to the law."""
    from scaling.recipe.downstream import predict_downstream

    maps_law = None
    if request.downstream and request.downstream.strip().lower().endswith(".json"):  # a fitted ladder's law
        from scaling.laws import get_law

        maps_law = get_law(request.downstream)
    return tuple(predict_downstream(request.law, loss, request.downstream, params, tokens, maps_law))


def recipe_rows(plan: Plan) -> list[tuple[str, str]]:
    return (plan.recipe.rows() if plan.recipe is not None else []) + curve_rows(plan)


def recipe_brief_rows(plan: Plan) -> list[tuple[str, str]]:
    """The recipe's line in ``--brief``: peak learning rate, law and schedule."""
    if plan.recipe is None:
        return []
    from scaling.recipe.recipe import format_lr

    r = plan.recipe
    return [
        (
            "learning rate",
            f"{format_lr(r.learning_rate)} peak ({r.chosen.law}), {r.schedule.kind}, "
            f"{r.schedule.warmup_steps:,} warmup steps",
        )
    ]


def downstream_rows(plan: Plan) -> list[tuple[str, str]]:
    return [(p.metric, p.text()) for p in plan.downstream]


def recipe_keys(plan: Plan) -> dict[str, Any]:
    """The plan JSON's recipe keys (learning_rate, warmup_steps, schedule, global_batch_tokens, adam, hp_law,
    ...) and ``downstream``."""
    keys = plan.recipe.to_dict() if plan.recipe is not None else {}
    keys["downstream"] = [p.to_dict() for p in plan.downstream]
    keys["loss_curve"] = None if plan.loss_curve is None else plan.loss_curve.to_dict()
    return keys
