"""Continued pretraining (domain adaptation): the tokens to spend, what the data-constrained law makes of the
repeats, and the run, a full fine-tune (`plan_finetune`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scaling import checks
from scaling.catalog import Accelerator
from scaling.cost import DEFAULT_MFU, flops_from_time
from scaling.errors import ScalingError
from scaling.finetune.plan import DEFAULT_MAX_SEQ_LEN, plan_finetune
from scaling.finetune.result import FinetunePlan
from scaling.finetune.tables import continued_tables
from scaling.flops import training_flops
from scaling.laws import effective_data, epochs_warning, get_law
from scaling.layout import batch_for_layout, default_global_batch
from scaling.model import ModelSpec, load_model
from scaling.render import Displayable, Table

DEFAULT_REPLAY_FRACTION = 0.05  # Ibrahim et al. 2024: 5% replay of the original data for a weak shift

# What published domain-adaptation work found about mixing general data into continued pretraining.
DOMAIN_ADAPTATION_FINDINGS = (
    "Gururangan et al. 2020 ('Don't Stop Pretraining', ACL): a second phase of pretraining on in-domain text "
    "(DAPT) improved RoBERTa in all four domains tried (biomedical, computer science, news, reviews); "
    "further pretraining on the task's own unlabeled text (TAPT) added to it; pretraining on an unrelated "
    "domain instead did worse than on the relevant one.",
    "Ibrahim et al. 2024 ('Simple and Scalable Strategies to Continually Pre-train Large Language Models', "
    "TMLR): re-warming and re-decaying the learning rate plus replaying a share of the original pretraining "
    "data matched re-training from scratch on all the data; 5% replay sufficed for a weak shift "
    "(English to English) and a strong shift (English to German) needed more (25%).",
    "Gupta et al. 2023 ('Continual Pre-Training of Large Language Models: How to (re)warm your model?'): "
    "re-warming the learning rate first raises the loss, then in the longer run improves it on the new data, "
    "ending better than a model trained from scratch on that data.",
)


@dataclass(frozen=True)
class ContinuedPretrainingPlan(Displayable):
    """Domain adaptation of a pretrained model: the tokens to spend, the epochs over the domain data, what the
    data-constrained law makes of the repeats, and the run's time and cost (``training``, a full fine-tune).

    ``domain_tokens`` = ``epochs`` x ``unique_tokens``; ``general_tokens`` is the replayed general data, a
    ``replay_fraction`` share of the ``tokens`` trained. ``effective_domain_tokens`` is Muennighoff et al.
    2023's D' (Eq. 5): what the repeated domain tokens are worth as fresh ones.
    """

    model: str
    unique_tokens: float
    epochs: float
    domain_tokens: float
    replay_fraction: float
    general_tokens: float
    tokens: float
    effective_domain_tokens: float
    repeat_value: float
    law: str
    training: FinetunePlan
    findings: tuple[str, ...] = DOMAIN_ADAPTATION_FINDINGS
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def display_tables(self) -> list[Table]:
        return continued_tables(self)

    def to_dict(self) -> dict[str, Any]:
        """The data keys, then the run's own keys (``flops``, ``seconds``, ``cost_usd``, ``memory``,
        ``layout`` ...)."""
        run = self.training.to_dict()
        data = {
            k: getattr(self, k)
            for k in (
                "model",
                "unique_tokens",
                "epochs",
                "domain_tokens",
                "replay_fraction",
                "general_tokens",
                "tokens",
                "effective_domain_tokens",
                "repeat_value",
                "law",
            )
        }
        return {
            **run,
            **data,
            "findings": list(self.findings),
            "notes": self.notes + run["notes"],
            "warnings": self.warnings + run["warnings"],
        }


def plan_continued_pretraining(
    model: ModelSpec | str,
    *,
    unique_tokens: float,
    accelerator: str | Accelerator,
    devices: int = 1,
    tokens: float | None = None,
    flops: float | None = None,
    seconds: float | None = None,
    epochs: float | None = None,
    replay_fraction: float = DEFAULT_REPLAY_FRACTION,
    seq_len: int | None = None,
    global_batch: int | None = None,
    mfu: float | None = None,
    price_usd_per_hour: float | None = None,
    precision: str = "bf16",
    optimizer: str = "adamw",
    law: str = "muennighoff",
) -> ContinuedPretrainingPlan:
    """Plan continued pretraining of ``model`` on ``unique_tokens`` of domain data, mixed with general data.

    The tokens to train (domain + replay) come from one of: ``tokens``; a compute budget ``flops`` (6ND under
    `training_flops`); a deadline ``seconds`` (as many tokens as the layout's step model trains in it); or
    ``epochs`` over the domain data (default 1). A ``replay_fraction`` of the tokens is general data (Ibrahim
    et al. 2024: 5% for a weak shift). Repeats beyond ~4 epochs draw `scaling.laws.epochs_warning`; ``law``
    (a data-constrained preset) values the repeats (Muennighoff et al. 2023, Eq. 5).
    """
    spec = load_model(model)
    unique = float(checks.positive(unique_tokens, "unique domain tokens"))
    replay = checks.fraction(replay_fraction, "replay fraction", allow_zero=True)
    if replay >= 1.0:
        raise ScalingError(
            f"invalid replay fraction {replay_fraction!r}: expected a fraction in [0, 1) such as 0.05"
        )
    constants = get_law(law)
    r_d_star = getattr(constants, "R_D_star", None)  # only data-constrained laws value repeated tokens
    if r_d_star is None or not math.isfinite(r_d_star):
        raise ScalingError(
            f"law {law!r} has no repeated-data constant R_D*: use a data-constrained law ('muennighoff')"
        )
    run = dict(
        accelerator=accelerator,
        devices=devices,
        seq_len=seq_len,
        mfu=mfu,
        price_usd_per_hour=price_usd_per_hour,
        precision=precision,
        optimizer=optimizer,
    )
    total = _tokens_to_train(
        spec, unique, replay, tokens=tokens, flops=flops, seconds=seconds, epochs=epochs, **run
    )
    batch, notes = _pretraining_batch(
        spec, total, devices=devices, seq_len=seq_len, global_batch=global_batch
    )
    training = plan_finetune(spec, tokens=total, global_batch=batch, **run)
    if seconds is not None:  # the deadline: the tokens the step model trains in it (contract of the plan)
        total = float(seconds) * training.tokens_per_s
        training = plan_finetune(spec, tokens=total, global_batch=batch, **run)
        notes.append(
            f"tokens sized so that the layout's step time fills the deadline ({seconds / 86400:.3g} days)"
        )
    domain = total * (1.0 - replay)
    effective = float(effective_data(domain, unique, r_d_star))
    warning = epochs_warning(domain, unique)
    return ContinuedPretrainingPlan(
        model=spec.name,
        unique_tokens=unique,
        epochs=domain / unique,
        domain_tokens=domain,
        replay_fraction=replay,
        general_tokens=total - domain,
        tokens=total,
        effective_domain_tokens=effective,
        repeat_value=effective / domain,
        law=constants.name,
        training=training,
        notes=notes,
        warnings=[warning] if warning else [],
    )


def _tokens_to_train(
    spec: ModelSpec,
    unique: float,
    replay: float,
    *,
    tokens: float | None,
    flops: float | None,
    seconds: float | None,
    epochs: float | None,
    **run: Any,
) -> float:
    """All tokens of a continued-pretraining run (domain + replay) from the one budget given."""
    given = [
        n
        for n, v in (("tokens", tokens), ("flops", flops), ("seconds", seconds), ("epochs", epochs))
        if v is not None
    ]
    if len(given) > 1:
        raise ScalingError(
            f"give one of tokens, a compute budget, a deadline or epochs, not {' and '.join(given)}"
        )
    per_token = training_flops(spec, 1.0).flops_per_token
    if tokens is not None:
        return float(checks.positive(tokens, "token count"))
    if flops is not None:
        return float(checks.positive(flops, "compute budget")) / per_token
    if seconds is not None:  # devices x peak x MFU x time (end-to-end MFU): what the deadline buys
        delivered = flops_from_time(
            accelerator=run["accelerator"],
            devices=run["devices"],
            mfu=DEFAULT_MFU if run["mfu"] is None else run["mfu"],
            seconds=checks.positive(seconds, "deadline"),
            dtype=run["precision"],
        )
        return float(delivered) / per_token
    return unique * float(checks.positive(1.0 if epochs is None else epochs, "epochs")) / (1.0 - replay)


def _pretraining_batch(
    spec: ModelSpec, tokens: float, *, devices: int, seq_len: int | None, global_batch: int | None
) -> tuple[int | None, list[str]]:
    """The global batch of a continued-pretraining run: the one given, else the plan's pretraining default,
    DeepSeek LLM's B_opt(C) (`scaling.layout.default_global_batch`), in sequences rounded to a multiple of the
    devices (`scaling.layout.batch_for_layout`)."""
    if global_batch is not None:
        return global_batch, []

    seq = seq_len or min(spec.n_ctx, DEFAULT_MAX_SEQ_LEN)
    target = default_global_batch(spec, tokens, seq)
    sequences = target.sequences(seq)
    batch = int(batch_for_layout(sequences, checks.positive_int(devices, "device count")))
    return batch, [f"global batch {batch:,} sequences: {target.reason}, a multiple of the devices"]
