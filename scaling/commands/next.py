"""`scaling next`: the runs to do next, those that shrink the target interval most for a FLOP spend.

Only click and light modules at import time; the fitter and the design are imported inside the command.
"""

from __future__ import annotations

import warnings

import click

from scaling.commands._common import FLOPS, echo_json, json_option, warn
from scaling.render import Table


@click.command(name="next")
@click.argument("runs", type=click.Path())
@click.option("--budget-flops", type=FLOPS, required=True, help="Total FLOPs to spend on the new runs.")
@click.option("--runs", "max_runs", type=int, default=6, show_default=True, help="At most this many runs.")
@click.option(
    "--target", type=FLOPS, help="Compute whose interval matters [1000x the largest budget so far]."
)
@click.option(
    "--quantity",
    default="n_opt",
    show_default=True,
    help="The interval to shrink: n_opt (N_opt), ratio (D_opt/N_opt) or loss (L*), at the target compute.",
)
@click.option(
    "--bootstrap", type=int, default=400, show_default=True, help="Bootstrap replicates of the fit."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the runs as CSV (for sweep --design)."
)
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@json_option
def next_command(runs, budget_flops, max_runs, target, quantity, bootstrap, seed, output, force, as_json):
    """Propose the next runs for RUNS (a runs table or a sweep folder).

    \b
    Scored with the fit's bootstrap replicates: a run is worth what its predicted loss tells about the target.
      scaling next runs/ --budget-flops 5e13 --runs 6 -o next.csv
      scaling sweep --design next.csv --out runs/
    """
    from scaling.checks import output_path
    from scaling.design import design_csv, next_runs
    from scaling.runs_table import atomic_write
    from scaling.train.sweep.designed import next_sweep_runs, sweep_folder

    path = output_path(output, force=force, suffixes=(".csv",), inputs=[runs]) if output else None
    # a sweep folder is designed over its own shapes, so that `scaling sweep --design` can train them
    folder = sweep_folder(runs)
    propose, source = (next_runs, runs) if folder is None else (next_sweep_runs, folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        design = propose(
            source,
            budget_flops=budget_flops,
            max_runs=max_runs,
            target_flops=target,
            quantity=quantity,
            bootstrap=bootstrap,
            seed=seed,
        )
    for message in dict.fromkeys(str(w.message) for w in caught):
        warn(message)
    if path is not None:
        atomic_write(path, design_csv(design))
    if as_json:
        echo_json(design.to_dict())
        return
    _render(design, path)


def _render(design, path) -> None:
    from scaling.design import QUANTITY_TEXT

    name = QUANTITY_TEXT[design.quantity]
    lo, hi = design.interval_now
    lo2, hi2 = design.interval_after
    click.echo(f"target: {name} at C = {design.target_flops:.3g} FLOPs ({100 * design.level:.0f}% interval)")
    click.echo(f"  now:            {lo:.4g} .. {hi:.4g}")
    click.echo(f"  expected after: {lo2:.4g} .. {hi2:.4g}  (width x{design.width_ratio:.2f})")
    click.echo(
        f"  spend: {design.spend_flops:.3g} of {design.budget_flops:.3g} FLOPs ({design.cost_convention})"
    )
    rows = [
        (
            i + 1,
            f"{r.N:.4g}",
            f"{r.D:.4g}",
            f"{r.budget:.3g}",
            f"d{r.extra['d_model']}l{r.extra['n_layer']}" if "d_model" in r.extra else "",
            r.reason,
        )
        for i, r in enumerate(design.runs)
    ]
    click.echo(Table.of(rows, ["#", "N", "D", "budget", "shape", "why"], align="rrrrll").text())
    for note in design.notes:
        click.echo(f"note: {note}")
    if path is not None:
        click.echo(f"runs: {path}  (next: scaling sweep --design {path} --out FOLDER)", err=True)


COMMANDS = [next_command]
