"""`Recipe`: the hyperparameters of one training run, each with its source, and `training_recipe`, the one
function that composes them: the chosen learning-rate/batch law (`scaling.recipe.hyperparameters`), the
schedule and warmup (`scaling.recipe.schedule`) and AdamW's constants.

The chosen law's B_opt is the run's default global batch (`batch_target`, which `scaling.layout`'s default
batch calls); a layout then rounds it to a multiple of its DP x micro-batch, and the recipe reports the
rounded batch the run will use beside the law's target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scaling import checks, units
from scaling.errors import ScalingError
from scaling.recipe.hyperparameters import PUBLISHED, SPREAD, HyperparameterLaw, Hyperparameters, RunShape
from scaling.recipe.schedule import WARMUP_SOURCE, AdamW, Schedule, make_schedule

if TYPE_CHECKING:
    from scaling.model import ModelSpec

HP_LAWS = ("deepseek", "steplaw", "law")  # ``law``: the constants fitted into the --law file
DEFAULT_HP_LAW = "deepseek"


@dataclass(frozen=True)
class Recipe:
    """Peak learning rate, global batch, schedule and AdamW for one run; ``chosen`` is the law used,
    ``others`` the laws beside it (printed where they disagree by more than `SPREAD`)."""

    chosen: Hyperparameters
    others: tuple[Hyperparameters, ...]
    why: str
    batch_tokens: float  # the run's global batch (a layout's rounding of the law's target)
    seq_len: int
    schedule: Schedule
    adam: AdamW = field(default_factory=AdamW)

    @property
    def learning_rate(self) -> float:
        return self.chosen.learning_rate

    @property
    def batch_sequences(self) -> int:
        return max(1, round(self.batch_tokens / self.seq_len))

    @property
    def disagreements(self) -> tuple[Hyperparameters, ...]:
        """The other laws whose learning rate or batch differs from the chosen one's by more than
        `SPREAD` times."""
        return tuple(o for o in self.others if disagreement(self.chosen, o) > SPREAD)

    def to_dict(self) -> dict[str, Any]:
        """The recipe's JSON: the stable keys learning_rate, warmup_steps, schedule, global_batch_tokens,
        adam and hp_law, with each law's own answer under ``hp_laws``."""
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.schedule.warmup_steps,
            "schedule": self.schedule.to_dict(),
            "global_batch_tokens": self.batch_tokens,
            "global_batch_sequences": self.batch_sequences,
            "adam": self.adam.to_dict(),
            "hp_law": self.chosen.law,
            "hp_law_why": self.why,
            "hp_laws": [self.chosen.to_dict(), *(o.to_dict() for o in self.others)],
            "hp_laws_disagree": [o.law for o in self.disagreements],
            "hp_spread": SPREAD,
        }

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) rows: every number with its unit and source; another law's values where they
        disagree with the chosen one's by more than `SPREAD` times."""
        c, s, a = self.chosen, self.schedule, self.adam
        interval = ""
        if c.learning_rate_interval:
            low, high = c.learning_rate_interval
            interval = f" ({format_lr(low)}-{format_lr(high)})"
        rows = [
            ("peak learning rate", f"{format_lr(c.learning_rate)}{interval} ({c.law}: {c.inputs})"),
            (
                "global batch",
                f"{units.format_count(self.batch_tokens)} tokens = {self.batch_sequences:,} sequences x "
                f"{self.seq_len:,} tokens ({c.law}'s B_opt {units.format_count(c.batch_tokens)} tokens, "
                "rounded to the layout)",
            ),
            ("hyperparameter law", f"{c.law}, {self.why} ({c.source})"),
        ]
        for other in self.others:
            if other in self.disagreements:
                rows.append(
                    (
                        f"  {other.law} (differs > {SPREAD:g}x)",
                        f"learning rate {format_lr(other.learning_rate)}, batch "
                        f"{units.format_count(other.batch_tokens)} tokens ({other.inputs}; {other.source})",
                    )
                )
            else:
                rows.append(
                    (
                        f"  {other.law}",
                        f"agrees within {SPREAD:g}x ({format_lr(other.learning_rate)}, "
                        f"{units.format_count(other.batch_tokens)} tokens)",
                    )
                )
        rows += [
            (
                "warmup",
                f"{s.warmup_steps:,} steps = {units.format_count(s.warmup_steps * self.batch_tokens)} tokens "
                f"({WARMUP_SOURCE})",
            ),
            ("schedule", f"{s.describe()} ({s.source})"),
            (
                "AdamW",
                f"beta1 {a.beta1:g}, beta2 {a.beta2:g}, eps {format_lr(a.eps)}, weight decay "
                f"{a.weight_decay:g}, gradient clipping {a.grad_clip:g} ({a.source})",
            ),
        ]
        return rows


def format_lr(value: float) -> str:
    """A learning rate as 3.35e-4."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def disagreement(one: Hyperparameters, other: Hyperparameters) -> float:
    """The larger of the two laws' learning-rate and batch ratios (>= 1)."""
    lr = one.learning_rate / other.learning_rate
    batch = one.batch_tokens / other.batch_tokens
    return max(lr, 1 / lr, batch, 1 / batch)


def parse_hp_law(value: Any, what: str = "--hp-law") -> str:
    return checks.choice(str(value).strip().lower(), HP_LAWS, what)


def hp_laws(law: Any = None) -> dict[str, HyperparameterLaw]:
    """The hyperparameter laws a run may use: the published ones, and the ``law`` file's fitted ones when
    it carries them (``scaling fit RUNS --hyperparameters``)."""
    from scaling.recipe.fitted import fitted_hyperparameters

    laws: dict[str, HyperparameterLaw] = dict(PUBLISHED)
    fitted = fitted_hyperparameters(law)
    if fitted is not None:
        laws["law"] = fitted
    return laws


def choose_hp_law(choice: str | None, law: Any = None) -> tuple[HyperparameterLaw, str]:
    """The law a run uses and why: ``choice`` when given; else the ``law`` file's own fitted constants
    when it has them; else DeepSeek LLM's (the plan's default batch since before the recipe)."""
    laws = hp_laws(law)
    if choice is not None:
        name = parse_hp_law(choice)
        if name not in laws:
            raise ScalingError(
                "--hp-law law: the --law file carries no fitted learning-rate/batch laws; fit them with "
                "'scaling fit RUNS --hyperparameters -o law.json', or use --hp-law deepseek or steplaw"
            )
        return laws[name], "chosen with --hp-law"
    if "law" in laws:
        return laws["law"], "fitted on the --law file's own runs (default when the law carries them)"
    return laws[DEFAULT_HP_LAW], "the default (--hp-law steplaw for Step Law's)"


def batch_target(
    spec: ModelSpec, tokens: float, seq_len: int | None = None, hp_law: str | None = None, law: Any = None
) -> tuple[float, str]:
    """The default global batch in tokens of a run and why: the chosen law's B_opt (one rule for the plan,
    ``memory --search``, ``finetune`` and the app)."""
    rule, _ = choose_hp_law(hp_law, law)
    run = RunShape.of(spec, tokens, seq_len)
    answer = rule.answer(run)
    return answer.batch_tokens, f"{rule.name} B_opt ({answer.inputs}): {rule.source}"


def training_recipe(
    spec: ModelSpec,
    tokens: float,
    *,
    seq_len: int | None = None,
    batch_tokens: float | None = None,
    hp_law: str | None = None,
    law: Any = None,
    schedule: str = "cosine",
    decay_fraction: float | None = None,
) -> Recipe:
    """The recipe for training ``spec`` on ``tokens``: the chosen law's peak learning rate (and the other
    laws' beside it), the global batch (``batch_tokens`` as a layout rounded it, else the law's B_opt), the
    schedule over the run's steps and AdamW."""
    rule, why = choose_hp_law(hp_law, law)
    run = RunShape.of(spec, tokens, seq_len)
    chosen = rule.answer(run)
    others = tuple(other.answer(run) for other in hp_laws(law).values() if other.name != rule.name)
    batch = float(
        chosen.batch_tokens if batch_tokens is None else checks.positive(batch_tokens, "batch tokens")
    )
    steps = max(1, math.ceil(run.tokens / batch))
    plan = make_schedule(
        schedule, params=run.params, batch_tokens=batch, total_steps=steps, decay_fraction=decay_fraction
    )
    return Recipe(chosen, others, why, batch, run.seq_len, plan)
