"""The question a plan answers, as typed values: `PlanRequest`, and `parse_plan_request` for raw input.

The options of a plan are declared once in `scaling.options.PLAN` (keyword, flag, parser, default, help);
`parse_plan_request` parses each given value once with its option's parser (strings such as ``"1.3M"``,
``"30d"``, ``"40%"``, ``"64x8xA100-40GB"`` become numbers and a `scaling.cluster.Cluster`), resolves the law
and the model, and `scaling.plan.build_plan` then composes without parsing anything. The rules for which
budgets may be combined live in `check_budget_choice`. ``scaling plan --from MODEL`` asks about continued
pretraining instead: `continued_request` turns the plan's options into the fine-tuning question.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from scaling.cluster import Cluster
from scaling.cost import DEFAULT_MFU, default_mfu
from scaling.errors import ScalingError
from scaling.laws.precision import precision_law_for
from scaling.options import PLAN, Parsed

if TYPE_CHECKING:
    from scaling.catalog import Accelerator
    from scaling.finetune.request import FinetuneRequest
    from scaling.laws import Law
    from scaling.model import ModelSpec

__all__ = [
    "DEFAULT_MFU",
    "PlanRequest",
    "budgets_given",
    "check_budget_choice",
    "continued_request",
    "parse_plan_request",
    "plan_request",
]

FOOTPRINT_NAMES = ("goodput", "pue", "grid_gco2_kwh")
DEFAULT_ACCELERATOR = "H100-SXM"
DEFAULT_VOCAB = 32000
DEFAULT_SEQ_LEN = 4096
DEFAULT_DAYS_WITHOUT_CLUSTER = 30.0  # without --gpus, the cluster is sized to train within this many days
# The JSON's echo of what a plan was asked keeps what it has always printed: these options as their parsed
# numbers, the others as given (the text typed, or the value passed).
ECHOED_AS_PARSED = ("flops", "params", "tokens", "seq_len", "vocab", "target_loss", "global_batch_tokens")
ALWAYS_ECHOED = ("dtype", "shape_style")  # assumptions every plan makes, echoed even at their defaults


@dataclass(frozen=True)
class PlanRequest:
    """Everything a plan is asked, already checked. Exactly one budget (see `check_budget_choice`):
    ``flops``; ``seconds`` on ``devices``; ``usd`` (at ``price``); ``gpu_hours``; ``target_loss``; a fixed
    model (``model`` or ``params``) with ``tokens``; or a fixed model alone (its own training tokens)."""

    law: Law
    accelerator: Accelerator
    devices: int | None = None
    devices_per_node: int | None = None
    accelerator_given: bool = True
    mfu: float = DEFAULT_MFU
    dtype: str = "bf16"
    flops: float | None = None
    seconds: float | None = None
    usd: float | None = None
    price: float | None = None
    gpu_hours: float | None = None
    target_loss: float | None = None
    model: ModelSpec | None = None
    params: float | None = None
    tokens: float | None = None
    unique_tokens: float | None = None
    inference_tokens: float | None = None
    max_params: float | None = None
    seq_len: int | None = None
    vocab: int | None = None
    global_batch_tokens: float | None = None
    hp_law: str | None = None  # scaling.recipe: None picks the law file's fitted one, else deepseek
    schedule: str = "cosine"
    decay_fraction: float | None = None
    downstream: str | None = None  # a map of scaling.recipe.downstream
    serve_on: Cluster | None = None
    shape_style: str = "llama"
    flash_attention: bool = True
    footprint: dict[str, float] = field(default_factory=dict)  # goodput, pue, grid_gco2_kwh (scaling.energy)
    calibration: Any = None  # a training `scaling.calibration.Calibration`: it predicts the MFU
    serving_calibration: Any = None  # a serving one: the efficiencies of the serving section
    calibration_notes: tuple[str, ...] = ()  # what the calibration set, for the assumptions
    post_quant: str | None = None  # the served weights' post-training quantization (int4, int8, fp8)
    precision_law: Any = None  # a `scaling.laws.precision.PrecisionLaw` pricing it in loss
    moe_law: Any = None  # with --moe: a `scaling.laws.moe.MoeLaw` (`scaling.plan.moe`)
    moe_law_fallback: tuple = ()  # the shipped laws tried in turn when the first one's model does not fit
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        """The vocabulary of a chosen shape: --vocab, else the law's own (a law fitted on byte-level runs has
        256), else `DEFAULT_VOCAB`."""
        return int(self.vocab or getattr(self.law, "vocab_size", None) or DEFAULT_VOCAB)

    @property
    def context(self) -> int:
        """The context of a chosen shape: --seq-len, else the law's own (a law fitted on runs knows the
        context they trained at), else `DEFAULT_SEQ_LEN`."""
        return int(self.seq_len or getattr(self.law, "seq_len", None) or DEFAULT_SEQ_LEN)

    @property
    def fixed_model(self) -> bool:
        """The model is given (a MODEL or --params): the plan answers for it instead of choosing one."""
        return self.model is not None or self.params is not None

    def with_budget(self, **changes: Any) -> PlanRequest:
        return replace(self, **changes)


def budgets_given(request: PlanRequest) -> list[str]:
    """The budget options present, by their flag names."""
    present = {
        "--flops": request.flops is not None,
        "--days": request.seconds is not None,
        "--usd": request.usd is not None,
        "--gpu-hours": request.gpu_hours is not None,
        "--target-loss": request.target_loss is not None,
        "--tokens": request.tokens is not None,
    }
    return [flag for flag, on in present.items() if on]


def check_budget_choice(request: PlanRequest) -> None:
    """The one rule for combining budgets: at most one, and a fixed model may stand alone."""
    if request.tokens is not None and not request.fixed_model:
        raise ScalingError("--tokens needs --params (or a MODEL): it asks about a given model")
    given = budgets_given(request)
    if len(given) > 1:
        raise ScalingError(f"contradictory budgets: {', '.join(given)} each fix the compute; give only one")
    if request.model is not None and request.params is not None:
        raise ScalingError("give either a MODEL or --params, not both")
    if request.fixed_model and request.max_params is not None:
        raise ScalingError(
            "--max-params limits the model the plan chooses: drop it when MODEL or --params is given"
        )
    if not given:
        if request.params is not None:
            raise ScalingError("--params needs --tokens, or a budget such as --gpus with --days")
        if request.model is not None and not request.model.training_tokens:
            raise ScalingError(
                f"{request.model.name} has no preset training tokens: give --tokens, or a budget such "
                "as --days"
            )
        if request.model is None:
            raise ScalingError(
                "no budget given: give one of --flops, --gpus with --days, --usd with --price, --gpu-hours, "
                "--target-loss, --params with --tokens, or a MODEL"
            )
    if request.serve_on is not None and not request.inference_tokens:
        raise ScalingError("--serve-on prices serving: give --inference-tokens as well (e.g. 2T)")
    if request.seconds is not None and request.devices is None:
        raise ScalingError("a time budget (--days) needs a cluster: give --gpus, e.g. --gpus 512xH100")


def parse_plan_request(**options: Any) -> PlanRequest:
    """A `PlanRequest` from the options of ``scaling plan`` as keywords (strings with units or numbers): the
    keywords of `scaling.options.PLAN`, each parsed once; an unknown one is a `TypeError` naming them all."""
    return plan_request(PLAN.parse(options))


def plan_request(values: Parsed) -> PlanRequest:
    """The `PlanRequest` for parsed `PLAN` options: the law and the model resolved, the accelerator of
    ``--gpus`` (`DEFAULT_ACCELERATOR` when it names none), and the budget rules checked."""
    from scaling.calibration.apply import by_side
    from scaling.catalog import get_accelerator
    from scaling.laws import get_law
    from scaling.model import load_model

    v = values
    cluster: Cluster | None = v.gpus
    training_calibration, serving_calibration = by_side(v.calibration)
    given = cluster is not None and cluster.accelerator is not None
    law = v.law if hasattr(v.law, "optimal") else get_law(v.law)
    request = PlanRequest(
        law=law,
        accelerator=cluster.accelerator
        if given
        else get_accelerator(DEFAULT_ACCELERATOR, v.accelerator_files),
        devices=None if cluster is None else cluster.devices,
        devices_per_node=None if cluster is None else cluster.devices_per_node,
        accelerator_given=given,
        mfu=v.mfu if "mfu" in v.given else default_mfu(v.dtype),
        dtype=v.dtype,
        flops=v.flops,
        seconds=v.days,
        usd=v.usd,
        price=v.price,
        gpu_hours=v.gpu_hours,
        target_loss=v.target_loss,
        model=None if v.model is None else load_model(v.model),
        params=v.params,
        tokens=v.tokens,
        unique_tokens=v.unique_tokens,
        inference_tokens=v.inference_tokens,
        max_params=v.max_params,
        seq_len=v.seq_len,
        vocab=v.vocab,
        global_batch_tokens=v.global_batch_tokens,
        hp_law=v.hp_law,
        schedule=v.schedule,
        decay_fraction=v.decay_fraction,
        downstream=v.downstream,
        serve_on=v.serve_on,
        shape_style=v.shape_style,
        flash_attention=v.flash_attention,
        footprint={"goodput": v.goodput, "pue": v.pue, "grid_gco2_kwh": v.grid_gco2_kwh},
        calibration=training_calibration,
        serving_calibration=serving_calibration,
        post_quant=v.post_quant,
        precision_law=precision_law_for(v.post_quant, v.precision_law),
        **_moe_laws(v.moe, v.moe_law),
        inputs=_inputs(law, values),
    )
    check_budget_choice(request)
    if training_calibration is not None:
        from scaling.calibration.apply import check_mfu_not_given

        check_mfu_not_given("mfu" in v.given)
    if serving_calibration is not None:
        serving_calibration.check_for(serving_accelerator(request, serving_calibration))
    return request


def serving_accelerator(request: PlanRequest, calibration: Any) -> Accelerator:
    """The accelerator a plan serves on: --serve-on's, or with --moe the training one (its default serving);
    a serving calibration for a plan with no serving section is refused in one line naming the file."""
    if request.serve_on is not None:
        return request.serve_on.accelerator
    if request.moe_law is not None:
        return request.accelerator
    raise ScalingError(
        f"{calibration.label} calibrates serving, and this plan serves nothing: give --serve-on (e.g. "
        "8xH100) with --inference-tokens, or drop that --calibration"
    )


def _moe_laws(moe: bool, name_or_path: str | None) -> dict[str, Any]:
    """The MoE law ``--moe`` plans by (`scaling.laws.moe.get_moe_law`: a preset, else a file) and, when
    none is named, the shipped laws after the first (`DEFAULT_MOE_LAWS`) to try when its model does not
    fit; ``--moe-law`` needs ``--moe``."""
    if not moe and name_or_path is None:
        return {}
    from scaling.laws.moe import DEFAULT_MOE_LAWS, get_moe_law

    if not moe:
        raise ScalingError("--moe-law needs --moe (the MoE plan it drives)")
    if name_or_path is not None:
        return {"moe_law": get_moe_law(name_or_path)}
    first, *rest = (get_moe_law(name) for name in DEFAULT_MOE_LAWS)
    return {"moe_law": first, "moe_law_fallback": tuple(rest)}


def _inputs(law: Law, values: Parsed) -> dict[str, Any]:
    """The options as asked, for the JSON output (so a plan says what it was asked)."""
    out: dict[str, Any] = {}
    echoed_last = ("serve_on", "law", "gpus", "model")  # where the JSON has always had them
    for name in sorted(PLAN.names, key=lambda n: echoed_last.index(n) + 1 if n in echoed_last else 0):
        if name in ("flash_attention", "accelerator_files", "calibration") or (
            name in FOOTPRINT_NAMES and name not in values.given
        ):
            continue
        if name == "law":
            out[name] = law.name
        elif name in values.given:
            given = values.raw[name]
            out[name] = values[name] if name in ECHOED_AS_PARSED else given
        elif name in ALWAYS_ECHOED:
            out[name] = values[name]
    if "model" in out and not isinstance(out["model"], str):
        out["model"] = getattr(out["model"], "name", str(out["model"]))
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in out.items()}


def continued_request(from_model: Any, values: Parsed, *, html_path: str | None = None) -> FinetuneRequest:
    """``scaling plan --from MODEL``: continued pretraining of MODEL on ``--unique-tokens`` of domain data on
    ``--gpus``, the question ``scaling finetune MODEL --continued`` asks (`scaling.finetune.request.
    plan_finetune_request` answers both). The plan's other budgets do not apply to it."""
    from scaling.finetune.request import FinetuneRequest

    others = {
        "MODEL": values.model,
        "--flops": values.flops,
        "--usd": values.usd,
        "--gpu-hours": values.gpu_hours,
        "--params": values.params,
        "--target-loss": values.target_loss,
        "--serve-on": values.serve_on,
        "--html": html_path,
    }
    given = [flag for flag, value in others.items() if value is not None]
    if given:
        raise ScalingError(f"--from plans continued pretraining of a given model: drop {', '.join(given)}")
    if values.unique_tokens is None or values.gpus is None:
        raise ScalingError(
            "--from needs --unique-tokens (the domain data, e.g. 50B) and --gpus (e.g. 64xH100)"
        )
    return FinetuneRequest(
        model=from_model,
        cluster=values.gpus,
        continued=True,
        unique_tokens=values.unique_tokens,
        tokens=values.tokens,
        seq_len=values.seq_len,
        seconds=values.days,
        mfu=values.mfu,
        price_usd_per_hour=values.price,
        footprint={"goodput": values.goodput, "pue": values.pue, "grid_gco2_kwh": values.grid_gco2_kwh},
    )


def serving_assumptions(request: PlanRequest) -> Any:
    """The serving roofline's assumptions for the plan's serving section: a serving calibration's
    efficiencies (``--calibration`` of kind serving), else the defaults (None)."""
    if request.serving_calibration is None:
        return None
    from scaling.serving import ServingAssumptions

    return ServingAssumptions(calibration=request.serving_calibration)


def serving_calibration_notes(request: PlanRequest) -> tuple[str, ...]:
    """The assumptions' line saying which serving efficiencies came from which file."""
    if request.serving_calibration is None:
        return ()
    from scaling.serving.efficiency import calibration_note

    return (calibration_note(request.serving_calibration),)
