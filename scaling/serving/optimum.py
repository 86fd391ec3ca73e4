"""Training plans that price inference in dollars: the model size that minimises training plus serving cost.

Sardana et al. 2024 ("Beyond Chinchilla-Optimal") choose N to reach the compute-optimal loss L*(C) at the
least lifetime FLOPs 6·N·D_train + 2·N·D_inference (`scaling.laws.Law.optimal` with ``inference_tokens``).
FLOPs misprice serving: decoding is bound by memory bandwidth, not FLOPs, so a token costs what the
roofline of `scaling.serving.roofline` says at the cheapest batch and layout (`cheapest_serving`), which
changes with the model's size, its KV cache and the serving hardware.

`serving_aware_optimum` reaches the same loss L*(C) and minimises training dollars (6·N·D_train FLOPs at
``train_mfu`` of the training accelerator's peak) plus serving dollars (the inference tokens, split into
prompt and output tokens in the workload's ratio, each at its own price per token). Every size is rounded to
a concrete architecture (`scaling.model.shape_for_params`) and trained on the tokens that bring that exact
size to the target loss (the law's ``predict`` inverted numerically). It prints the answer beside the
compute-optimal model and the FLOP-priced (Sardana) one, each priced the same way.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scaling import checks
from scaling.cluster import Cluster, parse_cluster
from scaling.cost import DEFAULT_MFU, compute_cost
from scaling.errors import ScalingError
from scaling.laws import Law, get_law
from scaling.model import shape_for_params
from scaling.render import Displayable, Table
from scaling.serving.efficiency import ServingAssumptions, calibration_note
from scaling.serving.search import ServingWorkload, cheapest_serving
from scaling.units import format_count, format_flops, format_loss, format_usd, six_nd

GRID_POINTS = 20  # sizes tried between the smallest that can reach the loss and the compute-optimal one
REFINE_POINTS = 8  # sizes tried around the best grid point
SMALLEST_FRACTION = 1e-3  # the smallest size tried, as a fraction of the compute-optimal size


@dataclass(frozen=True)
class PricedModel(Displayable):
    """One model size trained to the target loss and served: its cost in training and in serving."""

    label: str
    params: float
    tokens: float
    loss: float
    training_flops: float
    training_cost: float
    serving_cost: float
    usd_per_million_input_tokens: float
    usd_per_million_output_tokens: float
    tp: int
    batch: int
    decode_s_per_token: float

    @property
    def total_cost(self) -> float:
        return self.training_cost + self.serving_cost

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        # Money in USD under the stated unit (device-hours when no price is known: see
        # ServingAwareOptimum.unit)
        out["training_usd"], out["serving_usd"] = out.pop("training_cost"), out.pop("serving_cost")
        out["total_usd"] = self.total_cost
        return out


@dataclass(frozen=True)
class ServingAwareOptimum(Displayable):
    """The compute-optimal, FLOP-priced and serving-priced sizes for one loss, each with its cost."""

    law: str
    budget_flops: float
    target_loss: float
    inference_tokens: float
    serve_on: str
    train_on: str
    unit: str  # "USD", or "device-hours" when no price per device-hour is known
    workload: ServingWorkload
    options: tuple[PricedModel, ...]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def best(self) -> PricedModel:
        """The cheapest option in total; where another option lands on the same architecture and cost (the
        FLOP-priced size often rounds to the serving-priced one), the serving-priced option, which minimises
        that cost by construction."""
        cheapest = min(o.total_cost for o in self.options)
        tied = [o for o in self.options if o.total_cost <= cheapest * (1 + 1e-9)]
        return next((o for o in tied if o.label == "serving-priced"), tied[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "budget_flops": self.budget_flops,
            "target_loss": self.target_loss,
            "inference_tokens": self.inference_tokens,
            "serve_on": self.serve_on,
            "train_on": self.train_on,
            "unit": self.unit,
            "workload": asdict(self.workload),
            "options": [o.to_dict() for o in self.options],
            "best": self.best.to_dict(),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }

    def display_tables(self) -> list[Table]:
        return [self.table()]

    def table(self) -> Table:
        """The three options side by side (money in the result's unit)."""
        money = format_usd if self.unit == "USD" else (lambda v: f"{format_count(v)} device-h")
        per_million = (lambda v: f"${v:.3g}") if self.unit == "USD" else (lambda v: f"{v:.3g} device-h")
        rows = [
            (
                o.label,
                format_count(o.params),
                format_count(o.tokens),
                money(o.training_cost),
                money(o.serving_cost),
                money(o.total_cost),
                per_million(o.usd_per_million_output_tokens),
                f"TP {o.tp}, batch {o.batch}",
            )
            for o in self.options
        ]
        # every money cell carries its unit: dollars, or device-hours when no price was given
        headers = (
            "option",
            "params",
            "training tokens",
            "training cost",
            "serving cost",
            "total cost",
            "per 1M out tokens",
            "serving layout",
        )
        title = (
            f"Training + serving {format_count(self.inference_tokens)} tokens at loss "
            f"{format_loss(self.target_loss)}"
        )
        return Table.of(
            rows, headers, title=title, notes=self.notes + tuple(f"warning: {w}" for w in self.warnings)
        )


def training_tokens_for_loss(law: Law, params: float, loss: float) -> float:
    """Tokens that bring a ``params`` model to ``loss`` under ``law`` (inf if no amount of data does)."""
    lo, hi = 0.0, math.log(1e35)
    if float(law.predict(params, math.exp(hi))) > loss:
        return math.inf
    for _ in range(100):  # bisection in log D: the law's loss falls with D
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float(law.predict(params, math.exp(mid))) > loss else (lo, mid)
    return math.exp(hi)


@dataclass(frozen=True)
class _Pricing:
    """What prices one size: the law, the loss, the hardware and the workload (shared by every size)."""

    law: Law
    loss: float
    inference_tokens: float
    serve: Cluster
    train: Cluster
    train_mfu: float
    price: float | None  # None: each accelerator's catalog price
    workload: ServingWorkload
    assumptions: ServingAssumptions | None

    def priced(self, params: float, label: str) -> PricedModel | None:
        """``params`` rounded to an architecture, trained to the loss and served; None if it cannot be."""
        try:
            spec = shape_for_params(params)
        except ScalingError:
            return None  # too small for a standard shape with this vocabulary
        n = float(spec.params)
        tokens = training_tokens_for_loss(self.law, n, self.loss)
        if not math.isfinite(tokens):
            return None
        try:
            serving = cheapest_serving(
                spec,
                self.serve.accelerator,
                devices=self.serve.devices,
                workload=self.workload,
                price_usd_per_hour=self.price,
                assumptions=self.assumptions,
                keep=1,
            ).best
        except ScalingError:
            return None  # does not fit, or cannot meet the latency target
        flops = float(six_nd(n, tokens))
        training = compute_cost(
            flops,
            accelerator=self.train.accelerator,
            devices=self.train.devices,
            mfu=self.train_mfu,
            price_usd_per_hour=self.price,
        ).cost_usd
        w = self.workload
        share_in = w.prompt_tokens / w.context
        per_in = serving.usd_per_million_input_tokens / 1e6
        per_out = serving.usd_per_million_output_tokens / 1e6
        serving_cost = self.inference_tokens * (share_in * per_in + (1.0 - share_in) * per_out)
        return PricedModel(
            label=label,
            params=n,
            tokens=tokens,
            loss=self.loss,
            training_flops=flops,
            training_cost=float(training),
            serving_cost=serving_cost,
            usd_per_million_input_tokens=serving.usd_per_million_input_tokens,
            usd_per_million_output_tokens=serving.usd_per_million_output_tokens,
            tp=serving.tp,
            batch=serving.batch,
            decode_s_per_token=serving.decode_s_per_token,
        )

    def cheapest(self, sizes: np.ndarray) -> tuple[PricedModel | None, int]:
        priced = [self.priced(float(n), "serving-priced") for n in sizes]
        costs = [p.total_cost if p else math.inf for p in priced]
        i = int(np.argmin(costs))
        return priced[i], i


def _cluster(value: Cluster | str, what: str) -> Cluster:
    cluster = parse_cluster(value, what)
    if cluster.accelerator is None:
        raise ScalingError(f"{what} {str(value)!r} names no accelerator: write it as e.g. 8xH100")
    return cluster


def price_and_unit(price: float | None, serve: Cluster, train: Cluster) -> tuple[float | None, str]:
    """The price to pass on and the money unit: dollars when a price is given or both accelerators list
    one, else device-hours (price 1), which rank the sizes the same way when one accelerator does both."""
    if price is not None:
        return float(checks.positive(price, "price per device-hour")), "USD"
    listed = [c.accelerator.price_usd_per_hour for c in (serve, train)]
    return (None, "USD") if all(p is not None for p in listed) else (1.0, "device-hours")


def serving_aware_optimum(
    law: Law | str,
    flops: float,
    *,
    inference_tokens: float,
    serve_on: Cluster | str,
    train_on: Cluster | str | None = None,
    train_mfu: float = DEFAULT_MFU,
    price_usd_per_hour: float | None = None,
    workload: ServingWorkload | None = None,
    assumptions: ServingAssumptions | None = None,
) -> ServingAwareOptimum:
    """The model size that reaches L*(``flops``) at the least training plus serving cost (module doc).

    ``inference_tokens`` are the lifetime tokens served (prompt and generated, in the workload's ratio);
    ``serve_on`` is the serving deployment (e.g. ``8xH100``), ``train_on`` the training cluster (default:
    the serving accelerator). Returns the compute-optimal, FLOP-priced (Sardana et al. 2024) and
    serving-priced options, each trained to the same loss and priced by the same serving model.
    """
    law = get_law(law)
    budget = float(checks.positive(flops, "training budget (FLOPs)"))
    d_inf = float(checks.positive(inference_tokens, "inference tokens"))
    serve = _cluster(serve_on, "--serve-on")
    train = _cluster(train_on, "training cluster") if train_on is not None else serve
    price, unit = price_and_unit(price_usd_per_hour, serve, train)
    plain = law.optimal(budget)
    pricing = _Pricing(
        law,
        float(plain.loss),
        d_inf,
        serve,
        train,
        checks.utilization(train_mfu, "training MFU"),
        price,
        workload or ServingWorkload(),
        assumptions,
    )
    sardana = law.optimal(budget, inference_tokens=d_inf)
    options = [
        pricing.priced(float(plain.params), "compute-optimal"),
        pricing.priced(float(sardana.params), "flop-priced"),
    ]
    best = _search(pricing, float(plain.params), [o.params for o in options if o])
    if best is None:
        raise ScalingError(
            f"no model size reaching loss {format_loss(pricing.loss)} can be served on {serve} with "
            f"{pricing.workload.describe()}: serve on more or larger devices, or relax the target"
        )
    notes = (
        f"target loss {format_loss(pricing.loss)} = L*(C) of law {law.name} at C = {format_flops(budget)}; "
        "every option is rounded to an architecture and trained to it",
        f"training: 6ND FLOPs at {pricing.train_mfu:.0%} MFU on {train.accelerator.name}; serving on "
        f"{serve} at the cheapest batch and TP ({pricing.workload.prompt_tokens} prompt + "
        f"{pricing.workload.output_tokens} output tokens per request), priced by the serving roofline",
        "flop-priced: Sardana et al. 2024, the least 6·N·D_train + 2·N·D_inference FLOPs at the same loss",
    ) + (("no price per device-hour: costs are in device-hours",) if unit == "device-hours" else ())
    if assumptions is not None and assumptions.calibration is not None:
        notes += (calibration_note(assumptions.calibration, serve.accelerator.name),)
    warnings = tuple(
        f"the {label} model ({format_count(n)} params) cannot be served on {serve} "
        + (f"with {pricing.workload.describe()}" if pricing.workload.has_target else "(it does not fit)")
        for label, n, o in zip(("compute-optimal", "flop-priced"), (plain.params, sardana.params), options)
        if o is None
    )
    return ServingAwareOptimum(
        law=law.name,
        budget_flops=budget,
        target_loss=pricing.loss,
        inference_tokens=d_inf,
        serve_on=str(serve),
        train_on=str(train),
        unit=unit,
        workload=pricing.workload,
        options=tuple(o for o in options if o) + (best,),
        notes=notes,
        warnings=warnings,
    )


def _search(pricing: _Pricing, n_opt: float, extra: list[float]) -> PricedModel | None:
    """The cheapest size on a log grid up to the compute-optimal one (larger models cost more to train and
    to serve at the same loss), refined around the best grid point."""
    grid = np.unique(np.concatenate([np.geomspace(n_opt * SMALLEST_FRACTION, n_opt, GRID_POINTS), extra]))
    best, i = pricing.cheapest(grid)
    if best is None:
        return None
    fine = np.geomspace(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)], REFINE_POINTS)
    refined, _ = pricing.cheapest(fine)
    return refined if refined is not None and refined.total_cost < best.total_cost else best
