"""The question ``scaling finetune`` asks (and ``scaling plan --from``, continued pretraining), as typed
values: `FinetuneRequest`, built from the options of `scaling.options.FINETUNE`; `plan_finetune_request`
answers it with `scaling.finetune.plan_finetune` or `scaling.finetune.plan_continued_pretraining`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from scaling.cluster import Cluster
from scaling.energy import footprint
from scaling.errors import ScalingError
from scaling.finetune.continued_pretraining import (
    DEFAULT_REPLAY_FRACTION,
    ContinuedPretrainingPlan,
    plan_continued_pretraining,
)
from scaling.finetune.plan import QUANT_TIME_FACTOR, plan_finetune
from scaling.finetune.result import FinetunePlan
from scaling.model import ModelSpec
from scaling.options import FINETUNE, Parsed


@dataclass(frozen=True)
class FinetuneRequest:
    """What ``scaling finetune`` asks, parsed (`scaling.options.FINETUNE`): a fine-tune of ``model`` on
    ``cluster`` (full, LoRA with ``lora_rank``, QLoRA with ``quant``), or with ``continued`` continued
    pretraining on ``unique_tokens`` of domain data, as ``scaling plan --from`` asks it too. ``mfu`` None
    is the library's default (`scaling.finetune.default_mfu`: lower for a quantized base)."""

    model: ModelSpec | str
    cluster: Cluster
    tokens: float | None = None
    full: bool = False
    lora_rank: int | None = None
    lora_targets: tuple[str, ...] | str = "q,k,v,o"
    quant: str | None = None
    mfu: float | None = None
    price_usd_per_hour: float | None = None
    epochs: float | None = None
    seq_len: int | None = None
    global_batch: int | None = None
    precision: str = "bf16"
    optimizer: str = "adamw"
    convention: str = "6nd"
    quant_time_factor: float | None = None
    recompute: str | None = None
    continued: bool = False
    seconds: float | None = None
    unique_tokens: float | None = None
    replay_fraction: float | None = None
    footprint: dict[str, float] = field(default_factory=dict)  # goodput, pue, grid_gco2_kwh (scaling.energy)
    calibration: Any = None  # a training calibration: it predicts the MFU (scaling.calibration)

    @classmethod
    def of(cls, values: Parsed) -> FinetuneRequest:
        """The request for parsed `FINETUNE` options (flag names to field names)."""
        v = values
        return cls(
            model=v.model,
            cluster=v.gpus,
            tokens=v.tokens,
            full=v.full,
            lora_rank=v.lora_rank,
            lora_targets=v.lora_targets,
            quant=v.quant,
            mfu=v.mfu if "mfu" in v.given else None,
            price_usd_per_hour=v.price,
            epochs=v.epochs,
            seq_len=v.seq_len,
            global_batch=v.global_batch,
            precision=v.precision,
            optimizer=v.optimizer,
            convention=v.convention,
            quant_time_factor=v.dequant_factor,
            recompute=v.recompute,
            continued=v.continued,
            seconds=v.days,
            unique_tokens=v.unique_tokens,
            replay_fraction=v.replay,
            footprint={"goodput": v.goodput, "pue": v.pue, "grid_gco2_kwh": v.grid_gco2_kwh},
            calibration=v.calibration,
        )


def finetune_request(**options: Any) -> FinetuneRequest:
    """A `FinetuneRequest` from the options of ``scaling finetune`` as keywords (strings with units or
    numbers), each parsed once; an unknown keyword is a `TypeError` naming the accepted ones."""
    return FinetuneRequest.of(FINETUNE.parse(options))


def plan_finetune_request(request: FinetuneRequest) -> FinetunePlan | ContinuedPretrainingPlan:
    """The answer to a `FinetuneRequest`: `plan_continued_pretraining` with ``continued``, else
    `plan_finetune`; ``scaling finetune`` and ``scaling plan --from`` both ask here. The run's energy,
    emissions and goodput are `scaling.energy.footprint` of its device-hours."""
    notes: tuple[str, ...] = ()
    if request.calibration is not None:
        request, notes = _calibrated(request)
    result = _planned(request)
    run = result.training if isinstance(result, ContinuedPretrainingPlan) else result
    used = footprint(
        request.cluster.accelerator, device_hours=run.gpu_hours, seconds=run.seconds, **request.footprint
    )
    run = replace(run, footprint=used, notes=[*run.notes, *notes])
    return replace(result, training=run) if isinstance(result, ContinuedPretrainingPlan) else run


def _calibrated(request: FinetuneRequest) -> tuple[FinetuneRequest, tuple[str, ...]]:
    """The request at the MFU a training calibration predicts for a full pass of this model on this cluster
    (adapters and a quantized base change the step; the calibration measured full training)."""
    from scaling.calibration.apply import check_mfu_not_given, run_mfu
    from scaling.model import load_model

    check_mfu_not_given(request.mfu is not None)
    spec = request.model if isinstance(request.model, ModelSpec) else load_model(request.model)
    seq = request.seq_len or min(spec.n_ctx, 4096)
    tokens = request.tokens or request.unique_tokens or 1e9
    mfu, note = run_mfu(
        request.calibration,
        spec,
        request.cluster,
        seq_len=seq,
        flops=6.0 * spec.params * tokens,
        dtype=request.precision,
    )
    return replace(request, mfu=mfu, calibration=None), (note,)


def _planned(request: FinetuneRequest) -> FinetunePlan | ContinuedPretrainingPlan:
    r = request
    if r.cluster.accelerator is None:
        raise ScalingError(f"--gpus {r.cluster} names no accelerator: write it as 8xH100 or 1xA100-80GB")
    if r.full and (r.lora_rank is not None or r.quant is not None):
        raise ScalingError("--full trains every weight: drop --lora-rank/--quant, or drop --full for LoRA")
    run = dict(
        accelerator=r.cluster.accelerator,
        devices=r.cluster.devices,
        seq_len=r.seq_len,
        global_batch=r.global_batch,
        mfu=r.mfu,
        price_usd_per_hour=r.price_usd_per_hour,
        precision=r.precision,
        optimizer=r.optimizer,
    )
    if r.continued:
        if r.unique_tokens is None:
            raise ScalingError("--continued needs --unique-tokens, the domain data (e.g. 50B)")
        if r.lora_rank is not None or r.quant is not None:
            raise ScalingError(
                "--continued trains every weight (continued pretraining): drop --lora-rank/--quant"
            )
        return plan_continued_pretraining(
            r.model,
            unique_tokens=r.unique_tokens,
            tokens=r.tokens,
            epochs=r.epochs,
            seconds=r.seconds,
            replay_fraction=DEFAULT_REPLAY_FRACTION if r.replay_fraction is None else r.replay_fraction,
            **run,
        )
    if r.unique_tokens is not None or r.replay_fraction is not None or r.seconds is not None:
        raise ScalingError(
            "--unique-tokens, --replay and --days belong to --continued (continued pretraining)"
        )
    if r.tokens is None:
        raise ScalingError("give --tokens, the size of the fine-tuning data (e.g. 100M)")
    return plan_finetune(
        r.model,
        tokens=r.tokens,
        lora_rank=r.lora_rank,
        lora_targets=r.lora_targets,
        quant=r.quant,
        epochs=1.0 if r.epochs is None else r.epochs,
        convention=r.convention,
        recompute=r.recompute,
        quant_time_factor=QUANT_TIME_FACTOR if r.quant_time_factor is None else r.quant_time_factor,
        **run,
    )
