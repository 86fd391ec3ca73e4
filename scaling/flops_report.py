"""`estimate_flops`: the answer to ``scaling flops``, training FLOPs under one or every convention, with
time and cost on a cluster, and the model the count was made for.

The model comes from one of three places (`choose_model`): a preset or ``config.json``; a bare parameter
count (used as given by the 6ND-style conventions, a standard shape for the others); or raw dimensions
(`spec_from_dimensions`: a GPT-style block unless ``gated``, when it is Llama-style). The tokens default to
the preset's own training tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scaling import units
from scaling.catalog import Accelerator, get_accelerator
from scaling.cluster import Cluster
from scaling.cost import ComputeCost, check_hfu, compute_cost, default_mfu, default_mfu_source
from scaling.energy import DEFAULT_GOODPUT, DEFAULT_GRID_GCO2_KWH, DEFAULT_PUE, Footprint, footprint
from scaling.errors import ScalingError
from scaling.flops import CONVENTIONS, TrainingFlops, training_flops
from scaling.model import ModelSpec, load_model, shape_for_params
from scaling.render import Displayable

CONVENTION_LABELS = {
    "6nd": "6·N·D, N total params (Kaplan 2020 §2.1; GPT-3 Table D.1)",
    "6nd-nonembedding": "6·N·D, N non-embedding params (Kaplan 2020)",
    "kaplan": "3 x (2N + 2·n_layer·n_ctx·d_attn), N non-embedding (Kaplan 2020 Eq. 2.2)",
    "exact": "per-component count (Hoffmann 2022 App. F), backward = 2 x forward",
    "3nd": "3·N·D, half the params active per token (GPT-3 Table D.1, encoder-decoder)",
}
AS_GIVEN = ("6nd", "6nd-nonembedding", "3nd")  # conventions that use a bare --params count as N itself
DEFAULT_SHAPE_CONTEXT = 4096


@dataclass(frozen=True)
class Dimensions:
    """Raw transformer dimensions from the command line; None where not given."""

    layers: int | None = None
    d_model: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    d_ff: int | None = None
    vocab: int | None = None
    gated: bool | None = None

    @property
    def given(self) -> bool:
        return any(
            v is not None
            for v in (self.layers, self.d_model, self.heads, self.kv_heads, self.d_ff, self.vocab, self.gated)
        )


@dataclass(frozen=True)
class ModelChoice:
    """The model a count is made for: a spec, or a bare count (6ND-style conventions only)."""

    spec: ModelSpec | None
    params: float | None
    source: str
    notes: tuple[str, ...] = ()


def spec_from_dimensions(dims: Dimensions, n_ctx: int | None = None) -> tuple[ModelSpec, list[str]]:
    """A `ModelSpec` from raw dimensions: GPT-style (GELU FFN, LayerNorm, learned positions, tied embeddings)
    unless ``gated`` (Llama-style: SwiGLU, RMSNorm, RoPE, untied embeddings)."""
    missing = [f"--{k.replace('_', '-')}" for k in ("layers", "d_model", "heads") if getattr(dims, k) is None]
    if missing:
        raise ScalingError(f"raw dimensions need {', '.join(missing)} as well")
    kwargs: dict[str, Any] = dict(n_layer=dims.layers, d_model=dims.d_model, n_head=dims.heads, name="custom")
    optional = {"n_kv_head": dims.kv_heads, "d_ff": dims.d_ff, "vocab_size": dims.vocab, "n_ctx": n_ctx}
    kwargs.update({k: v for k, v in optional.items() if v})
    if dims.gated:
        kwargs.update(
            gated_ffn=True, activation="silu", norm="rmsnorm", position="rope", tied_embeddings=False
        )
        notes = ["--gated: Llama-style block (SwiGLU, RMSNorm, RoPE, untied embeddings)"]
    else:
        notes = ["raw dimensions: GPT-style block (GELU FFN, LayerNorm, learned positions, tied embeddings)"]
    spec = ModelSpec(**kwargs)
    if not dims.vocab:
        notes.append(f"no --vocab given: using {spec.vocab_size}")
    return spec, notes


def choose_model(
    model: str | None, params: float | None, dims: Dimensions, seq_len: int | None, needs_shape: bool
) -> ModelChoice:
    """One of MODEL, --params or dimensions (never two)."""
    sources = [
        s
        for s, on in (
            ("MODEL", model is not None),
            ("--params", params is not None),
            ("dimensions", dims.given),
        )
        if on
    ]
    if len(sources) > 1:
        raise ScalingError(
            "give one of MODEL, --params or dimensions (--layers/--d-model/--heads), not "
            f"{' and '.join(sources)}"
        )
    if model is not None:
        spec = load_model(model)
        assumed = tuple(f"assumed: {a}" for a in spec.assumptions)  # a config of an unknown family
        return ModelChoice(spec, None, f"preset/config {spec.name}", assumed)
    if params is not None:
        if not needs_shape:
            return ModelChoice(None, params, "--params (N used as given)")
        spec = shape_for_params(
            params, n_ctx=seq_len or DEFAULT_SHAPE_CONTEXT, name=f"shape-for-{units.format_count(params)}"
        )
        note = (
            f"--params {units.format_count(params)}: the exact/kaplan terms use a standard Llama-style shape "
            f"(shape_for_params): {spec.describe()}, {spec.params:,} params"
        )
        return ModelChoice(spec, params, "--params via shape_for_params", (note,))
    if dims.given:
        spec, notes = spec_from_dimensions(dims, seq_len)
        return ModelChoice(spec, None, "dimensions", tuple(notes))
    raise ScalingError(
        "give a MODEL (preset name or config.json), --params 7B, or --layers/--d-model/--heads"
    )


@dataclass(frozen=True)
class FlopsEstimate(Displayable):
    """Training FLOPs under each asked convention (the first is the main one), with time and cost."""

    results: tuple[TrainingFlops, ...]
    costs: dict[str, ComputeCost]
    model: ModelChoice
    tokens_source: str  # "preset" or "--tokens"
    causal: str
    recompute: str
    accelerator: Accelerator | None = None
    devices: int | None = None
    hfu: float | None = None  # exact hardware FLOPs (attention, recomputation) / (devices x peak x time)
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    footprint: Footprint | None = None  # energy, emissions and goodput of the main convention's time

    @property
    def main(self) -> TrainingFlops:
        return self.results[0]

    @property
    def main_cost(self) -> ComputeCost | None:
        return self.costs.get(self.main.convention)

    def convention_formula(self, result: TrainingFlops) -> str:
        """The formula a convention counts, with its source."""
        return CONVENTION_LABELS[result.convention]

    def n_used(self, result: TrainingFlops) -> float:
        """The N a convention multiplies: non-embedding for 6nd-nonembedding, else the (active) total."""
        return result.params_non_embedding if result.convention == "6nd-nonembedding" else result.params

    def ratio_to_6nd(self, result: TrainingFlops) -> float | None:
        six = next((r for r in self.results if r.convention == "6nd"), None)
        return None if six is None else result.flops / six.flops

    def exact_terms(self) -> list[tuple[str, float, float]]:
        """The exact count per token grouped as 6N, layer matmuls, attention scores, embeddings, logits,
        total: (name, FLOPs per token, ratio to 6N)."""
        exact = next((r for r in self.results if r.convention == "exact"), None)
        six = next((r for r in self.results if r.convention == "6nd"), None)
        if exact is None or six is None:
            return []
        b = exact.breakdown
        matmuls = sum(v for k, v in b.items() if k.endswith(("_qkv", "_output")) or k in ("ffn", "router"))
        scores = sum(v for k, v in b.items() if k.endswith(("_logits", "_softmax", "_values")))
        groups = [
            ("6N (6 x N used by 6nd)", six.flops_per_token),
            ("matmuls in layers", matmuls),
            ("attention scores", scores),
            ("embeddings", b.get("embeddings", 0.0)),
            ("logits", b.get("logits", 0.0)),
            ("exact total", exact.flops_per_token),
        ]
        return [(name, value, value / six.flops_per_token) for name, value in groups]

    def assumptions(self) -> dict[str, Any]:
        main, cost = self.main, self.main_cost
        return {
            "convention": main.convention,
            "convention_formula": CONVENTION_LABELS[main.convention],
            "model": main.model if self.model.spec is not None else None,
            "model_source": self.model.source,
            "params_used": main.params,
            "seq_len": main.seq_len,
            "causal": self.causal,
            "recompute": self.recompute,
            "tokens_source": self.tokens_source,
            "accelerator": self.accelerator.name if self.accelerator else None,
            "devices": self.devices,
            "mfu": cost.mfu if cost else None,
            "hfu": self.hfu,
            "dtype": cost.dtype if cost else None,
            "peak_flops_per_device": cost.peak_flops_per_device if cost else None,
            "price_usd_per_hour": cost.price_usd_per_hour if cost else None,
            "price_source": cost.price_source if cost else None,
            "notes": list(self.notes),
            "footprint": self.footprint.assumptions() if self.footprint else [],
        }

    def result_dict(self, result: TrainingFlops, with_spec: bool = True) -> dict[str, Any]:
        spec = self.model.spec if with_spec else None
        out: dict[str, Any] = {
            "model": result.model,
            "convention": result.convention,
            "params": result.params if spec is None else spec.params,
            "params_active": result.params,
            "params_non_embedding": result.params_non_embedding
            if spec is None
            else spec.params_non_embedding,
            "tokens": result.tokens,
            "flops": result.flops,
            "pf_days": result.pf_days,
            "hardware_flops": result.hardware_flops,
            "flops_per_token": result.flops_per_token,
            "hardware_flops_per_token": result.hardware_flops_per_token,
            "breakdown_per_token": result.breakdown,
        }
        cost = self.costs.get(result.convention)
        if cost is not None:
            out.update(seconds=cost.seconds, days=cost.days, gpu_hours=cost.gpu_hours, cost_usd=cost.cost_usd)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON in base units: the main convention's numbers, assumptions, warnings, and every convention."""
        payload = self.result_dict(self.main)
        payload["assumptions"] = self.assumptions()
        fp = self.footprint
        payload.update(
            energy_kwh=fp.energy_kwh if fp else None,
            co2_kg=fp.co2_kg if fp else None,
            goodput=fp.goodput if fp else None,
            wall_clock_seconds=fp.wall_seconds if fp else None,
        )
        payload["warnings"] = list(self.warnings)
        if len(self.results) > 1:
            payload["conventions"] = {
                r.convention: self.result_dict(r, with_spec=False) for r in self.results
            }
        return payload


def _tokens(choice: ModelChoice, tokens: float | None, notes: list[str]) -> tuple[float, str]:
    """The training tokens and where they came from: ``--tokens``, else the preset's (said in ``notes``)."""
    if tokens is not None:
        return tokens, "--tokens"
    if choice.spec is None or not choice.spec.training_tokens:
        raise ScalingError("give --tokens (e.g. --tokens 300B); this model has no preset training tokens")
    tokens = choice.spec.training_tokens
    name, count = choice.spec.name, units.format_count(tokens)
    notes.append(f"--tokens not given: using {name}'s training tokens, {count}")
    return tokens, "preset"


def _calibrated_mfu(calibration, choice, main, cluster, seq_len, dtype, notes: list[str]) -> float:
    """The MFU a training calibration predicts for this run (`scaling.calibration.apply.run_mfu`), its
    source said in ``notes``."""
    from scaling.calibration.apply import run_mfu

    spec = choice.spec or shape_for_params(float(main.params), n_ctx=seq_len or DEFAULT_SHAPE_CONTEXT)
    mfu, note = run_mfu(
        calibration, spec, cluster, seq_len=seq_len or spec.n_ctx, flops=float(main.flops), dtype=dtype
    )
    notes.append(note)
    return mfu


def estimate_flops(
    *,
    model: str | None = None,
    params: float | None = None,
    dims: Dimensions = Dimensions(),
    tokens: float | None = None,
    seq_len: int | None = None,
    convention: str = "6nd",
    causal: str = "full",
    recompute: str = "none",
    cluster: Cluster | None = None,
    mfu: float | None = None,
    price: float | None = None,
    dtype: str = "bf16",
    accelerator_files: tuple[str, ...] = (),
    goodput: float = DEFAULT_GOODPUT,
    pue: float = DEFAULT_PUE,
    grid_gco2_kwh: float = DEFAULT_GRID_GCO2_KWH,
    calibration: Any = None,
) -> FlopsEstimate:
    """Training FLOPs of a model on ``tokens`` under ``convention`` (``"all"``: every one), with time and cost
    on ``cluster`` at ``mfu`` when given, and their energy and emissions (`scaling.energy.footprint`)."""
    conventions = list(CONVENTIONS) if convention == "all" else [convention]
    needs_shape = any(c in ("exact", "kaplan") for c in conventions) or recompute == "selective"
    choice = choose_model(model, params, dims, seq_len, needs_shape)
    notes = list(choice.notes)
    tokens, tokens_source = _tokens(choice, tokens, notes)
    if mfu is None:  # the dtype's default (`scaling.cost.default_mfu`), its source said for fp8
        mfu = default_mfu(dtype)
        if dtype == "fp8" and cluster is not None:
            notes.append(f"MFU {units.format_fraction(mfu)}: {default_mfu_source(dtype)}")
    results = [_flops_of(choice, tokens, name, seq_len, causal, recompute) for name in conventions]
    costs: dict[str, ComputeCost] = {}
    accelerator = None
    if calibration is not None and cluster is not None:
        mfu = _calibrated_mfu(calibration, choice, results[0], cluster, seq_len, dtype, notes)
    if cluster is not None:
        if cluster.accelerator is None:
            raise ScalingError(
                f"--gpus {cluster} names no accelerator: use e.g. {cluster.devices}xH100 (see 'scaling gpus')"
            )
        accelerator = get_accelerator(cluster.accelerator, accelerator_files)
        costs = {
            r.convention: compute_cost(
                r.flops,
                accelerator=accelerator,
                devices=cluster.devices,
                mfu=mfu,
                dtype=dtype,
                price_usd_per_hour=price,
            )
            for r in results
        }
    hfu = used = None
    if costs:
        main_cost = costs[results[0].convention]
        used = footprint(
            accelerator,
            device_hours=main_cost.gpu_hours,
            seconds=main_cost.seconds,
            goodput=goodput,
            pue=pue,
            grid_gco2_kwh=grid_gco2_kwh,
        )
        hfu = _hfu(choice, results[0], tokens, (seq_len, causal, recompute), cluster, main_cost, mfu)
    warnings = [w for r in results for w in r.warnings] + [w for c in costs.values() for w in c.warnings]
    return FlopsEstimate(
        results=tuple(results),
        costs=costs,
        model=choice,
        tokens_source=tokens_source,
        causal=causal,
        recompute=recompute,
        accelerator=accelerator,
        devices=cluster.devices if cluster else None,
        hfu=hfu,
        warnings=tuple(dict.fromkeys(warnings)),
        notes=tuple(notes),
        footprint=used,
    )


def _flops_of(choice, tokens: float, convention: str, seq_len, causal: str, recompute: str) -> TrainingFlops:
    """One convention's training FLOPs: of the count as given where the convention needs no shape, else of
    the model's shape."""
    as_given = choice.params is not None and convention in AS_GIVEN and recompute != "selective"
    target = choice.params if as_given or choice.spec is None else choice.spec
    return training_flops(
        target, tokens, convention=convention, seq_len=seq_len, causal=causal, recompute=recompute
    )


def _hfu(choice, main, tokens, shape: tuple, cluster, cost, mfu: float) -> float:
    """Hardware FLOPs utilisation of the run (recomputation included), checked against ``mfu``."""
    seq_len, causal, recompute = shape
    hardware = _hardware_flops(choice, main, tokens, seq_len, causal, recompute)
    hfu = hardware / (cluster.devices * cost.peak_flops_per_device * cost.seconds)
    check_hfu(mfu, hfu, f"{main.model} at sequence length {main.seq_len or 'n/a'}")
    return hfu


def _hardware_flops(
    choice: ModelChoice, main: TrainingFlops, tokens: float, seq_len: int | None, causal: str, recompute: str
) -> float:
    """What the devices execute: the exact per-component count (attention included, with recomputation) when
    the model's shape is known, else the main convention's own hardware FLOPs."""
    if choice.spec is None:
        return float(main.hardware_flops)
    exact = training_flops(
        choice.spec, tokens, convention="exact", seq_len=seq_len, causal=causal, recompute=recompute
    )
    return float(exact.hardware_flops)
