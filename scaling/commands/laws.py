"""`scaling fit`, `scaling optimal`, `scaling loss` and `scaling laws`: scaling laws, published or your own."""

from __future__ import annotations

import click

from scaling import units
from scaling.commands._common import COUNT, echo_json, json_option, key_values, table, warn
from scaling.errors import ScalingError

LAW_HELP = (
    "A preset (chinchilla, epoch, kaplan, muennighoff, llama3, deepseek... see 'scaling laws') or a law JSON."
)


def _fmt_interval(alloc, key, fmt):
    if key not in alloc.intervals:
        return ""
    lo, hi = alloc.intervals[key]
    return f"  ({alloc.interval_level:.0%}: {fmt(lo)} - {fmt(hi)})"


def _assumptions(law) -> list[tuple[str, str]]:
    return [("law", law.name), ("source", law.source), ("convention", law.convention)]


@click.command()
@click.option(
    "--budget", required=True, help="FLOPs (1e24, 100PF-days) or cluster, time, MFU ('512xH100 30d 40%')."
)
@click.option("--law", "law_name", default="chinchilla", show_default=True, help=LAW_HELP)
@click.option(
    "--unique-tokens", type=COUNT, default=None, help="Unique training tokens (data-constrained optimum)."
)
@click.option(
    "--inference-tokens", type=COUNT, default=None, help="Lifetime inference tokens (Sardana optimum)."
)
@json_option
def optimal(budget, law_name, unique_tokens, inference_tokens, as_json):
    """Compute-optimal model size, tokens and loss for a training budget."""
    from scaling.budget import parse_budget
    from scaling.laws import get_law

    flops, how = parse_budget(budget)
    law = get_law(law_name)
    alloc = law.optimal(flops, unique_tokens=unique_tokens, inference_tokens=inference_tokens)
    if as_json:
        payload = alloc.to_dict()
        payload["budget"] = {"flops": flops, "description": how}
        payload["assumptions"] = dict(_assumptions(law))
        echo_json(payload)
        return
    for message in alloc.warnings:
        warn(message)
    rows = [
        ("budget", how),
        ("params", units.format_count(alloc.params) + _fmt_interval(alloc, "params", units.format_count)),
        ("tokens", units.format_count(alloc.tokens) + _fmt_interval(alloc, "tokens", units.format_count)),
        (
            "tokens per param",
            f"{alloc.tokens_per_param:.3g}" + _fmt_interval(alloc, "tokens_per_param", lambda v: f"{v:.3g}"),
        ),
        (
            "loss",
            "n/a (allocation-only law)"
            if not law.has_loss
            else f"{alloc.loss:.4f}" + _fmt_interval(alloc, "loss", lambda v: f"{v:.4f}"),
        ),
        ("training FLOPs", f"{alloc.flops:.3g}"),
    ]
    if alloc.epochs is not None:
        rows.append(("epochs over unique data", f"{alloc.epochs:.3g}"))
    if alloc.total_flops is not None:
        rows.append(("inference FLOPs", f"{alloc.inference_flops:.3g}"))
        rows.append(("lifetime FLOPs", f"{alloc.total_flops:.3g}"))
    click.echo(key_values(rows + _assumptions(law)))
    for note in alloc.notes[2:]:
        click.echo(f"  note: {note}")


@click.command()
@click.option("--params", type=COUNT, required=True, help="Parameters, e.g. 70B.")
@click.option("--tokens", type=COUNT, required=True, help="Training tokens, e.g. 1.4T.")
@click.option("--law", "law_name", default="chinchilla", show_default=True, help=LAW_HELP)
@click.option(
    "--unique-tokens", type=COUNT, default=None, help="Unique tokens, if data repeats (Muennighoff)."
)
@json_option
def loss(params, tokens, law_name, unique_tokens, as_json):
    """Predicted loss for a model size and token count."""
    from scaling.laws import get_law

    law = get_law(law_name)
    value = float(law.predict(params, tokens, unique_tokens=unique_tokens))
    flops = 6.0 * params * tokens
    optimum = law.optimal(flops)
    payload = {
        "params": params,
        "tokens": tokens,
        "flops": flops,
        "loss": value,
        "tokens_per_param": tokens / params,
        "compute_optimal": optimum.to_dict(),
        "assumptions": dict(_assumptions(law)),
    }
    if as_json:
        echo_json(payload)
        return
    rows = [
        ("params", units.format_count(params)),
        ("tokens", units.format_count(tokens)),
        ("FLOPs (6ND)", f"{flops:.3g}"),
        ("loss", f"{value:.4f}"),
        (
            "compute-optimal at same FLOPs",
            f"{units.format_count(optimum.params)} params, "
            f"{units.format_count(optimum.tokens)} tokens, loss {optimum.loss:.4f}",
        ),
    ]
    click.echo(key_values(rows + _assumptions(law)))


@click.command()
@click.argument("runs")
@click.option("--approach", type=click.Choice(["1", "2", "3", "all"]), default="3", show_default=True)
@click.option(
    "--bootstrap", type=int, default=0, show_default=True, help="Bootstrap resamples (>= 1000 advised)."
)
@click.option(
    "--holdout-largest", type=int, default=0, help="Also fit without the K largest budgets and score them."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default=None, help="Save the Approach 3 law JSON."
)
@json_option
def fit(runs, approach, bootstrap, holdout_largest, seed, output, as_json):
    """Fit a scaling law to your runs (CSV, JSON lines or Parquet: columns N, D, loss, optional C)."""
    import warnings

    from scaling import fit as fitting

    if bootstrap < 0:
        raise ScalingError(f"invalid --bootstrap {bootstrap}: expected 0 or a positive number of resamples")
    result: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", fitting.ScalingWarning)
        if approach in ("3", "all"):
            frame = fitting.read_runs(runs)
            law = fitting.fit_parametric(frame, bootstrap=bootstrap, seed=seed, name=_stem(runs))
            result["approach3"] = law.to_dict()
            if output:
                fitting.save_law(law, output)
                result["saved"] = output
            if holdout_largest:
                check = fitting.holdout_check(
                    frame, holdout_largest, bootstrap=min(bootstrap, 200), seed=seed
                )
                result["holdout"] = {k: v for k, v in check.to_dict().items() if k != "law"}
        if approach in ("2", "all"):
            result["approach2"] = fitting.fit_isoflop(runs).to_dict()
        if approach == "1":
            result["approach1"] = fitting.fit_envelope(runs).to_dict()
        elif approach == "all":
            try:
                result["approach1"] = fitting.fit_envelope(runs).to_dict()
            except ScalingError as exc:  # final losses only: Approach 1 needs loss curves
                warnings.warn(f"Approach 1 skipped: {exc}", fitting.ScalingWarning, stacklevel=1)
    messages = list(
        dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, fitting.ScalingWarning))
    )
    if as_json:
        payload = dict(result.get("approach3", {}))
        payload.update({k: v for k, v in result.items() if k != "approach3"})
        payload["warnings"] = messages
        echo_json(payload)
        return
    for message in messages:
        warn(message)
    if "approach3" in result:
        d = result["approach3"]
        ci = d.get("ci", {})
        rows = []
        for key in ("E", "A", "B", "alpha", "beta", "a", "b"):
            lo_hi = f"{ci[key][0]:.4g} - {ci[key][1]:.4g}" if key in ci else ""
            rows.append((key, f"{d[key]:.4g}", lo_hi))
        click.echo("Approach 3 (parametric, Huber on log-loss):")
        click.echo(
            table(rows, ["", "estimate", f"{d.get('ci_level', 0.8):.0%} interval" if ci else ""], indent=2)
        )
        f = d["fit"]
        click.echo(
            key_values(
                [
                    ("runs", f["n_runs"]),
                    (
                        "objective",
                        f"{f['objective']:.6g} (reached by {f['n_starts_at_best']} of {f['n_starts']} starts; "
                        f"{f['n_starts_screened_out']} screened out)",
                    ),
                    ("converged", "yes" if f["converged"] else "NO"),
                    (
                        "bootstrap",
                        f"{f['n_bootstrap']} kept, {f['n_bootstrap_failed']} not converged (left out)"
                        if bootstrap
                        else "none (use --bootstrap 1000 for intervals)",
                    ),
                ]
            )
        )
        if "saved" in result:
            click.echo(f"  saved to {result['saved']} (use it as --law {result['saved']})")
    if "holdout" in result:
        h = result["holdout"]
        click.echo(
            f"Extrapolation check (held out {h['n_held_out']} runs at C = "
            f"{', '.join(f'{c:.3g}' for c in h['held_out_flops'])}):"
        )
        click.echo(
            key_values(
                [
                    ("mean |error|", f"{h['mean_abs_error']:.4g}"),
                    ("max |relative error|", f"{h['max_abs_rel_error']:.2%}"),
                ]
                + ([("interval coverage", f"{h['coverage']:.0%}")] if h["coverage"] is not None else [])
            )
        )
    for key, title in (
        ("approach2", "Approach 2 (IsoFLOP parabolas)"),
        ("approach1", "Approach 1 (envelope)"),
    ):
        if key in result:
            d = result[key]
            click.echo(
                f"{title}: N_opt = {d['n_coef']:.4g} C^{d['a']:.4f}, D_opt = {d['d_coef']:.4g} C^{d['b']:.4f}"
            )


def _stem(path) -> str:
    from pathlib import Path

    return Path(str(path)).stem if not hasattr(path, "columns") else "fitted"


@click.command()
@json_option
def laws(as_json):
    """List the published scaling-law presets with their sources."""
    from scaling.laws import list_laws

    presets = list_laws()
    if as_json:
        echo_json([law.to_dict() for law in presets])
        return
    rows = []
    for law in presets:
        rows.append((law.name, law.kind, f"{law.a:.3f}", "yes" if law.has_loss else "no", law.source[:70]))
    click.echo(table(rows, ["law", "kind", "a", "loss", "source"]))


COMMANDS = [fit, optimal, loss, laws]
