"""Plans: from a cluster, a deadline, dollars or a model to a complete, checked training plan.

* ``request.py``: `PlanRequest`, the question as typed values, and `parse_plan_request` for raw input (the
  options declared in `scaling.options.PLAN`); `continued_request` for ``--from``;
* ``compose.py``: `build_plan`, the composition of the estimators (budget, allocation, shape, layout and
  memory, time and cost), documented step by step;
* ``policy.py``: the plan's rules (loss under its constraints, equal-loss overhead, warnings, assumptions);
* ``result.py``: `Plan`, `StepModel`, `Comparison`;
* ``tables.py``: the plan as tables, rendered by `scaling.render` (text, Markdown, HTML).

Conventions (stated in every output): C = 6ND with N the total parameter count (Hoffmann et al. 2022); MFU
is model FLOPs (6ND) over devices x dense peak x time; the plan's one time is steps x step seconds of its
layout's step-time model.
"""

from __future__ import annotations

from typing import Any

from scaling.plan.compose import build_plan
from scaling.plan.request import DEFAULT_MFU, PlanRequest, continued_request, parse_plan_request, plan_request
from scaling.plan.result import Comparison, Plan, PlanTime
from scaling.plan.tables import (
    comparison_rows,
    plan_brief,
    plan_html,
    plan_markdown,
    plan_sections,
    plan_tables,
    plan_text,
)

__all__ = [
    "DEFAULT_MFU",
    "Comparison",
    "Plan",
    "PlanRequest",
    "PlanTime",
    "build_plan",
    "comparison_rows",
    "continued_request",
    "make_plan",
    "parse_plan_request",
    "plan_request",
    "plan_html",
    "plan_markdown",
    "plan_sections",
    "plan_tables",
    "plan_brief",
    "plan_text",
]


def make_plan(**options: Any) -> Plan:
    """A checked training plan from the options of ``scaling plan`` (strings with units or numbers):
    ``build_plan(parse_plan_request(**options))``. The keywords are those of `scaling.options.PLAN` (an
    unknown one is a `TypeError` naming them). Give one budget:

    * ``flops`` (FLOPs or ``"100 PF-days"``);
    * ``gpus`` and ``days`` (with ``mfu``);
    * ``usd`` and ``price`` (a price per device-hour; ``gpus`` names the accelerator);
    * ``gpu_hours``;
    * a given model: ``params`` or ``model`` with ``tokens`` (or a budget above), or ``model`` alone (its
      own training tokens); or ``target_loss``.
    """
    return build_plan(parse_plan_request(**options))
