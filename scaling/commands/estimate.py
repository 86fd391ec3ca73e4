"""`scaling flops`, `scaling models`, `scaling gpus`: training FLOPs, time and cost, and the catalogs.

Thin commands: parse, call `scaling.flops`, render. Only click, the stdlib and light scaling modules are
imported here, so these commands start as fast as `scaling --help`.
"""

from __future__ import annotations

from typing import Any

import click

from scaling import units
from scaling.catalog import accelerators, get_accelerator
from scaling.commands._common import (
    CLUSTER,
    COUNT,
    FRACTION,
    INT,
    MONEY,
    echo_json,
    json_option,
    key_values,
    table,
    warn,
)
from scaling.errors import ScalingError
from scaling.flops import CAUSAL, CONVENTIONS, RECOMPUTE, compute_cost, training_flops
from scaling.model import ModelSpec, load_model, presets, shape_for_params

_CONVENTION_LABELS = {
    "6nd": "6·N·D, N total params (Kaplan 2020 §2.1; GPT-3 Table D.1)",
    "6nd-nonembedding": "6·N·D, N non-embedding params (Kaplan 2020)",
    "kaplan": "3 x (2N + 2·n_layer·n_ctx·d_attn), N non-embedding (Kaplan 2020 Eq. 2.2)",
    "exact": "per-component count (Hoffmann 2022 App. F), backward = 2 x forward",
    "3nd": "3·N·D, half the params active per token (GPT-3 Table D.1, encoder-decoder)",
}


def _resolve_model(model, params, dims, seq_len, needs_shape) -> tuple[ModelSpec | float, str, list[str]]:
    """The model as a spec (or a bare count for 6ND-style conventions), how it was given, and notes."""
    given_dims = {k: v for k, v in dims.items() if v is not None}
    sources = [
        s
        for s, on in (
            ("MODEL", model is not None),
            ("--params", params is not None),
            ("dimensions", bool(given_dims)),
        )
        if on
    ]
    if len(sources) > 1:
        raise ScalingError(
            f"give one of MODEL, --params or dimensions (--layers/--d-model/--heads), not {' and '.join(sources)}"
        )
    notes: list[str] = []
    if model is not None:
        spec = load_model(model)
        notes.extend(f"assumed: {a}" for a in spec.assumptions)  # a config of an unknown family
        return spec, f"preset/config {spec.name}", notes
    if params is not None:
        if not needs_shape:
            return params, "--params (N used as given)", notes
        spec = shape_for_params(params, n_ctx=seq_len or 4096, name=f"shape-for-{units.format_count(params)}")
        notes.append(
            f"--params {units.format_count(params)}: the exact/kaplan terms use a standard Llama-style shape "
            f"(shape_for_params): {spec.describe()}, {spec.params:,} params"
        )
        return spec, "--params via shape_for_params", notes
    if given_dims:
        missing = [f"--{k.replace('_', '-')}" for k in ("layers", "d_model", "heads") if dims.get(k) is None]
        if missing:
            raise ScalingError(f"raw dimensions need {', '.join(missing)} as well")
        kwargs: dict[str, Any] = dict(
            n_layer=dims["layers"], d_model=dims["d_model"], n_head=dims["heads"], name="custom"
        )
        if dims.get("kv_heads"):
            kwargs["n_kv_head"] = dims["kv_heads"]
        if dims.get("d_ff"):
            kwargs["d_ff"] = dims["d_ff"]
        if dims.get("vocab"):
            kwargs["vocab_size"] = dims["vocab"]
        if seq_len:
            kwargs["n_ctx"] = seq_len
        if dims.get("gated"):  # a Llama-style block: SwiGLU, RMSNorm, RoPE, untied embeddings
            kwargs.update(
                gated_ffn=True, activation="silu", norm="rmsnorm", position="rope", tied_embeddings=False
            )
            notes.append("--gated: Llama-style block (SwiGLU, RMSNorm, RoPE, untied embeddings)")
        else:
            notes.append(
                "raw dimensions: GPT-style block (GELU FFN, LayerNorm, learned positions, tied embeddings)"
            )
        spec = ModelSpec(**kwargs)
        if not dims.get("vocab"):
            notes.append(f"no --vocab given: using {spec.vocab_size}")
        return spec, "dimensions", notes
    raise ScalingError(
        "give a MODEL (preset name or config.json), --params 7B, or --layers/--d-model/--heads"
    )


@click.command("flops")
@click.argument("model", required=False)
@click.option("--tokens", type=COUNT, help="Training tokens, e.g. 300B or 2T (default: the preset's).")
@click.option("--params", type=COUNT, help="A bare parameter count instead of MODEL, e.g. 7B.")
@click.option("--layers", type=INT, help="Raw dimensions: number of layers.")
@click.option("--d-model", type=INT, help="Raw dimensions: model width.")
@click.option("--heads", type=INT, help="Raw dimensions: attention heads.")
@click.option("--kv-heads", type=INT, help="Raw dimensions: key/value heads (GQA/MQA).")
@click.option("--d-ff", type=INT, help="Raw dimensions: feed-forward width (default 4 x d-model).")
@click.option("--vocab", type=INT, help="Raw dimensions: vocabulary size.")
@click.option("--gated", is_flag=True, default=None,
              help="Raw dimensions: Llama-style block (SwiGLU FFN with 3 matrices, RMSNorm, RoPE, untied).")  # fmt: skip
@click.option(
    "--seq-len", type=INT, help="Sequence length for the attention terms (default: the model's context)."
)
@click.option("--convention", type=click.Choice(CONVENTIONS + ("all",)), default="6nd", show_default=True,
              help="How FLOPs are counted; 'all' shows every convention side by side.")  # fmt: skip
@click.option("--causal", type=click.Choice(CAUSAL), default="full", show_default=True,
              help="Count causal attention in full (PaLM/Megatron MFU convention) or halved.")  # fmt: skip
@click.option("--recompute", type=click.Choice(RECOMPUTE), default="none", show_default=True,
              help="Activation recomputation, counted in hardware FLOPs (HFU), not model FLOPs (MFU).")  # fmt: skip
@click.option("--gpus", type=CLUSTER, help="Cluster, e.g. 64xA100-80GB or 8x8xH100, for time and cost.")
@click.option(
    "--mfu", type=FRACTION, default=0.4, show_default=True, help="Model FLOPs utilisation, e.g. 0.4 or 40%."
)
@click.option("--price", type=MONEY, help="USD per device-hour (default: the catalog's, if any).")
@click.option(
    "--dtype", default="bf16", show_default=True, help="Peak used: fp32, tf32, bf16, fp16, fp8, int8."
)
@click.option("--accelerator-file", "accelerator_files", multiple=True, type=click.Path(dir_okay=False),
              help="Extra accelerators CSV (columns as data/accelerators.csv).")  # fmt: skip
@json_option
def flops(model, tokens, params, layers, d_model, heads, kv_heads, d_ff, vocab, gated, seq_len, convention, causal,
          recompute, gpus, mfu, price, dtype, accelerator_files, as_json):  # fmt: skip
    """Training FLOPs, PF-days and, with --gpus, time, GPU-hours and cost.

    \b
    MODEL is a preset (see 'scaling models'), a path to a Hugging Face config.json, or omitted with
    --params 7B or raw dimensions (--layers --d-model --heads [--kv-heads --d-ff --vocab --gated]).
    \b
    Examples:
      scaling flops llama-2-7b --tokens 2T --gpus 64xA100-80GB --mfu 0.4
      scaling flops gpt3-175b --convention all
      scaling flops --params 7B --tokens 1.4T --json
    """
    conventions = list(CONVENTIONS) if convention == "all" else [convention]
    needs_shape = any(c in ("exact", "kaplan") for c in conventions) or recompute == "selective"
    dims = dict(
        layers=layers, d_model=d_model, heads=heads, kv_heads=kv_heads, d_ff=d_ff, vocab=vocab, gated=gated
    )
    spec, model_source, notes = _resolve_model(model, params, dims, seq_len, needs_shape)
    is_spec = isinstance(spec, ModelSpec)

    if tokens is None:
        if is_spec and spec.training_tokens:
            tokens = spec.training_tokens
            notes.append(
                f"--tokens not given: using {spec.name}'s training tokens, {units.format_count(tokens)}"
            )
        else:
            raise ScalingError("give --tokens (e.g. --tokens 300B); this model has no preset training tokens")

    results = []
    for name in conventions:
        # --params: 6ND-style conventions use N exactly as given; the others count a standard shape
        as_given = (
            params is not None and name in ("6nd", "6nd-nonembedding", "3nd") and recompute != "selective"
        )
        target = params if as_given else spec
        results.append(
            training_flops(
                target, tokens, convention=name, seq_len=seq_len, causal=causal, recompute=recompute
            )
        )

    cost_of: dict[str, Any] = {}
    acc = None
    if gpus is not None:
        if gpus.accelerator is None:
            raise ScalingError(
                f"--gpus {gpus} names no accelerator: use e.g. {gpus.devices}xH100 (see 'scaling gpus')"
            )
        acc = get_accelerator(gpus.accelerator, tuple(accelerator_files))
        for r in results:
            cost_of[r.convention] = compute_cost(r.flops, accelerator=acc, devices=gpus.devices, mfu=mfu, dtype=dtype,
                                                 price_usd_per_hour=price)  # fmt: skip
    warnings = list(dict.fromkeys(w for r in results for w in r.warnings))
    warnings += list(dict.fromkeys(w for c in cost_of.values() for w in c.warnings))

    main_result = results[0]
    main_cost = cost_of.get(main_result.convention)
    assumptions = {
        "convention": main_result.convention,
        "convention_formula": _CONVENTION_LABELS[main_result.convention],
        "model": main_result.model if is_spec else None,
        "model_source": model_source,
        "params_used": main_result.params,
        "seq_len": main_result.seq_len,
        "causal": causal,
        "recompute": recompute,
        "tokens_source": "preset"
        if tokens is not None and any("--tokens not given" in n for n in notes)
        else "--tokens",
        "accelerator": acc.name if acc else None,
        "devices": gpus.devices if gpus is not None else None,
        "mfu": mfu if gpus is not None else None,
        "dtype": dtype if gpus is not None else None,
        "peak_flops_per_device": main_cost.peak_flops_per_device if main_cost else None,
        "price_usd_per_hour": main_cost.price_usd_per_hour if main_cost else None,
        "price_source": main_cost.price_source if main_cost else None,
        "notes": notes,
    }

    if as_json:
        payload = _result_json(main_result, main_cost, spec if is_spec else None)
        payload["assumptions"] = assumptions
        payload["warnings"] = warnings
        if len(results) > 1:
            payload["conventions"] = {
                r.convention: _result_json(r, cost_of.get(r.convention), None) for r in results
            }
        echo_json(payload)
    else:
        _render(results, cost_of, spec if is_spec else None, assumptions, gpus)
    for message in warnings:
        warn(message)


def _result_json(result, cost, spec: ModelSpec | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": result.model,
        "convention": result.convention,
        "params": result.params if spec is None else spec.params,
        "params_active": result.params,
        "params_non_embedding": result.params_non_embedding if spec is None else spec.params_non_embedding,
        "tokens": result.tokens,
        "flops": result.flops,
        "pf_days": result.pf_days,
        "hardware_flops": result.hardware_flops,
        "flops_per_token": result.flops_per_token,
        "hardware_flops_per_token": result.hardware_flops_per_token,
        "breakdown_per_token": result.breakdown,
    }
    if cost is not None:
        out.update(seconds=cost.seconds, days=cost.days, gpu_hours=cost.gpu_hours, cost_usd=cost.cost_usd)
    return out


def _render(results, cost_of, spec, assumptions, gpus) -> None:
    first = results[0]
    lines = []
    if spec is not None:
        lines.append(("model", f"{spec.name}: {spec.describe()}"))
        lines.append(("params", f"{units.format_count(spec.params)} ({spec.params:,}); non-embedding "
                                f"{units.format_count(spec.params_non_embedding)}"))  # fmt: skip
        if spec.is_moe:
            lines.append(("active params", f"{units.format_count(spec.active_params)} per token (MoE)"))
    else:
        lines.append(("params", f"{units.format_count(first.params)} (given with --params)"))
    lines.append(("tokens", f"{units.format_count(first.tokens)}"))
    lines.append(("causal attention", f"{assumptions['causal']} (seq len {assumptions['seq_len']})"))
    lines.append(("recompute", assumptions["recompute"]))
    if len(results) == 1:
        r = first
        lines.append(("convention", f"{r.convention}: {_CONVENTION_LABELS[r.convention]}"))
        lines.append(
            (
                "N used",
                f"{units.format_count(r.params if r.convention != '6nd-nonembedding' else r.params_non_embedding)}",
            )
        )
        lines.append(("FLOPs per token", units.format_flops(r.flops_per_token)))
        lines.append(("training FLOPs", units.format_flops(r.flops)))
        lines.append(("PF-days", units.format_pf_days(r.flops)))
        if r.recompute != "none":
            lines.append(
                ("hardware FLOPs", f"{units.format_flops(r.hardware_flops)} (with {r.recompute} recompute)")
            )
        cost = cost_of.get(r.convention)
        if cost is not None:
            lines += _cost_lines(cost, gpus)
        click.echo(key_values(lines, indent=0))
    else:
        lines += _cost_lines(next(iter(cost_of.values())), gpus, header_only=True) if cost_of else []
        click.echo(key_values(lines, indent=0))
        click.echo("")
        six = next(r for r in results if r.convention == "6nd").flops
        headers = ["convention", "FLOPs/token", "FLOPs", "PF-days", "vs 6ND"]
        if cost_of:
            headers += ["days", "GPU-hours", "cost"]
        rows = []
        for r in results:
            row = [r.convention, units.format_flops(r.flops_per_token), units.format_flops(r.flops),
                   _num(r.pf_days), f"{r.flops / six:.3f}x"]  # fmt: skip
            cost = cost_of.get(r.convention)
            if cost is not None:
                row += [_num(cost.days), f"{cost.gpu_hours:,.0f}",
                        units.format_usd(cost.cost_usd) if cost.cost_usd is not None else "n/a"]  # fmt: skip
            rows.append(row)
        click.echo(table(rows, headers))
        exact = next((r for r in results if r.convention == "exact"), None)
        if exact is not None:
            click.echo("")
            click.echo("exact vs 6ND, training FLOPs per token by term:")
            b = exact.breakdown
            groups = [
                ("6N (6 x N used by 6nd)", next(r for r in results if r.convention == "6nd").flops_per_token),
                (
                    "matmuls in layers",
                    sum(v for k, v in b.items() if k.endswith(("_qkv", "_output")) or k in ("ffn", "router")),
                ),
                (
                    "attention scores",
                    sum(v for k, v in b.items() if k.endswith(("_logits", "_softmax", "_values"))),
                ),
                ("embeddings", b.get("embeddings", 0.0)),
                ("logits", b.get("logits", 0.0)),
                ("exact total", exact.flops_per_token),
            ]
            click.echo(table([(name, units.format_flops(v), f"{v / groups[0][1]:.3f}") for name, v in groups],
                             ["term", "FLOPs/token", "/ 6N"]))  # fmt: skip
    for note in assumptions["notes"]:
        click.echo(f"note: {note}")


def _num(value: float) -> str:
    """3 significant figures without exponents for table cells: 3638, 28.5, 0.104."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _cost_lines(cost, gpus, header_only: bool = False) -> list[tuple[str, str]]:
    price = (
        f"${cost.price_usd_per_hour:.2f}/device-hour ({cost.price_source})" if cost.price_usd_per_hour is not None
        else "none (give --price for a cost)"
    )  # fmt: skip
    lines = [
        ("cluster", f"{gpus.devices} x {cost.accelerator}"),
        ("peak", f"{cost.peak_flops_per_device / 1e12:g} TFLOP/s per device ({cost.dtype}, dense)"),
        ("MFU", units.format_fraction(cost.mfu)),
        ("price", price),
    ]
    if header_only:
        return lines
    return lines + [
        ("wall-clock", units.format_duration(cost.seconds)),
        ("GPU-hours", f"{cost.gpu_hours:,.0f}"),
        ("cost", units.format_usd(cost.cost_usd) if cost.cost_usd is not None else "n/a"),
    ]


# ------------------------------------------------------------------------------------------- catalogs
def _matches(filter_text: str | None, *names: str) -> bool:
    if not filter_text:
        return True
    needle = filter_text.lower()
    return any(needle in (n or "").lower() for n in names)


@click.command("models")
@click.argument("filter_text", metavar="[FILTER]", required=False)
@click.option("--family", help="Only this family (llama, gpt3, t5, ...).")
@json_option
def models(filter_text, family, as_json):
    """List the model presets: exact parameter counts, training tokens and sources."""
    specs = [s for s in presets() if _matches(filter_text, s.name, *s.aliases)
             and (not family or s.family.lower() == family.lower())]  # fmt: skip
    if as_json:
        echo_json([s.to_dict() for s in specs])
        return
    if not specs:
        raise ScalingError(
            f"no model preset matches {filter_text or family!r} (try 'scaling models' for all)"
        )
    rows = [
        (s.name, s.arch, f"{s.params:,}", units.format_count(s.params),
         units.format_count(s.training_tokens) if s.training_tokens else "-", s.source[:60])
        for s in specs
    ]  # fmt: skip
    click.echo(table(rows, ["name", "arch", "params (exact)", "", "tokens", "source"]))


@click.command("gpus")
@click.argument("filter_text", metavar="[FILTER]", required=False)
@click.option("--accelerator-file", "accelerator_files", multiple=True, type=click.Path(dir_okay=False),
              help="Extra accelerators CSV (columns as data/accelerators.csv).")  # fmt: skip
@json_option
def gpus(filter_text, accelerator_files, as_json):
    """List the accelerators: dense peak TFLOP/s per dtype, memory, bandwidth and price."""
    accs = [a for a in accelerators(tuple(accelerator_files)) if _matches(filter_text, a.name, *a.aliases)]
    if as_json:
        echo_json([a.to_dict() for a in accs])
        return
    if not accs:
        raise ScalingError(f"no accelerator matches {filter_text!r} (try 'scaling gpus' for all)")

    def peak(acc, dtype):
        value = acc.peak_flops.get(dtype)
        return f"{value / 1e12:g}" if value else "-"

    rows = [
        (a.name, peak(a, "bf16"), peak(a, "fp16"), peak(a, "fp8"), peak(a, "fp32"), f"{a.memory_bytes / 1e9:g}",
         f"{a.bandwidth_bytes_per_s / 1e9:g}" if a.bandwidth_bytes_per_s == a.bandwidth_bytes_per_s else "-",
         f"${a.price_usd_per_hour:.2f}" if a.price_usd_per_hour is not None else "-")
        for a in accs
    ]  # fmt: skip
    click.echo(table(rows, ["name", "bf16 TF", "fp16 TF", "fp8 TF", "fp32 TF", "mem GB", "GB/s", "$/h"]))
    click.echo("dense (no sparsity) peaks; add your own with $SCALING_ACCELERATORS or --accelerator-file")


COMMANDS = [flops, models, gpus]
