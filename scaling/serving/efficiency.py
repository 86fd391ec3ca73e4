"""Achievable fractions of the peaks in serving, by regime: one table (``data/serving_efficiency.csv``), one
lookup (`ServingEfficiency.resolve`).

A roofline with one efficiency for every dtype, batch and context is 1.5-2x optimistic at FP8 and large
batches: TensorRT-LLM's published FP8 runs reach about a third to a half of the doubled FP8 peak, while
bandwidth-bound decode reaches ~80% of HBM bandwidth in every dtype. The table therefore holds, per row and
with its source:

* ``prefill_mfu``: share of the dense peak (at the math dtype) while prefilling, for short (< 512 tokens) and
  long prompts;
* ``decode_mfu``: share of the same peak in a compute-bound decode step;
* ``weights_mbu`` / ``kv_mbu``: share of HBM bandwidth reading the weights / the KV cache in decode (the KV
  one by attention type, MHA or grouped-query);
* ``step_overhead_s``: seconds each forward pass adds (kernel launches, scheduling, sampling), which a
  roofline leaves out and which dominates short prompts at batch 1.

A calibration from ``scaling calibrate`` on serving benchmarks replaces the rows its factors cover
(`scaling.calibration.file.SERVING_FACTORS`), each then sourced "calibration FILE".
A profile other than ``default`` (``--efficiency-profile``; `profiles` lists them) replaces only the rows
it lists (``trtllm-0.6.1``: the GQA decode kernels of TensorRT-LLM v0.6.1, whose published 70B rows read each
KV head once per query head).
`ServingEfficiency.resolve` is the one place the numbers are chosen; `ServingAssumptions` (``--mfu``,
``--mbu``, ``--overhead``) overrides what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from scaling import checks
from scaling.calibration.file import SERVING_FACTORS, Calibration
from scaling.catalog import read_csv
from scaling.errors import ScalingError, quoted
from scaling.model import ModelSpec

QUANTITIES = ("prefill_mfu", "decode_mfu", "weights_mbu", "kv_mbu", "step_overhead_s")
SHORT_PROMPT_TOKENS = 512  # prompts below it are "short" prefill rows (TensorRT-LLM's 128-token rows)
SIXTEEN_BIT = ("bf16", "fp16", "fp32", "tf32")  # one row family: the 16-bit (and wider) tensor-core paths


def dtype_class(dtype: str) -> str:
    """The table's dtype key: bf16 for the 16-bit and wider dtypes, else the dtype itself (fp8, int8, ...)."""
    return "bf16" if dtype in SIXTEEN_BIT else dtype


@dataclass(frozen=True)
class EfficiencyRow:
    """One published (or fitted) efficiency: what it is, where it applies, its value and its source."""

    quantity: str
    dtype: str
    regime: str
    value: float
    source: str


@dataclass(frozen=True)
class Efficiencies:
    """The efficiencies one deployment runs at, each with where it came from (a row's source or 'given')."""

    prefill_mfu: float
    decode_mfu: float
    weights_mbu: float
    kv_mbu: float
    step_overhead_s: float
    sources: tuple[tuple[str, str], ...]  # (quantity, source) in QUANTITIES order

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {q: getattr(self, q) for q in QUANTITIES}
        out["sources"] = dict(self.sources)
        return out


@dataclass(frozen=True)
class ServingEfficiency:
    """The efficiency table of one profile; `resolve` picks a deployment's row for each quantity."""

    rows: tuple[EfficiencyRow, ...]
    profile: str = "default"

    @classmethod
    def load(cls, profile: str = "default") -> ServingEfficiency:
        """The packaged table (``data/serving_efficiency.csv``) with ``profile``'s rows over the defaults."""
        return _load(profile)

    def row(self, quantity: str, dtype: str, regime: str = "any") -> EfficiencyRow:
        """The row for ``quantity`` at ``dtype`` (class) and ``regime``; rows for 'any' dtype or regime are
        the fallbacks, an exact match wins."""
        key = dtype_class(dtype)
        for d in (key, "any"):
            for r in (regime, "any"):
                for row in self.rows:
                    if (row.quantity, row.dtype, row.regime) == (quantity, d, r):
                        return row
        raise ScalingError(f"the serving efficiency table has no {quantity} row for {dtype} ({regime})")

    def resolve(
        self,
        *,
        precision: str,
        weight_dtype: str,
        prompt_tokens: int,
        grouped_kv: bool,
        mfu: float | None = None,
        mbu: float | None = None,
        overhead_s: float | None = None,
        calibration: Calibration | None = None,
        accelerator: str | None = None,
    ) -> Efficiencies:
        """The efficiencies of one deployment: the table's rows for its regime, replaced by a serving
        ``calibration``'s factors (for this ``accelerator``), unless given (``mfu`` replaces both compute
        shares, ``mbu`` both bandwidth shares, ``overhead_s`` the per-step cost)."""
        prompt = "short" if prompt_tokens < SHORT_PROMPT_TOKENS else "long"
        picked = {
            "prefill_mfu": (mfu, self.row("prefill_mfu", precision, prompt)),
            "decode_mfu": (mfu, self.row("decode_mfu", precision)),
            "weights_mbu": (mbu, self.row("weights_mbu", weight_dtype)),
            "kv_mbu": (mbu, self.row("kv_mbu", "any", "gqa" if grouped_kv else "mha")),
            "step_overhead_s": (overhead_s, self.row("step_overhead_s", "any")),
        }
        values = {q: row.value for q, (_, row) in picked.items()}
        sources = {q: row.source for q, (_, row) in picked.items()}
        if calibration is not None:
            for q, (value, source) in calibrated(calibration, accelerator).items():
                values[q], sources[q] = value, source
        for q, (given, _) in picked.items():
            if given is not None:
                values[q], sources[q] = given, "given"
        return Efficiencies(**values, sources=tuple(sources.items()))


def calibrated(calibration: Calibration, accelerator: str | None) -> dict[str, tuple[float, str]]:
    """The serving quantities a calibration replaces, each with its value and source ("calibration FILE");
    a calibration of training or of another accelerator is refused in one line."""
    if calibration.kind != "serving":
        raise ScalingError(
            f"{calibration.label} is a {calibration.kind} calibration: serving needs one from 'scaling "
            "calibrate' on a vLLM or trtllm-bench result"
        )
    if accelerator is not None:
        calibration.check_for(accelerator)
    source = f"calibration {calibration.path or 'given'}"
    return {
        q: (factor.value, source)
        for name, quantities in SERVING_FACTORS.items()
        if (factor := calibration.factor(name)) is not None
        for q in quantities
    }


def calibration_note(calibration: Calibration, accelerator: str | None = None) -> str:
    """The line an output prints for a serving calibration: which efficiencies came from which file."""
    replaced = calibrated(calibration, accelerator)
    values = ", ".join(f"{q} {value:.4g}" for q, (value, _) in replaced.items())
    return (
        f"serving efficiencies from {calibration.label}: {values} (the others: the efficiency table's rows)"
    )


def _row(raw: dict[str, str], path: str) -> tuple[str, EfficiencyRow]:
    quantity = checks.choice(raw.get("quantity", ""), QUANTITIES, f"quantity in {path}")
    try:
        value = float(raw.get("value", ""))
    except ValueError:
        raise ScalingError(f"invalid value {quoted(raw.get('value'))} in {path}: expected a number") from None
    if quantity == "step_overhead_s":
        checks.positive(value, "step overhead", allow_zero=True)
    else:
        checks.utilization(value, quantity)
    row = EfficiencyRow(quantity, raw["dtype"].strip(), raw["regime"].strip(), value, raw["source"].strip())
    return raw["profile"].strip(), row


TABLE = "serving_efficiency.csv"


def profiles() -> tuple[str, ...]:
    """The profiles the packaged table holds (``default`` first): what ``--efficiency-profile`` accepts."""
    names = {raw["profile"].strip() for raw in read_csv(TABLE)}
    return ("default", *sorted(names - {"default"}))


@lru_cache(maxsize=8)
def _load(profile: str) -> ServingEfficiency:
    rows = [_row(raw, TABLE) for raw in read_csv(TABLE)]
    profile = checks.choice(profile, profiles(), "serving efficiency profile")
    chosen = [r for p, r in rows if p == profile]
    keys = {(r.quantity, r.dtype, r.regime) for r in chosen}
    kept = chosen + [r for p, r in rows if p == "default" and (r.quantity, r.dtype, r.regime) not in keys]
    return ServingEfficiency(tuple(kept), profile)


@dataclass(frozen=True)
class ServingAssumptions:
    """What the roofline assumes beyond the hardware's peaks; every default is cited.

    * ``mfu``, ``mbu``, ``overhead_s``: None takes the regime's row of ``efficiency`` (module
      `scaling.serving.efficiency`: share of the compute peak by dtype and phase, of bandwidth for weights and
      KV reads, and a per-step overhead, each row with its source); a number replaces them (``--mfu``
      replaces both compute shares, ``--mbu`` both bandwidth shares, ``--overhead`` the per-step seconds).
    * ``efficiency``: the table itself (None: the packaged default profile).
    * ``calibration``: a serving calibration (``--calibration``) whose factors replace the table's rows.
    * ``link_efficiency`` 0.8: NCCL all-reduce reaches ~783 of 900 GB/s on HGX H100 NVLink4
      (NVIDIA/nccl GitHub issue #1264), and less on smaller messages.
    * ``allreduce_latency_s`` 8 us: the minimum latency of one intra-node message in every llm-analysis GPU
      configuration; decode all-reduces are latency-bound.
    * ``link_bytes_per_s``: the intra-node link bandwidth per device, one direction; None reads it from the
      accelerator catalog.
    * ``prefill_chunk_tokens`` 8192: prompts are prefilled in chunks of at most this many tokens (chunked
      prefill; TensorRT-LLM's ``BuildConfig.max_num_tokens`` default), which bounds the transient activations.
    """

    mfu: float | None = None
    mbu: float | None = None
    overhead_s: float | None = None
    link_efficiency: float = 0.8
    allreduce_latency_s: float = 8e-6
    link_bytes_per_s: float | None = None
    prefill_chunk_tokens: int = 8192
    efficiency: ServingEfficiency | None = None
    calibration: Calibration | None = None

    def __post_init__(self) -> None:
        if self.mfu is not None:
            checks.utilization(self.mfu, "serving MFU")
        if self.mbu is not None:
            checks.utilization(self.mbu, "memory bandwidth utilisation (MBU)")
        if self.overhead_s is not None:
            checks.positive(self.overhead_s, "per-step overhead", allow_zero=True)
        checks.utilization(self.link_efficiency, "link efficiency")
        checks.positive(self.allreduce_latency_s, "all-reduce latency", allow_zero=True)
        checks.positive_int(self.prefill_chunk_tokens, "prefill chunk")
        if self.link_bytes_per_s is not None:
            checks.positive(self.link_bytes_per_s, "link bandwidth")

    def efficiencies(
        self,
        spec: ModelSpec,
        precision: str,
        weight_dtype: str,
        prompt_tokens: int,
        accelerator: str | None = None,
    ) -> Efficiencies:
        """The efficiencies a deployment runs at: the table's rows for its regime, with the calibration
        and the overrides."""
        table = self.efficiency or ServingEfficiency.load()
        return table.resolve(
            calibration=self.calibration,
            accelerator=accelerator,
            precision=precision,
            weight_dtype=weight_dtype,
            prompt_tokens=prompt_tokens,
            grouped_kv=spec.kv_heads < spec.n_head,
            mfu=self.mfu,
            mbu=self.mbu,
            overhead_s=self.overhead_s,
        )

    @property
    def efficiency_profile(self) -> str:
        """The profile of the efficiency table (``--efficiency-profile``; ``default`` when none is given)."""
        return "default" if self.efficiency is None else self.efficiency.profile

    def to_dict(self) -> dict[str, Any]:
        out = {
            k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("efficiency", "calibration")
        }
        out["efficiency_profile"] = self.efficiency_profile
        out["calibration"] = None if self.calibration is None else self.calibration.path or "given"
        return out


IDEAL = ServingAssumptions(mfu=1.0, mbu=1.0, overhead_s=0.0, link_efficiency=1.0, allreduce_latency_s=0.0)
"""The pure roofline: every peak reached, free messages and steps. A lower bound on every time."""
