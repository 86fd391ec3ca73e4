"""The question a plan answers, as typed values: `PlanRequest`, and `parse_plan_request` for raw input.

Parsing happens here once (strings such as ``"1.3M"``, ``"30d"``, ``"40%"``, ``"64x8xA100-40GB"`` become
numbers, a cluster, a law and a model); `scaling.plan.build_plan` then composes without parsing anything.
The rules for which budgets may be combined live in `check_budget_choice`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from scaling import checks, units
from scaling.cost import DEFAULT_MFU
from scaling.errors import ScalingError

if TYPE_CHECKING:
    from scaling.catalog import Accelerator
    from scaling.laws import Law
    from scaling.model import ModelSpec

DEFAULT_ACCELERATOR = "H100-SXM"
DEFAULT_VOCAB = 32000
DEFAULT_SEQ_LEN = 4096
DEFAULT_DAYS_WITHOUT_CLUSTER = 30.0  # without --gpus, the cluster is sized to train within this many days
SHAPE_STYLES = ("llama", "gpt")
DTYPES = ("bf16", "fp16", "fp8", "tf32", "fp32")


@dataclass(frozen=True)
class PlanRequest:
    """Everything a plan is asked, already checked. Exactly one budget (see `check_budget_choice`):
    ``flops``; ``seconds`` on ``devices``; ``usd`` (at ``price``); ``gpu_hours``; ``target_loss``; a fixed
    model (``model`` or ``params``) with ``tokens``; or a fixed model alone (its own training tokens)."""

    law: Law
    accelerator: Accelerator
    devices: int | None = None
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
    serve_on: units.ClusterSpec | None = None
    shape_style: str = "llama"
    flash_attention: bool = True
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        """The vocabulary of a chosen shape: --vocab, else the law's own (a law fitted on byte-level runs has
        256), else `DEFAULT_VOCAB`."""
        return int(self.vocab or getattr(self.law, "vocab_size", None) or DEFAULT_VOCAB)

    @property
    def context(self) -> int:
        """The context of a chosen shape: --seq-len, else the law's own (a law fitted on runs knows the context
        they trained at), else `DEFAULT_SEQ_LEN`."""
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
                f"{request.model.name} has no preset training tokens: give --tokens, or a budget such as --days"
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


def _optional(value: Any, parse: Any, what: str, **kwargs: Any) -> Any:
    return None if value is None else parse(value, what, **kwargs)


def _cluster(gpus: Any, accelerator_files: tuple[str, ...]) -> tuple[Accelerator, int | None, bool]:
    from scaling.catalog import get_accelerator

    cluster = units.parse_cluster(gpus, "--gpus") if isinstance(gpus, str) else gpus
    name = cluster.accelerator if cluster is not None and cluster.accelerator else DEFAULT_ACCELERATOR
    accelerator = get_accelerator(name, accelerator_files)
    given = cluster is not None and cluster.accelerator is not None
    return accelerator, (cluster.devices if cluster is not None else None), given


def parse_plan_request(
    *,
    law: Any = "chinchilla",
    gpus: Any = None,
    model: Any = None,
    accelerator_files: tuple[str, ...] = (),
    **options: Any,
) -> PlanRequest:
    """A `PlanRequest` from the options of ``scaling plan`` (strings with units or numbers).

    Options: ``flops``, ``days``, ``mfu``, ``usd``, ``price``, ``gpu_hours``, ``target_loss``, ``params``,
    ``tokens``, ``unique_tokens``, ``inference_tokens``, ``max_params``, ``seq_len``, ``vocab``,
    ``global_batch_tokens``, ``serve_on``, ``dtype``, ``shape_style``, ``flash_attention``.
    """
    from scaling.laws import get_law
    from scaling.model import load_model

    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ScalingError(
            f"unknown plan option {unknown[0]!r}: expected one of {', '.join(sorted(_OPTIONS))}"
        )
    o = {k: v for k, v in options.items() if v is not None}
    accelerator, devices, accelerator_given = _cluster(gpus, tuple(accelerator_files))
    law_obj = law if hasattr(law, "optimal") else get_law(law)
    spec = None if model is None else load_model(model)
    request = PlanRequest(
        law=law_obj,
        accelerator=accelerator,
        devices=devices,
        accelerator_given=accelerator_given,
        mfu=_optional(o.get("mfu"), units.parse_fraction, "--mfu") or DEFAULT_MFU,
        dtype=checks.choice(o.get("dtype", "bf16"), DTYPES, "--dtype"),
        flops=_optional(o.get("flops"), units.parse_flops, "--flops"),
        seconds=_optional(o.get("days"), units.parse_duration, "--days"),
        usd=_optional(o.get("usd"), units.parse_money, "--usd"),
        price=_optional(o.get("price"), units.parse_money, "--price"),
        gpu_hours=_optional(o.get("gpu_hours"), units.parse_count, "--gpu-hours"),
        target_loss=_optional(o.get("target_loss"), checks.positive, "--target-loss"),
        model=spec,
        params=_optional(o.get("params"), units.parse_count, "--params"),
        tokens=_optional(o.get("tokens"), units.parse_count, "--tokens"),
        unique_tokens=_optional(o.get("unique_tokens"), units.parse_count, "--unique-tokens"),
        inference_tokens=_optional(
            o.get("inference_tokens"), units.parse_count, "--inference-tokens", allow_zero=True
        ),
        max_params=_optional(o.get("max_params"), units.parse_count, "--max-params"),
        seq_len=_optional(o.get("seq_len"), checks.positive_int, "--seq-len"),
        vocab=_optional(o.get("vocab"), checks.positive_int, "--vocab"),
        global_batch_tokens=_optional(
            o.get("global_batch_tokens"), units.parse_count, "--global-batch-tokens"
        ),
        serve_on=_serve_on(o.get("serve_on")),
        shape_style=checks.choice(o.get("shape_style", "llama"), SHAPE_STYLES, "--style"),
        flash_attention=bool(o.get("flash_attention", True)),
        inputs=_inputs(law_obj, gpus, model, o),
    )
    check_budget_choice(request)
    return request


def _serve_on(value: Any) -> units.ClusterSpec | None:
    if value is None or isinstance(value, units.ClusterSpec):
        return value
    cluster = units.parse_cluster(value, "--serve-on")
    if cluster.accelerator is None:
        raise ScalingError(f"invalid --serve-on {value!r}: name the accelerator, e.g. 8xH100")
    return cluster


_OPTIONS = {
    "serve_on",
    "flops",
    "days",
    "mfu",
    "usd",
    "price",
    "gpu_hours",
    "target_loss",
    "params",
    "tokens",
    "unique_tokens",
    "inference_tokens",
    "max_params",
    "seq_len",
    "vocab",
    "global_batch_tokens",
    "dtype",
    "shape_style",
    "flash_attention",
}


def _inputs(law: Law, gpus: Any, model: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The options as given, for the JSON output (so a plan says what it was asked)."""
    out: dict[str, Any] = {k: v for k, v in options.items() if k != "flash_attention"}
    out["law"] = law.name
    if gpus is not None:
        out["gpus"] = str(gpus)
    if model is not None:
        out["model"] = model if isinstance(model, str) else getattr(model, "name", str(model))
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in out.items()}
