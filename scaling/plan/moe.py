"""``scaling plan --moe``: a mixture-of-experts plan beside the dense plan of equal loss.

Composed of the estimators, no formula of its own:

1. **Budget**: the plan's (`compose.initial_budget`).
2. **Allocation**: the least loss at the budget over the MoE law's granularities (`MoeLaw.optimal`,
   Krajewski et al. 2024's §6 with its routing FLOPs): the active parameters and the granularity.
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
from scaling.units import GIB, format_count, format_flops, format_fraction, format_loss, format_usd

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
        spec, (serving, served_on) = plan.spec, self.serving[which]
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
            serving_on=served_on,
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
            "mfu": self.moe.cost.mfu,
            "dtype": self.moe.cost.dtype,
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
            "dense: the law's dense side at the MoE plan's loss (the compute a dense model needs for it), on "
            "the same cluster",
            f"time and cost: MFU {format_fraction(self.moe.cost.mfu)} end to end of the "
            f"{self.moe.cost.dtype} dense peak for both models",
            f"serving: the cheapest batch, TP, EP and precision per million output tokens on "
            f"{self.serve_on}, in {self.serving_unit}; a MoE replica may run data-parallel attention "
            "with its experts spread over all its devices (wide EP, all-to-all), a step reading the experts "
            "its tokens route to (uniform routing)",
            *(
                f"{label} serves on {side['serving_on']}"
                if side["serving_on"]
                else f"{label} has no serving here: {side['serving_note']}"
                for label, side in (("the MoE", sides["moe"]), ("the dense model", sides["dense"]))
            ),
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
            return "n/a (below)"
        return f"${value:.3g}" if self.serving_unit == "USD" else f"{value:.3g} device-h"


def build_moe_plan(request: Any) -> MoePlan:
    """The MoE plan and its dense counterpart for ``request`` (module doc). With no ``--moe-law`` the shipped
    laws are tried in turn (`scaling.laws.moe.DEFAULT_MOE_LAWS`) until one's model fits the cluster; the
    notes say which did not and why."""
    from scaling.plan.compose import devices_for_deadline, initial_budget

    if request.fixed_model or request.target_loss is not None:
        raise ScalingError(
            "--moe chooses the model for a budget: drop MODEL, --params, --tokens and --target-loss"
        )
    budget = initial_budget(request)
    devices = request.devices or devices_for_deadline(request, budget.flops)
    skipped = []
    laws = (request.moe_law, *request.moe_law_fallback)
    for law, following in zip(laws, (*laws[1:], None)):
        built = _moe_side(request, law, budget.flops, devices)
        if built[1].fits or following is None:
            break
        memory = built[1].memory.total_bytes / GIB if built[1].memory is not None else float("nan")
        skipped.append(
            f"{law.name}'s optimum ({format_count(built[1].spec.params)} parameters) does not fit "
            f"{devices} {request.accelerator.name} ({memory:.0f} GiB per device at its best layout): planned "
            f"with {following.name}"
        )
    spec_law, moe, granularity, loss, n_law, tokens = built
    dense = _dense_side(request, spec_law, loss, devices)
    price_cluster = request.serve_on or Cluster.of(
        request.accelerator, request.devices_per_node or DEVICES_PER_NODE
    )
    from scaling.plan.request import serving_assumptions, serving_calibration_notes
    from scaling.serving.optimum import price_and_unit  # dollars, else device-hours: the serving rule

    price, unit = price_and_unit(request.price, price_cluster, price_cluster)
    assumptions = serving_assumptions(request)
    serving = {
        w: _serving(p.spec, request, devices, price, assumptions) for w, p in (("moe", moe), ("dense", dense))
    }
    return MoePlan(
        law=spec_law,
        budget_flops=budget.flops,
        granularity=granularity,
        loss=loss,
        moe=moe,
        dense=dense,
        serve_on=str(request.serve_on)
        if request.serve_on is not None
        else f"1, 2, 4, ... nodes of {price_cluster} (up to the training cluster)",
        serving=serving,
        serving_unit=unit,
        warnings=tuple(skipped) + tuple(spec_law.extrapolations(n_law, tokens)),
        serving_assumptions=serving_calibration_notes(request),
    )


def _plain(request: Any, law: Any) -> dict[str, Any]:
    """The request's fields that a plain (not --moe) `build_plan` of one side must not see."""
    return dict(
        moe_law=None,
        moe_law_fallback=(),
        serve_on=None,
        inference_tokens=None,
        post_quant=None,
        precision_law=None,
        law=law,
        serving_calibration=None,  # it prices the serving below, not the two plans
        flops=None,
        seconds=None,
        usd=None,
        gpu_hours=None,
    )


def _moe_side(request: Any, law: Any, flops: float, devices: int) -> tuple:
    """(law, the MoE `Plan`, granularity, loss, the law's N of the model, tokens) of the law's allocation at
    ``flops``: the shape of its active size and granularity, trained on the budget at the shape's own active
    count (6·N_active·D)."""
    from scaling.model.shapes import moe_shape_for_params
    from scaling.plan.compose import build_plan

    alloc = law.optimal(flops)
    spec = moe_shape_for_params(
        alloc.active_params,
        expansion=law.expansion,
        granularity=alloc.granularity,
        vocab_size=request.vocab_size,
        n_ctx=request.context,
        style=request.shape_style,
    )
    tokens = flops / (6.0 * spec.active_params)
    n_law = law.spec_params(spec)  # the law's N of the model built: total or active, as the law reads it
    loss = float(law.loss(n_law, tokens, alloc.granularity))
    plain = _plain(request, law.dense_law())
    moe = build_plan(replace(request, **plain, model=spec, tokens=tokens, devices=devices))
    return law, moe, alloc.granularity, loss, n_law, tokens


def _dense_side(request: Any, law: Any, loss: float, devices: int) -> Plan:
    """The dense model the law's dense side needs for ``loss`` (the target-loss plan), on the same cluster."""
    from scaling.plan.compose import build_plan

    return build_plan(replace(request, **_plain(request, law.dense_law()), target_loss=loss, devices=devices))


def _serving(spec: Any, request: Any, devices: int, price: float | None, assumptions: Any = None) -> Any:
    """(cost per million output tokens, what it serves on) of the cheapest serving over batch, TP, EP and
    precision (bf16, fp8, int8/int4 weight-only where the accelerator runs them; the choice is named), or why
    there is none: on ``--serve-on`` as given, else on 1, 2, 4, ... nodes of the training accelerator up to
    the training cluster, the cheapest per token (a MoE's wide expert-parallel replicas grow with nodes)."""
    from scaling.serving.search import cheapest_serving

    per_node = request.devices_per_node or DEVICES_PER_NODE
    if request.serve_on is not None:
        clusters = [request.serve_on]
    else:
        sizes = [per_node * 2**i for i in range(max(devices // per_node, 1).bit_length())]
        clusters = [Cluster.of(request.accelerator, n, devices_per_node=per_node) for n in sizes]
    best, reason = None, ""
    for serve in clusters:
        try:
            search = cheapest_serving(
                spec,
                serve.accelerator,
                devices=serve.devices,
                price_usd_per_hour=price,
                keep=1,
                assumptions=assumptions,
                search_precision=True,
            )
        except ScalingError as err:
            reason = reason or str(err).split(";")[0]
            continue
        cost = float(search.best.usd_per_million_output_tokens)
        if best is None or cost < best[0] * (1 - 1e-9):  # a tie keeps the fewer nodes
            chosen = search.precision_choice.chosen if search.precision_choice is not None else "bf16"
            best = (cost, f"{serve} at {chosen}, {_replica(search.best)}")
    return best if best is not None else (reason, None)


def _replica(estimate: Any) -> str:
    """A serving estimate's replica in words: TP, and for a wide MoE replica its attention groups and EP."""
    dp = getattr(estimate, "attention_dp", 1) or 1
    if dp > 1:
        return f"TP {estimate.tp} x DP {dp} attention, EP {estimate.ep}"
    return f"TP {estimate.tp}" + (f", EP {estimate.ep}" if estimate.ep > 1 else "")


def moe_text(result: MoePlan) -> str:
    """The MoE plan's tables as aligned text."""
    return "\n\n".join(t.text() for t in result.display_tables())
