"""Learning-rate and batch-size laws: the peak learning rate and the global batch (tokens per step) a run
of a given shape and length should use.

* `DEEPSEEK`: DeepSeek LLM (Bi et al. 2024, arXiv 2401.02954, §3.1 Eq. 1), eta_opt = 0.3118 C^-0.1250 and
  B_opt = 0.2920 C^0.3271 tokens, with C = M·D in *their* convention: M = non-embedding FLOPs per token
  including attention (their Eq. 2). The conversion from a run's shape is part of the rule
  (`RunShape.deepseek_compute`), never the caller's job: a 6ND budget given to Eq. 1 is off by up to 50% at
  small scale (their Table 3).
* `STEP_LAW`: Step Law (Li et al. 2025, "Predictable Scale: Part I", arXiv 2503.04715), eta = 1.7973
  N^-0.71292 D^0.30749 and B = 0.58069 D^0.57094 tokens, N the non-embedding parameters, D the training
  tokens (the mean of their 1000 bootstrap fits, ``data/1004_fitted_lr_bs_scaling_model_parameters.csv`` of
  the authors' repository ``step-law/steplaw``).
* `FittedHyperparameters`: eta_opt and B_opt as power laws of C = 6ND fitted on a user's own sweep
  (``scaling fit RUNS --hyperparameters``), carried by the law file.

The two published laws disagree in kind: DeepSeek's eta falls as the data grow (through C), Step Law's rises
with D at fixed N. Both are fits to one data and architecture family each; a recipe prints both where they
disagree by more than `SPREAD` (`scaling.recipe.recipe`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scaling import checks, units

if TYPE_CHECKING:
    from scaling.model import ModelSpec

# Near the optimum the loss is flat over a band of learning rates and batches (DeepSeek LLM Fig. 2 and 3:
# "all near-optimal hyperparameters fall within a broad band"); two laws within this factor of each other
# agree for planning purposes (judgement: neither paper states the band's width as one number).
SPREAD = 2.0


@dataclass(frozen=True)
class RunShape:
    """What a hyperparameter law reads of a run: its shape, context and training tokens.

    ``params`` is the total (the 6ND convention of the plan's laws), ``params_non_embedding`` the active
    non-embedding count (Kaplan's N, Step Law's N)."""

    params: float
    params_non_embedding: float
    n_layer: int
    d_model: int
    seq_len: int
    tokens: float

    @classmethod
    def of(cls, spec: ModelSpec, tokens: float, seq_len: int | None = None) -> RunShape:
        return cls(
            params=float(spec.active_params),
            params_non_embedding=float(spec.active_params_non_embedding),
            n_layer=int(spec.n_layer),
            d_model=int(spec.d_model),
            seq_len=int(seq_len or spec.n_ctx),
            tokens=float(checks.positive(tokens, "training tokens")),
        )

    @property
    def flops(self) -> float:
        """C = 6ND (Kaplan et al. 2020 §2.1), the convention of the plan and of fitted laws."""
        return float(units.six_nd(self.params, self.tokens))

    @property
    def deepseek_flops_per_token(self) -> float:
        """DeepSeek LLM's M (Bi et al. 2024, Eq. 2): non-embedding FLOPs per token with attention,
        6 N_1 + 12 n_layer d_model l_seq, where 6 N_1 = 72 n_layer d_model^2 for their shape (SwiGLU at
        8/3 d_model, multi-head attention); the shape's own non-embedding count keeps GQA, MoE and other
        widths exact."""
        return deepseek_flops_per_token(self.params_non_embedding, self.n_layer, self.d_model, self.seq_len)

    @property
    def deepseek_compute(self) -> float:
        """DeepSeek LLM's C = M·D (§3.2)."""
        return self.deepseek_flops_per_token * self.tokens


def deepseek_flops_per_token(params_non_embedding: Any, n_layer: Any, d_model: Any, seq_len: Any) -> Any:
    """M = 6 N_1 + 12 n_layer d_model l_seq (Bi et al. 2024, Eq. 2; broadcasts)."""
    matrices = (
        units.FLOPS_PER_PARAM_TOKEN * params_non_embedding
    )  # 6 N_1: forward and backward of the weights
    attention = 12.0 * n_layer * d_model * seq_len  # QK^T and AV, forward and backward, no vocabulary
    return matrices + attention


@dataclass(frozen=True)
class Hyperparameters:
    """One law's answer for one run: peak learning rate and global batch (tokens), and how it got them."""

    law: str
    learning_rate: float
    batch_tokens: float
    source: str
    inputs: str  # the law's variables for this run, e.g. "C = M·D = 8.5e22 FLOPs"
    learning_rate_interval: tuple[float, float] | None = None
    batch_interval: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "learning_rate": self.learning_rate,
            "global_batch_tokens": self.batch_tokens,
            "learning_rate_interval": self.learning_rate_interval,
            "global_batch_tokens_interval": self.batch_interval,
            "inputs": self.inputs,
            "source": self.source,
        }


class HyperparameterLaw(ABC):
    """A rule from a `RunShape` to `Hyperparameters`; ``name`` is what ``--hp-law`` calls it."""

    name: str = ""
    source: str = ""

    @abstractmethod
    def learning_rate(self, run: RunShape) -> float:
        """The peak learning rate for ``run``."""

    @abstractmethod
    def batch_tokens(self, run: RunShape) -> float:
        """The global batch in tokens for ``run``."""

    @abstractmethod
    def inputs(self, run: RunShape) -> str:
        """The law's variables for ``run``, as printed beside its answer."""

    def answer(self, run: RunShape) -> Hyperparameters:
        return Hyperparameters(
            self.name, self.learning_rate(run), self.batch_tokens(run), self.source, self.inputs(run)
        )


class DeepSeekLaw(HyperparameterLaw):
    """eta_opt = 0.3118 C^-0.1250, B_opt = 0.2920 C^0.3271 tokens, C = M·D (Bi et al. 2024, Eq. 1)."""

    name = "deepseek"
    source = (
        "DeepSeek LLM (Bi et al. 2024, arXiv 2401.02954) Eq. 1: eta_opt = 0.3118 C^-0.1250, "
        "B_opt = 0.2920 C^0.3271 tokens, C = M·D with M from Eq. 2; fitted on 1e17-2e19 FLOPs"
    )
    LR_COEF, LR_EXP = 0.3118, -0.1250
    BATCH_COEF, BATCH_EXP = 0.2920, 0.3271

    def learning_rate(self, run: RunShape) -> float:
        return float(deepseek_learning_rate(run.deepseek_compute))

    def batch_tokens(self, run: RunShape) -> float:
        return float(deepseek_batch_tokens(run.deepseek_compute))

    def inputs(self, run: RunShape) -> str:
        return (
            f"C = M·D = {units.format_count(run.deepseek_flops_per_token)} FLOPs/token x "
            f"{units.format_count(run.tokens)} tokens = {units.format_flops(run.deepseek_compute)}"
        )


def deepseek_learning_rate(compute: Any) -> Any:
    """eta_opt(C) = 0.3118 C^-0.1250 for DeepSeek's C = M·D FLOPs (Bi et al. 2024, Eq. 1; broadcasts)."""
    return DeepSeekLaw.LR_COEF * checks.positive(compute, "DeepSeek compute C = M·D") ** DeepSeekLaw.LR_EXP


def deepseek_batch_tokens(compute: Any) -> Any:
    """B_opt(C) = 0.2920 C^0.3271 tokens per step for DeepSeek's C = M·D FLOPs (Bi et al. 2024, Eq. 1;
    broadcasts)."""
    return (
        DeepSeekLaw.BATCH_COEF * checks.positive(compute, "DeepSeek compute C = M·D") ** DeepSeekLaw.BATCH_EXP
    )


class StepLaw(HyperparameterLaw):
    """eta = 1.7973 N^-0.71292 D^0.30749, B = 0.58069 D^0.57094 tokens (Li et al. 2025)."""

    name = "steplaw"
    source = (
        "Step Law (Li et al. 2025, arXiv 2503.04715): eta = 1.7973 N^-0.71292 D^0.30749, "
        "B = 0.58069 D^0.57094 tokens, N non-embedding parameters (mean of 1000 bootstrap fits, "
        "step-law/steplaw data/1004_fitted_lr_bs_scaling_model_parameters.csv)"
    )
    LR_COEF, LR_N_EXP, LR_D_EXP = 1.7973, -0.71292, 0.30749
    BATCH_COEF, BATCH_D_EXP = 0.58069, 0.57094

    def learning_rate(self, run: RunShape) -> float:
        return float(steplaw_learning_rate(run.params_non_embedding, run.tokens))

    def batch_tokens(self, run: RunShape) -> float:
        return float(steplaw_batch_tokens(run.tokens))

    def inputs(self, run: RunShape) -> str:
        return (
            f"N = {units.format_count(run.params_non_embedding)} non-embedding params, "
            f"D = {units.format_count(run.tokens)} tokens"
        )


def steplaw_learning_rate(params_non_embedding: Any, tokens: Any) -> Any:
    """eta(N, D) = 1.7973 N^-0.71292 D^0.30749 (Li et al. 2025; broadcasts)."""
    n = checks.positive(params_non_embedding, "non-embedding parameters")
    d = checks.positive(tokens, "training tokens")
    return StepLaw.LR_COEF * n**StepLaw.LR_N_EXP * d**StepLaw.LR_D_EXP


def steplaw_batch_tokens(tokens: Any) -> Any:
    """B(D) = 0.58069 D^0.57094 tokens per step (Li et al. 2025; broadcasts)."""
    return StepLaw.BATCH_COEF * checks.positive(tokens, "training tokens") ** StepLaw.BATCH_D_EXP


DEEPSEEK = DeepSeekLaw()
STEP_LAW = StepLaw()
PUBLISHED = {law.name: law for law in (DEEPSEEK, STEP_LAW)}
