"""``scaling plan --moe``: a mixture-of-experts plan beside the dense plan of equal loss.

Composed of the estimators, no formula of its own:

1. **Budget**: the plan's (`compose.initial_budget`).
2. **Allocation**: the least loss at the budget over the MoE law's granularities (`MoeLaw.optimal`), the
   active parameters and tokens with 6·N_active·D = C.
3. **Architecture**: `scaling.model.moe_shape_for_params` (experts, top-k, expert width); the tokens spend
   the budget at the shape's own active count.
4. **Layout, memory, time and cost**: `build_plan` of that model and those tokens on the cluster (its layout
   search ranges over EP and ETP for a MoE model; the pipeline split is `scaling.memory.pipeline_split`).
5. **Dense at equal loss**: `build_plan` of the target-loss question, the MoE plan's loss under the file's
   dense law, on the same cluster: the compute, model, layout, memory, time and cost a dense model needs.
6. **Serving**: the cheapest serving of each model (`scaling.serving.cheapest_serving`) on ``--serve-on``
   (default: one node of the training accelerator), per million output tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from scaling.cluster import Cluster
from scaling.errors import ScalingError
from scaling.memory.parallel import DEVICES_PER_NODE
from scaling.plan.result import Plan
from scaling.render import Displayable, Table
from scaling.units import GIB, format_count, format_flops, format_loss, format_usd

ROWS = (
    ("params (total)", "params"),
    ("params (active)", "active_params"),
    ("experts (top-k), granularity", "experts"),
    ("tokens", "tokens"),
    ("loss", "loss"),
    ("training FLOPs (6·N_active·D)", "training_flops"),
    ("layout", "layout"),
    ("memory / device", "memory_bytes"),
    ("time", "days"),
    ("cost", "cost"),
    ("serving per 1M output tokens", "serving"),
)


@dataclass(frozen=True)
class MoePlan(Displayable):
    """The MoE plan (``moe``, a `Plan` of the MoE model), the dense plan of equal loss (``dense``), the law,
    the granularity it chose, and each model's cheapest serving (the reason when it does not fit)."""

    law: Any  # scaling.laws.moe.MoeLaw
    budget_flops: float  # the MoE plan spends it: 6·N_active·D
    granularity: int
    loss: float
    moe: Plan
    dense: Plan
    serve_on: str
    serving: dict[str, Any]
    serving_unit: str
    warnings: tuple[str, ...] = ()
    serving_assumptions: tuple[str, ...] = ()  # which serving numbers came from a calibration file

    def side(self, which: str) -> dict[str, Any]:
        """One model's numbers in base units (the JSON's ``moe_plan`` / ``dense_plan``)."""
        plan = self.moe if which == "moe" else self.dense
        spec, serving = plan.spec, self.serving[which]
        out = dict(
            params=spec.params,
            active_params=spec.active_params,
            tokens=plan.tokens,
            loss=self.loss if which == "moe" else plan.loss,
            training_flops=plan.training.flops,
            layout=plan.layout,
            memory_bytes=None if plan.memory is None else plan.memory.total_bytes,
            fits=plan.fits,
            seconds=plan.cost.seconds,
            days=plan.cost.days,
            gpu_hours=plan.cost.gpu_hours,
            cost_usd=plan.cost.cost_usd,
            devices=plan.devices,
            serving_per_million_output_tokens=None if isinstance(serving, str) else serving,
            serving_note=serving if isinstance(serving, str) else None,
            architecture=plan.to_dict()["architecture"],
        )
        if which == "moe":
            out.update(
                experts=spec.n_experts,
                top_k=spec.top_k,
                expert_width=spec.expert_ffn_dim,
                granularity=self.granularity,
                expansion=self.law.expansion,
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        moe, dense = self.side("moe"), self.side("dense")
        ratio = {
            k: dense[k] / moe[k] if moe[k] else None
            for k in ("training_flops", "seconds", "gpu_hours", "params")
        }
        serve = (dense["serving_per_million_output_tokens"], moe["serving_per_million_output_tokens"])
        return {
            "moe_plan": moe,
            "dense_plan": dense,
            "comparison": {
                "loss": self.loss,
                "dense_over_moe_training_flops": ratio["training_flops"],
                "dense_over_moe_seconds": ratio["seconds"],
                "dense_over_moe_gpu_hours": ratio["gpu_hours"],
                "dense_over_moe_params": ratio["params"],
                "dense_over_moe_serving": serve[0] / serve[1] if None not in serve else None,
            },
            "moe_law": self.law.to_dict(),
            "serve_on": self.serve_on,
            "serving_unit": self.serving_unit,
            "serving_assumptions": list(self.serving_assumptions),
            "budget_flops": self.budget_flops,
            "warnings": list(self.warnings),
        }

    def display_tables(self) -> list[Table]:
        sides = {w: self.side(w) for w in ("moe", "dense")}
        rows = [
            (label, self._cell(sides["moe"], key), self._cell(sides["dense"], key)) for label, key in ROWS
        ]
        notes = [
            f"MoE law {self.law.name} (Krajewski et al. 2024 form): {self.law.source or 'user file'}; "
            f"expansion {self.law.expansion:g}, granularity chosen from "
            f"{', '.join(map(str, self.law.granularities))}",
            "dense: the file's dense law at the MoE plan's loss (the compute a dense model needs for it), on "
            "the same cluster",
            f"serving: the cheapest batch and TP on {self.serve_on}, in {self.serving_unit}; the MoE's "
            "experts spread over its TP devices (EP = TP), a step reading those its tokens route to (uniform "
            "routing)",
            *self.serving_assumptions,
        ]
        title = f"MoE plan beside the dense plan of equal loss ({format_flops(self.budget_flops)} budget)"
        tables = [Table(rows, ("quantity", "MoE", "dense, equal loss"), title=title, notes=notes)]
        if self.warnings:
            tables.append(Table.of([("!", w) for w in self.warnings], title="Warnings", align="ll"))
        return tables

    def _cell(self, side: dict[str, Any], key: str) -> str:
        if key == "experts":
            if "experts" not in side:
                return "dense"
            experts = f"{side['experts']} (top-{side['top_k']}, width {side['expert_width']})"
            return f"{experts}, G {side['granularity']}"
        if key in ("params", "active_params", "tokens"):
            return format_count(side[key])
        if key == "loss":
            return format_loss(side[key])
        if key == "training_flops":
            return format_flops(side[key])
        if key == "layout":
            lay = side["layout"]
            if not lay:
                return "none fits"
            ep = f", EP {lay['ep']}" if lay.get("ep", 1) > 1 else ""
            return f"TP {lay['tp']}, PP {lay['pp']}, DP {lay['dp']}{ep}, ZeRO {lay['zero']}"
        if key == "memory_bytes":
            value = side[key]
            return (
                "n/a"
                if value is None
                else f"{value / GIB:.1f} GiB ({'fits' if side['fits'] else 'does not fit'})"
            )
        if key == "days":
            return f"{side['days']:.1f} days on {side['devices']} devices"
        if key == "cost":
            usd = side["cost_usd"]
            hours = f"{format_count(side['gpu_hours'])} device-h"
            return hours if usd is None else f"{format_usd(usd)} ({hours})"
        value = side["serving_per_million_output_tokens"]
        if value is None:
            return side["serving_note"]
        return f"${value:.3g}" if self.serving_unit == "USD" else f"{value:.3g} device-h"


def build_moe_plan(request: Any) -> MoePlan:
    """The MoE plan and its dense counterpart for ``request`` (module doc)."""
    from scaling.model.shapes import moe_shape_for_params
    from scaling.plan.compose import (
        build_plan,
        devices_for_deadline,
        initial_budget,
    )
    from scaling.plan.request import serving_assumptions, serving_calibration_notes

    if request.fixed_model or request.target_loss is not None:
        raise ScalingError(
            "--moe chooses the model for a budget: drop MODEL, --params, --tokens and --target-loss"
        )
    law = request.moe_law
    budget = initial_budget(request)
    devices = request.devices or devices_for_deadline(request, budget.flops)
    alloc = law.optimal(budget.flops)
    spec = moe_shape_for_params(
        alloc.active_params,
        expansion=law.expansion,
        granularity=alloc.granularity,
        vocab_size=request.vocab_size,
        n_ctx=request.context,
        style=request.shape_style,
    )
    tokens = budget.flops / (6.0 * spec.active_params)
    loss = float(law.loss(spec.active_params, tokens, alloc.granularity))
    dense_law = law.dense_law()
    plain = dict(
        moe_law=None, serve_on=None, inference_tokens=None, post_quant=None, precision_law=None, law=dense_law
    )
    plain["serving_calibration"] = None  # it prices the serving below, not the two plans
    no_budget = dict(flops=None, seconds=None, usd=None, gpu_hours=None)
    moe = build_plan(replace(request, **plain, **no_budget, model=spec, tokens=tokens, devices=devices))
    dense = build_plan(replace(request, **plain, **no_budget, target_loss=loss, devices=devices))
    serve = request.serve_on or Cluster.of(request.accelerator, request.devices_per_node or DEVICES_PER_NODE)
    from scaling.serving.optimum import price_and_unit  # dollars, else device-hours: the serving rule

    price, unit = price_and_unit(request.price, serve, serve)
    assumptions = serving_assumptions(request)
    serving = {w: _serving(p.spec, serve, price, assumptions) for w, p in (("moe", moe), ("dense", dense))}
    warnings = tuple(law.extrapolations(spec.active_params, tokens))
    return MoePlan(
        law=law,
        budget_flops=budget.flops,
        granularity=alloc.granularity,
        loss=loss,
        moe=moe,
        dense=dense,
        serve_on=str(serve),
        serving=serving,
        serving_unit=unit,
        warnings=warnings,
        serving_assumptions=serving_calibration_notes(request),
    )


def _serving(spec: Any, serve: Cluster, price: float | None, assumptions: Any = None) -> float | str:
    """The cheapest serving's cost per million output tokens, or why there is none."""
    from scaling.serving.search import cheapest_serving

    try:
        best = cheapest_serving(
            spec,
            serve.accelerator,
            devices=serve.devices,
            price_usd_per_hour=price,
            keep=1,
            assumptions=assumptions,
        ).best
    except ScalingError as err:
        return f"n/a: {str(err).split(';')[0]}"
    return float(best.usd_per_million_output_tokens)


def moe_text(result: MoePlan) -> str:
    """The MoE plan's tables as aligned text."""
    return "\n\n".join(t.text() for t in result.display_tables())
