"""`scaling sweep`, `scaling train` and `scaling sample`: real small training runs (needs the train extra).

Only click and light modules at import time; torch is imported inside the commands, and a missing torch is one
line telling the user to install the extra (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import click

from scaling import units
from scaling.commands._common import FLOPS, echo_json, json_option, table, warn


def _need_torch() -> None:
    from scaling.train import require_torch

    require_torch()


def _budgets(text: str | None) -> list[float] | None:
    if not text:
        return None
    from scaling.units import parse_flops

    return [parse_flops(part.strip(), "--budgets") for part in text.split(",") if part.strip()]


device_option = click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "auto"]),
    default="cpu",
    show_default=True,
    help="Where to train (auto: a GPU if torch sees one). A sweep on GPUs runs one worker per GPU unless "
    "--workers says otherwise.",
)
recipe_option = click.option(
    "--recipe",
    "recipe_name",
    type=click.Choice(["fixed", "tuned"]),
    help="Training recipe: fixed (warmup min(100, steps/10)) or tuned (warmup scaled with the model, after "
    "Porian et al. 2024: N tokens, 100-step floor, at most a third of the run) [the folder's own, else fixed]. "
    "Recorded in sweep.json.",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16"]),
    default="auto",
    show_default=True,
    help="auto: bf16 autocast on a GPU that supports it, fp32 on the CPU.",
)


@click.command()
@click.option(
    "--preset",
    type=click.Choice(["smoke", "small", "medium"]),
    default="small",
    show_default=True,
    help="smoke: <1 min (CI); small: 3 budgets, 5-10 min; medium: small plus one budget, 7-16 min "
    "(2 cores, by load; an ETA is printed first).",
)
@click.option(
    "--budgets",
    help="Comma-separated FLOP budgets (exact training FLOPs), e.g. 1e12,3e12. Replaces the preset's.",
)
@click.option(
    "--sizes",
    type=int,
    help="Model sizes per budget, ~2x apart in N around the expected optimum [preset: 5]; a budget whose best "
    "size is on an edge gets one more (an edge extension).",
)
@click.option(
    "--data",
    default="stdlib",
    show_default=True,
    help="stdlib (Python's own sources), a folder, text files (comma-separated), a .bin memmap, "
    "or hf:BUILDER:FILES[:COLUMN].",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder: runs.csv, curves/, checkpoints/.",
)
@click.option("--workers", type=int, help="Single-threaded worker processes [all cores].")
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local process pool, or Ray tasks ($RAY_ADDRESS or a local cluster).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@recipe_option
@click.option(
    "--lr", type=float, help="Peak learning rate for every size [1e-2 up to d_model 128, lower beyond]."
)
@click.option(
    "--lr-grid",
    type=int,
    help="Train each run at this many peak learning rates, 2x apart around its own, for 'scaling fit RUNS "
    "--hyperparameters' (edge extensions off).",
)
@click.option(
    "--batch-grid", type=int, help="Likewise for the batch: this many batches 2x apart around the recipe's."
)
@click.option(
    "--repeats",
    type=int,
    default=1,
    show_default=True,
    help="Train each run under this many seeds (--seed, --seed + 1, ...); the fits use every repeat.",
)
@click.option(
    "--force-new", is_flag=True, help="Move results of a different sweep in --out aside instead of refusing."
)
@click.option(
    "--design",
    "design_path",
    type=click.Path(dir_okay=False),
    help="Run exactly the runs of this CSV (from `scaling next OUT -o next.csv`), under OUT's own recipe.",
)
@device_option
@precision_option
@click.option(
    "--calibration",
    "calibration_path",
    type=click.Path(dir_okay=False),
    help="A calibration of this device ('scaling calibrate --probe', or training logs of its GPU): the ETA "
    "uses its measured peak instead of the throughput probe, and says so.",
)
@click.option("--dry-run", is_flag=True, help="Print the planned runs without training.")
@json_option
def sweep(
    preset,
    budgets,
    sizes,
    data,
    out,
    workers,
    backend,
    seed,
    recipe_name,
    lr,
    lr_grid,
    batch_grid,
    repeats,
    force_new,
    design_path,
    device,
    precision,
    calibration_path,
    dry_run,
    as_json,
):
    """Run an IsoFLOP sweep of tiny GPT models; results go to OUT/runs.csv for `scaling fit`.

    \b
    Killed and started again with the same command, it redoes no finished run.
      scaling sweep --preset small --out runs/
      scaling sweep --budgets 1e12,3e12,1e13 --sizes 5 --data ~/books --out runs/books
      scaling sweep --preset medium --device cuda --out runs/gpu   # a worker per GPU, bf16 autocast
      scaling fit runs/runs.csv && scaling chart isoflop runs/runs.csv
      scaling sweep --preset smoke --lr-grid 3 --out runs/lr --dry-run
      scaling sweep --preset smoke --recipe tuned --out runs/tuned --dry-run
      scaling sweep --preset smoke --repeats 2 --out runs/two-seeds --dry-run
    """
    _need_torch()
    from scaling.train.folder import locked
    from scaling.train.run import torch_device
    from scaling.train.sweep import plan_sweep, run_sweep

    if device != "cpu":
        torch_device(device)  # no GPU: refused before the folder (and its lock) is created

    arguments = dict(
        preset=preset,
        budgets=_budgets(budgets),
        sizes=sizes,
        data=data,
        seed=seed,
        lr=lr,
        device=device,
        precision=precision,
        force_new=force_new,
        recipe_name=recipe_name,
        lr_grid=lr_grid,
        batch_grid=batch_grid,
        repeats=repeats,
    )
    if design_path:
        from scaling.train.sweep.designed import read_designed_runs, sweep_arguments

        arguments = {
            **arguments,
            "budgets": None,
            **sweep_arguments(out),
            "designed": read_designed_runs(design_path),
        }
    calibration = None
    if calibration_path:
        from scaling.calibration import load_calibration

        calibration = load_calibration(calibration_path)
    if dry_run:  # planning reads the folder and writes nothing, not even a lock
        _show_planned(plan_sweep(out, **arguments), as_json, workers, calibration)
        return
    with locked(Path(out)):  # held from reading the folder to the last row written
        plan = plan_sweep(out, **arguments)
        _say_corpus(plan)
        rows = run_sweep(
            plan,
            workers=workers,
            backend=backend,
            say=lambda m: click.echo(m, err=True),
            calibration=calibration,
        )
    _show_summary(rows, out, as_json)
    if not as_json:
        _show_throughput(rows, plan.recipe)


def _show_throughput(rows, recipe) -> None:
    from scaling.train.sweep import throughput

    t = throughput(rows, recipe)
    if not t["runs"]:
        return
    line = (
        f"throughput: {t['flops_per_s_min'] / 1e9:.3g}-{t['flops_per_s_max'] / 1e9:.3g} GFLOP/s per worker "
        f"(median {t['flops_per_s_median'] / 1e9:.3g}; exact training FLOPs, "
        f"{t['precision']} on {t['device']})"
    )
    if t["peak_flops_per_s"]:
        line += (
            f": {t['flops_per_s_median'] / t['peak_flops_per_s']:.1%} of the {t['accelerator']}'s "
            f"{t['peak_flops_per_s'] / 1e12:.0f} TFLOP/s dense {t['precision']} peak"
        )
    elif t["device"] == "cpu":
        line += "; python bench/bench_train.py sets it against this CPU's measured matmul peak"
    click.echo(line)


def _say_corpus(plan) -> None:
    click.echo(
        f"corpus: {plan.corpus['corpus']} ({plan.corpus['corpus_tokens'] / 1e6:.1f}M tokens, "
        f"sha256 {plan.corpus['corpus_sha256'][:12]}), tokenizer {plan.corpus['tokenizer']}",
        err=True,
    )
    from scaling.train.sweep.recipe import RECIPE_NOTES

    name = plan.recipe["name"]
    click.echo(f"recipe: {name} ({RECIPE_NOTES[name]})", err=True)


def _show_planned(plan, as_json: bool, workers: int | None, calibration=None) -> None:
    _say_corpus(plan)
    if plan.set_aside:
        click.echo(f"dry run: {plan.set_aside}; a real run would move the previous results aside", err=True)
    _say_eta(plan, workers, calibration)
    rows = [
        (
            c.run_id,
            units.format_flops(c.budget),
            f"d{c.d_model}l{c.n_layer}",
            c.lr,
            c.warmup or "auto",
            c.beta2,
        )
        for c in plan.configs
    ]
    if as_json:
        echo_json([c.to_dict() | {"precision": c.precision, "run_id": c.run_id} for c in plan.configs])
    else:
        click.echo(table(rows, ["run_id", "budget", "shape", "lr", "warmup", "beta2"]))


def _say_eta(plan, workers: int | None, calibration=None) -> None:
    """The ETA a real run would print first (its own throughput probe), or why there is none."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        click.echo("dry run: no ETA without PyTorch (pip install '.[train]')", err=True)
        return
    from scaling.train.sweep.driver import eta_source, planned_eta
    from scaling.train.sweep.eta import default_workers, format_clock

    workers = max(1, workers or default_workers(plan.recipe["device"]))
    eta, _, _ = planned_eta(plan, plan.configs, workers, calibration=calibration)
    source = "throughput probe" if calibration is None else eta_source(calibration, plan)
    click.echo(
        f"dry run: {len(plan.configs)} runs on {workers} worker(s), ETA ~{format_clock(eta)} ({source}); "
        "a budget whose best size lands on an edge of its sizes gets one more (an edge extension)",
        err=True,
    )


def _show_summary(rows, out, as_json: bool) -> None:
    from scaling.train.sweep import summarize

    summary = summarize(rows)
    if as_json:
        echo_json(summary)
        return
    for s in summary:
        cells = "  ".join(
            f"{name} {loss:.3f}" if status == "ok" else f"{name} {status}"
            for name, _, status, loss in s["runs"]
        )
        where = "interior" if s["interior"] else "ON AN EDGE"
        click.echo(f"C={s['budget']:.3g}: {cells}  -> min {s['best']} ({where})")
        if not s["interior"]:
            warn(f"budget {s['budget']:.3g}: the minimum is on an edge of the sizes tried")
    click.echo(f"results: {Path(out) / 'runs.csv'}  (next: scaling fit {Path(out) / 'runs.csv'})")


@click.command(name="train")
@click.option("--d-model", type=int, required=True)
@click.option("--n-layer", type=int, required=True)
@click.option("--n-head", type=int, help="[heads of 32 dims, at least 2]")
@click.option("--budget", type=FLOPS, help="Training FLOPs (exact convention); sets the token count.")
@click.option("--tokens", type=float, help="Or the token count directly.")
@click.option("--seq-len", type=int, default=128, show_default=True)
@click.option("--batch", type=int, default=8, show_default=True)
@click.option("--lr", type=float, default=1e-2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--data", default="stdlib", show_default=True)
@device_option
@precision_option
@click.option("--out", required=True, type=click.Path(file_okay=False))
@json_option
def train_one(
    d_model, n_layer, n_head, budget, tokens, seq_len, batch, lr, seed, data, device, precision, out, as_json
):
    """Train one model; writes OUT/runs.csv (one row), its curve and checkpoint."""
    _need_torch()
    from scaling.train.folder import add_row, locked
    from scaling.train.run import RunConfig, resolve_precision, train_run, write_curve

    config = RunConfig(
        d_model=d_model,
        n_layer=n_layer,
        n_head=n_head,
        budget=budget,
        tokens=tokens,
        seq_len=seq_len,
        batch=batch,
        lr=lr,
        seed=seed,
        data=data,
        device=device,
        precision=resolve_precision(precision, device),
    )
    with locked(Path(out)):  # one writer of the folder at a time, checked before training
        record = train_run(config, out_dir=out)
        write_curve(record, out)
        add_row(Path(out) / "runs.csv", record.row)
    if as_json:
        echo_json(record.row)
        return
    r = record.row
    click.echo(
        f"{r['run_id']}: {r['status']}, loss {r['loss']:.4f} nats/token, N {r['N']:,}, D {r['D']:,}, "
        f"C {r['C']:.3g} FLOPs, {r['tokens_per_s']:,.0f} tokens/s, {r['flops_per_s'] / 1e9:.1f} GFLOP/s"
    )


@click.command()
@click.argument("run_dir", type=click.Path(exists=True))
@click.option("--run", "run_id", help="Which run in a sweep folder [the lowest-loss one].")
@click.option("--prompt", default="def ", show_default=True)
@click.option("--max-new-tokens", type=int, default=200, show_default=True)
@click.option("--temperature", type=float, default=0.8, show_default=True, help="<1 sharper, >1 flatter.")
@click.option(
    "--top-k", type=int, default=40, show_default=True, help="Keep the k likeliest tokens (0: all)."
)
@click.option(
    "--top-p", type=float, default=0.9, show_default=True, help="Keep the smallest set with mass p (1: all)."
)
@click.option("--greedy", is_flag=True, help="Always the likeliest token (ignores the sampling options).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--compare", is_flag=True, help="Show greedy, temperatures, top-k and top-p side by side.")
@json_option
def sample(
    run_dir, run_id, prompt, max_new_tokens, temperature, top_k, top_p, greedy, seed, compare, as_json
):
    """Generate text from a trained run (a sweep folder, a run folder, or a checkpoint .pt)."""
    _need_torch()
    from scaling.train.sample import COMPARISON, Decoding, find_checkpoint, generate, load_model

    settings = [
        Decoding(
            greedy=greedy,
            temperature=temperature,
            top_k=None if top_k == 0 else top_k,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            seed=seed,
        )
    ]
    if compare:
        from dataclasses import replace

        settings = [replace(d, max_new_tokens=max_new_tokens, seed=seed) for d in COMPARISON]
    model, row = load_model(find_checkpoint(run_dir, run_id))
    outputs = [(d.describe(), generate(model, prompt, d)) for d in settings]
    if as_json:
        echo_json(
            {
                "run_id": row["run_id"],
                "loss": row["loss"],
                "prompt": prompt,
                "samples": [{"decoding": name, "text": text} for name, text in outputs],
            }
        )
        return
    click.echo(f"# {row['run_id']} (val loss {row['loss']:.3f} nats/byte)", err=True)
    for name, text in outputs:
        if len(outputs) > 1:
            click.echo(f"--- {name}")
        click.echo(prompt + text)


COMMANDS = [sweep, train_one, sample]
