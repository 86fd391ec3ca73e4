"""`scaling fit`, `scaling optimal`, `scaling loss` and `scaling laws`: scaling laws, published or your own."""

from __future__ import annotations

import click

from scaling import units
from scaling.commands._common import (
    COUNT,
    FLOPS,
    declared,
    echo_json,
    given,
    json_option,
    key_values,
    table,
    warn,
)
from scaling.errors import ScalingError
from scaling.laws.rules import FORM_CHOICES
from scaling.options.recipe import DECAY_FRACTION, HP_LAW, SCHEDULE
from scaling.options.shared import POST_QUANT, PRECISION_LAW, TRAIN_BITS
from scaling.render import fmt_interval

CURVE_BOOTSTRAP = 100  # resamples by run for --curves when --bootstrap is not given
LAW_HELP = (
    "A preset (chinchilla, epoch, kaplan, muennighoff, llama3, deepseek... see 'scaling laws') or a law JSON."
)


def _interval(alloc, key, fmt) -> str:
    if key not in alloc.intervals:
        return ""
    return f"  ({fmt_interval(*alloc.intervals[key], fmt, alloc.interval_level)})"


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
    """Compute-optimal model size, tokens and loss for a training budget. With --inference-tokens the answer
    trains longer than the budget; the extra FLOPs, time and cost are part of the answer."""
    from scaling.budget import budget_from_text
    from scaling.laws import get_law

    spent = budget_from_text(budget)
    law = get_law(law_name)
    alloc = law.optimal(spent.flops, unique_tokens=unique_tokens, inference_tokens=inference_tokens)
    beyond = (
        {"flops": alloc.extra_flops, **spent.beyond(alloc.extra_flops)} if alloc.extra_flops > 0 else None
    )
    if as_json:
        payload = alloc.to_dict()
        payload["budget"] = {"flops": spent.flops, "description": spent.source}
        payload["beyond_budget"] = beyond
        payload["assumptions"] = dict(_assumptions(law))
        echo_json(payload)
        return
    for message in alloc.warnings:
        warn(message)
    click.echo(key_values(_allocation_rows(law, alloc, spent.source, beyond) + _assumptions(law)))
    for note in alloc.notes[2:]:
        click.echo(f"  note: {note}")


def _allocation_rows(law, alloc, how: str, beyond: dict | None) -> list[tuple[str, str]]:
    loss = "n/a (allocation-only law)"
    if law.has_loss:
        loss = f"{units.format_loss(alloc.loss)} {alloc.loss_unit}" + _interval(
            alloc, "loss", units.format_loss
        )
    rows = [
        ("budget", how),
        ("params", units.format_count(alloc.params) + _interval(alloc, "params", units.format_count)),
        ("tokens", units.format_count(alloc.tokens) + _interval(alloc, "tokens", units.format_count)),
        (
            "tokens per param",
            units.format_count(alloc.tokens_per_param)
            + _interval(alloc, "tokens_per_param", units.format_count),
        ),
        ("loss", loss),
        ("training FLOPs", units.format_flops(alloc.flops)),
    ]
    if beyond is not None:
        rows.append(
            (
                "beyond the budget",
                f"+{units.format_flops(beyond['flops'])} ({alloc.extra_fraction:.1%})",
            )
        )
        if "seconds" in beyond:
            rows.append(
                (
                    "extra training time",
                    f"+{units.format_duration(beyond['seconds'])} on the budget's cluster",
                )
            )
        if "usd" in beyond:
            rows.append(("extra cost", f"+{units.format_usd(beyond['usd'])} at the catalog price"))
    if alloc.epochs is not None:
        rows.append(("epochs over unique data", units.format_epochs(alloc.epochs)))
    if alloc.total_flops is not None:
        rows.append(("inference FLOPs", units.format_flops(alloc.inference_flops)))
        rows.append(("lifetime FLOPs", units.format_flops(alloc.total_flops)))
    return rows


@click.command()
@click.option("--params", type=COUNT, required=True, help="Parameters, e.g. 70B.")
@click.option("--tokens", type=COUNT, required=True, help="Training tokens, e.g. 1.4T.")
@click.option("--law", "law_name", default="chinchilla", show_default=True, help=LAW_HELP)
@click.option(
    "--unique-tokens", type=COUNT, default=None, help="Unique tokens, if data repeats (Muennighoff)."
)
@declared(POST_QUANT, PRECISION_LAW, TRAIN_BITS, SCHEDULE, DECAY_FRACTION, HP_LAW)
@json_option
def loss(
    params,
    tokens,
    law_name,
    unique_tokens,
    post_quant,
    precision_law,
    train_bits,
    schedule,
    decay_fraction,
    hp_law,
    as_json,
):
    """Predicted loss for a model size and token count, in the law's loss unit; with --quant, the loss after
    post-training quantization (Kumar et al. 2024's delta_PTQ, which grows with tokens per parameter); with
    --train-bits, the loss of training in that precision (the paper's effective parameter count) beside 16
    bits. Both use the kumar2024 preset (the paper's App. K fit) unless --precision-law names another.

    With --schedule (and --decay-fraction for wsd) and a law fitted from curves ('scaling fit RUNS --curves
    -o law.json'), also the loss curve through training under that schedule at the recipe's batch (Tissue et
    al. 2024): milestones here, the whole curve with --json.

    \b
    Examples:
      scaling loss --params 8B --tokens 15T
      scaling loss --params 8B --tokens 15T --quant int4
      scaling loss --params 1B --tokens 20B --train-bits 8
      scaling loss --params 8B --tokens 15T --quant int4 --precision-law precision_law.json
      scaling loss --params 7B --tokens 2T --law epoch --schedule wsd
    """
    from scaling.laws import get_law
    from scaling.laws.precision import precision_law_for, quantized_loss
    from scaling.laws.precision_training import low_precision_training

    law = get_law(law_name)
    prediction = law.loss_at(params, tokens, unique_tokens=unique_tokens)
    bits = None if train_bits is None else TRAIN_BITS.parse_value(train_bits)
    plaw = precision_law_for(post_quant, precision_law, bits)
    ptq = (
        None if post_quant is None else quantized_loss(plaw, params, tokens, post_quant, prediction.loss, law)
    )
    trained = None if bits is None else low_precision_training(plaw, law, params, tokens, bits, unique_tokens)
    asked = "schedule" in given({"schedule": schedule}) or decay_fraction is not None or hp_law is not None
    curve, curve_note = None, None
    if asked:
        curve, curve_note = _loss_curve(law, params, tokens, schedule, decay_fraction, hp_law)
    if as_json:
        payload = {**prediction.to_dict(), "assumptions": dict(_assumptions(law))}
        if ptq:
            payload["post_training_quantization"] = ptq.to_dict()
        if trained:
            payload["low_precision_training"] = trained.to_dict()
        if asked:
            payload["curve"] = None if curve is None else curve.to_dict()
            payload["curve_note"] = curve_note
        echo_json(payload)
        return
    optimum = prediction.compute_optimal
    rows = [
        ("params", units.format_count(params)),
        ("tokens", units.format_count(tokens)),
        ("FLOPs (6ND)", units.format_flops(prediction.flops)),
        ("loss", f"{units.format_loss(prediction.loss)} {prediction.loss_unit}"),
        (
            "compute-optimal at same FLOPs"
            + (f", {units.format_count(unique_tokens)} unique tokens" if unique_tokens else ""),
            f"{units.format_count(optimum.params)} params, "
            f"{units.format_count(optimum.tokens)} tokens, loss {units.format_loss(optimum.loss)}",
        ),
    ]
    if ptq is not None:
        rows += _quantized_rows(ptq, prediction.loss_unit)
    if trained is not None:
        rows += _trained_rows(trained, prediction.loss_unit)
    if plaw is not None:
        rows += [("precision law", plaw.describe())] + (
            [("precision law caveat", plaw.caveat)] * bool(plaw.caveat)
        )
        for line in plaw.outside_fit(params, tokens):
            warn(line)
    if asked:
        rows += _curve_rows(curve, curve_note)
    click.echo(key_values(rows + _assumptions(law)))


def _quantized_rows(ptq, loss_unit: str) -> list[tuple[str, str]]:
    """The rows that price a post-training quantization: the penalty, the loss after it and, for a law with
    a data term B / D^beta, the tokens past which more pretraining raises the quantized loss."""
    rows = [
        (
            f"loss after {ptq.quant} PTQ",
            f"{units.format_loss(ptq.quantized_loss)} {loss_unit} (+{ptq.penalty:.4g}, "
            f"{ptq.tokens / ptq.params:.3g} tokens/param, {ptq.bits:g} bits; Kumar et al. 2024 delta_PTQ)",
        )
    ]
    if ptq.critical_tokens is not None:
        rows.append(
            (
                f"more tokens raise the {ptq.quant} loss past",
                f"{units.format_count(ptq.critical_tokens)} tokens ({ptq.critical_tokens / ptq.params:.3g} "
                "tokens/param; Kumar et al. 2024 Eq. 13 with the law's B, beta)",
            )
        )
    return rows


def _trained_rows(trained, loss_unit: str) -> list[tuple[str, str]]:
    """The rows that price low-precision training: the loss at its bits beside 16, the effective parameters
    and the compute-optimal precision."""
    return [
        (
            f"loss trained at {trained.bits:g} bits",
            f"{units.format_loss(trained.loss_at_bits)} {loss_unit} (+{trained.penalty:.4g} vs 16-bit; "
            f"effective params {trained.effective_fraction:.3g} x N = "
            f"{units.format_count(trained.params * trained.effective_fraction)}; Kumar et al. 2024 N_eff)",
        ),
        (
            "compute-optimal training precision",
            f"{trained.compute_optimal_bits:.2f} bits (N, D and bits free at compute proportional to N*D*bits)",
        ),
    ]


def _loss_curve(law, params, tokens, schedule, decay_fraction, hp_law):
    """(the curve, its note) for ``scaling loss --schedule``; (None, why) for a law without curve
    constants."""
    from scaling.laws.curve import curve_law, no_curve_message
    from scaling.recipe.curve import PEAK_ASSUMPTION, planned_curve

    if curve_law(law) is None:
        return None, no_curve_message(law)
    curve, _ = planned_curve(
        law,
        params,
        tokens,
        schedule=SCHEDULE.parse_value(schedule),
        decay_fraction=None if decay_fraction is None else DECAY_FRACTION.parse_value(decay_fraction),
        hp_law=None if hp_law is None else HP_LAW.parse_value(hp_law),
    )
    return curve, PEAK_ASSUMPTION


def _curve_rows(curve, note: str) -> list[tuple[str, str]]:
    """The curve's milestones as rows: tokens, loss (and the final loss's interval)."""
    if curve is None:
        return [("loss curve", note)]
    rows = [
        (
            "schedule",
            f"{curve.schedule['description']}; global batch {units.format_count(curve.batch_tokens)} tokens",
        )
    ]
    for fraction, seen, value in curve.milestones():
        rows.append(
            (f"  loss at {fraction:.0%} ({units.format_count(seen)} tokens)", units.format_loss(value))
        )
    interval = (
        f" ({fmt_interval(*curve.interval, units.format_loss, curve.interval_level)})"
        if curve.interval
        else ""
    )
    rows.append(
        (
            "loss at the end of the schedule",
            f"{units.format_loss(curve.final_loss)} {curve.loss_unit}{interval}",
        )
    )
    rows += [("curve law", curve.source), ("curve assumes", note)]
    return rows


@click.command()
@click.argument("runs")
@click.option("--approach", type=click.Choice(["1", "2", "3", "all"]), default="3", show_default=True)
@click.option(
    "--form",
    type=click.Choice(FORM_CHOICES),
    default="chinchilla",
    show_default=True,
    help="Form of the Approach 3 law; auto picks the least rolling-origin held-out error and prints each "
    "form's. muennighoff needs a unique_tokens column.",
)
@click.option(
    "--bootstrap",
    type=int,
    default=0,
    show_default=True,
    help="Bootstrap resamples (>= 1000 advised; a request beyond the fitter's limits is refused, naming them).",
)
@click.option(
    "--holdout-largest", type=int, default=0, help="Also fit without the K largest budgets and score them."
)
@click.option(
    "--holdout-from",
    type=FLOPS,
    default=None,
    help="Also fit without every budget from this compute (1e21) up.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default=None, help="Save the Approach 3 law JSON."
)
@click.option("--force", is_flag=True, help="Replace an existing --output file (never the runs table).")
@click.option(
    "--hyperparameters",
    is_flag=True,
    help="Also fit eta_opt(C) and B_opt(C) from runs at several learning rates/batches (scaling sweep "
    "--lr-grid 5): runs within 0.25%% of each budget's best loss (Bi et al. 2024); -o saves them in the law.",
)
@click.option(
    "--downstream",
    "evals",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also fit Bhagia et al. 2024's two-step ladder per task from an evals CSV (columns run_id, task, metric, "
    "value; a task loss such as bpb and an accuracy per run): task loss from N and D, accuracy as a sigmoid of "
    "it, with bootstrap intervals; -o saves the maps in the law, and a plan with it prints each task.",
)
@click.option(
    "--moe",
    is_flag=True,
    help="Fit Krajewski et al. 2024's MoE law L = c + (g/G^gamma + a)/N^alpha + b/D^beta and its dense law "
    "from MoE and dense runs (columns N active, D, loss, granularity: 0 or dense for a dense run, expansion); "
    "-o writes the file 'scaling plan --moe --moe-law' reads.",
)
@click.option(
    "--ptq",
    is_flag=True,
    help="RUNS are quantized evaluations (columns N, D, bits, loss_before, loss_after): fit Kumar et al. "
    "2024's delta_PTQ = C_T D^gamma_D/N^gamma_N exp(-bits/gamma_post); -o writes the file "
    "'scaling loss --quant Q --precision-law' reads.",
)
@click.option(
    "--curves",
    is_flag=True,
    help="Fit the schedule-aware law (Tissue et al. 2024) to every point of every run's loss curve (RUNS: a "
    "sweep folder, or its runs.csv beside curves/ and sweep.json), bootstrapped by run (--bootstrap, default "
    f"{CURVE_BOOTSTRAP}), and compare its intervals with the final-loss fit's; -o saves both in one law.",
)
@json_option
def fit(
    runs,
    approach,
    form,
    bootstrap,
    holdout_largest,
    holdout_from,
    seed,
    output,
    force,
    hyperparameters,
    evals,
    moe,
    ptq,
    curves,
    as_json,
):
    """Fit a scaling law to your runs: a table (CSV, JSON, JSON lines, Parquet; columns N, D, loss, optional C)
    or a sweep folder (its runs.csv, and its curves/ for Approach 1).

    \b
    Examples:
      scaling fit moe_runs.csv --moe --bootstrap 100 -o my_moe_law.json
      scaling fit ptq_evals.csv --ptq --bootstrap 200 -o my_ptq_law.json
    """
    if curves:
        others = {
            "--hyperparameters": hyperparameters,
            "--downstream": evals,
            "--moe": moe,
            "--ptq": ptq,
            "--approach": approach != "3",
            "--form": form != "chinchilla",
            "--holdout-largest": holdout_largest,
            "--holdout-from": holdout_from is not None,
        }
        given_too = [flag for flag, on in others.items() if on]
        if given_too:
            raise ScalingError(
                f"--curves fits the schedule-aware law beside Approach 3's Chinchilla form and takes --bootstrap, "
                f"--seed and -o; not {', '.join(given_too)}"
            )
        return _fit_curves(runs, bootstrap or CURVE_BOOTSTRAP, seed, output, force, as_json)
    if moe or ptq:
        from scaling.commands._fit_law_files import fit_law_file

        others = {
            "--downstream": evals,
            "--curves": curves,
            "--hyperparameters": hyperparameters,
            "--approach": approach != "3",
            "--form": form != "chinchilla",
            "--holdout-largest": holdout_largest,
            "--holdout-from": holdout_from,
        }
        kind = "moe" if moe else "ptq"
        return fit_law_file(runs, kind, bootstrap, seed, output, force, as_json, moe and ptq, others)
    if evals:
        options = dict(
            approach=approach, form=form, holdout_largest=holdout_largest, holdout_from=holdout_from
        )
        return _fit_downstream(runs, evals, hyperparameters, options, bootstrap, seed, output, force, as_json)
    if hyperparameters:
        return _fit_hyperparameters(runs, bootstrap, seed, output, force, as_json)
    from scaling.checks import output_path
    from scaling.fit import fit_runs, save_law

    if output:
        output = output_path(output, force=force, suffixes=(".json",), inputs=[runs])
        if approach not in ("3", "all"):
            raise ScalingError(f"-o saves the Approach 3 law: use --approach 3 or all (got {approach})")
    report = fit_runs(
        runs,
        approach=approach,
        bootstrap=bootstrap,
        seed=seed,
        holdout_largest=holdout_largest,
        holdout_from=holdout_from,
        form=form,
    )
    if output and report.approach3 is not None:
        save_law(report.approach3, output)
    if as_json:
        payload = report.to_dict()
        if output:
            payload["saved"] = str(output)
        echo_json(payload)
        return
    for message in report.warnings:
        warn(message)
    from scaling.fit.tables import fit_tables

    click.echo("\n".join(t.text(indent=2) for t in fit_tables(report, str(output) if output else None)))


def _fit_hyperparameters(runs, bootstrap, seed, output, force, as_json) -> None:
    from scaling.checks import output_path
    from scaling.fit import save_law
    from scaling.fit.hyperparameters import fit_runs_with_hyperparameters
    from scaling.fit.tables import fit_tables

    if output:
        output = output_path(output, force=force, suffixes=(".json",), inputs=[runs])
    report, fitted = fit_runs_with_hyperparameters(runs, bootstrap=bootstrap, seed=seed)
    if output and report.approach3 is not None:
        save_law(report.approach3, output)
    if as_json:
        echo_json({**report.to_dict(), "hyperparameters": fitted.to_dict(), "saved": output and str(output)})
        return
    for message in report.warnings:
        warn(message)
    tables = fit_tables(report, str(output) if output else None) + fitted.display_tables()
    click.echo("\n".join(t.text(indent=2) for t in tables))


def _fit_downstream(runs, evals, hyperparameters, options, bootstrap, seed, output, force, as_json) -> None:
    from scaling.checks import output_path
    from scaling.fit import fit_runs, save_law
    from scaling.fit.hyperparameters import fit_runs_with_hyperparameters
    from scaling.fit.ladder import carry_ladder, fit_runs_ladder
    from scaling.fit.tables import fit_tables

    if options["approach"] not in ("3", "all"):
        raise ScalingError(
            f"--downstream is carried by the Approach 3 law: use --approach 3 or all (got {options['approach']})"
        )
    if output:
        output = output_path(output, force=force, suffixes=(".json",), inputs=[runs, evals])
    ladder = fit_runs_ladder(runs, evals, bootstrap=bootstrap, seed=seed)
    fitted = None
    if hyperparameters:
        report, fitted = fit_runs_with_hyperparameters(runs, bootstrap=bootstrap, seed=seed)
    else:
        report = fit_runs(runs, bootstrap=bootstrap, seed=seed, **options)
    report = carry_ladder(report, ladder)
    if output and report.approach3 is not None:
        save_law(report.approach3, output)
    if as_json:
        extra = {"hyperparameters": fitted.to_dict()} if fitted else {}
        echo_json(
            {**report.to_dict(), **extra, "downstream": ladder.to_dict(), "saved": output and str(output)}
        )
        return
    for message in report.warnings:
        warn(message)
    tables = fit_tables(report, str(output) if output else None)
    tables += (fitted.display_tables() if fitted else []) + ladder.display_tables()
    click.echo("\n".join(t.text(indent=2) for t in tables))


def _fit_curves(runs, bootstrap, seed, output, force, as_json) -> None:
    from dataclasses import replace
    from pathlib import Path

    from scaling.checks import output_path
    from scaling.fit import save_law
    from scaling.fit.common import report_table
    from scaling.fit.curves import curve_fit_tables, fit_curves
    from scaling.train.schedules import read_sweep_curves

    if output:
        output = output_path(output, force=force, suffixes=(".json",), inputs=[runs])
    sweep = read_sweep_curves(runs)
    report_table(sweep.runs)
    result = fit_curves(
        sweep.curves.frame,
        sweep.runs.frame,
        sweep.schedules,
        bootstrap=bootstrap,
        seed=seed,
        set_aside=sweep.set_aside(),
    )
    if output:
        save_law(replace(result.final, name=Path(output).stem, curve=result.law.to_dict()), output)
    if as_json:
        echo_json({**result.to_dict(), "saved": output and str(output)})
        return
    click.echo("\n".join(t.text(indent=2) for t in curve_fit_tables(result, str(output) if output else None)))


@click.command()
@click.option(
    "--moe",
    "moe",
    is_flag=True,
    help="List the mixture-of-experts laws 'scaling plan --moe --moe-law' takes instead.",
)
@json_option
def laws(moe, as_json):
    """List the published scaling-law presets with their sources.

    \b
    Examples:
      scaling laws
      scaling laws --moe
    """
    if moe:
        from scaling.laws.moe import list_moe_laws

        moe_laws = list_moe_laws()
        if as_json:
            echo_json([law.to_dict() for law in moe_laws])
            return
        rows = [
            (
                law.name,
                f"{law.expansion:g}",
                "-".join(f"{v:.3g}" for v in law.fit_range.get("params", ())),
                "-".join(f"{v:.3g}" for v in law.fit_range.get("tokens", ())),
                law.source,
            )
            for law in moe_laws
        ]
        headers = ["MoE law", "E", "fitted N (total)", "fitted tokens", "source"]
        click.echo(table(rows, headers, align="lrrrl"))
        return
    from scaling.laws import list_laws

    presets = list_laws()
    if as_json:
        echo_json([law.to_dict() for law in presets])
        return
    rows = []
    for law in presets:
        rows.append((law.name, law.kind, f"{law.a:.3f}", "yes" if law.has_loss else "no", law.source))
    headers = ["law", "kind", "a (N_opt ∝ C^a)", "predicts loss", "source"]
    click.echo(table(rows, headers, align="llrll"))


COMMANDS = [fit, optimal, loss, laws]
