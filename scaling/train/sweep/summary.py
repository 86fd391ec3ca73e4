"""What a finished sweep shows: per budget the sizes tried, their losses and where the minimum landed, and
the finished runs' training throughput (FLOP/s per worker, and on a GPU the fraction of its peak)."""

from __future__ import annotations

from typing import Any

from scaling.train.run import on_gpu
from scaling.train.sweep.grid import cell_float, finite_cell
from scaling.train.sweep.recipe import RECIPE_DEFAULTS


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget: the sizes tried, their losses, and where the minimum landed (for the report and the
    CLI)."""
    out = []
    for budget in sorted({float(r["budget"]) for r in rows}):
        runs = sorted((r for r in rows if float(r["budget"]) == budget), key=lambda r: float(r["N_nonemb"]))
        ok = [r for r in runs if r["status"] == "ok" and finite_cell(r["loss"])]
        best = min(range(len(ok)), key=lambda i: float(ok[i]["loss"])) if ok else None
        out.append(
            {
                "budget": budget,
                "runs": [
                    (
                        f"d{r['d_model']}l{r['n_layer']}",
                        int(float(r["N_nonemb"])),
                        r["status"],
                        cell_float(r["loss"]),
                    )
                    for r in runs
                ],
                "best": None if best is None else f"d{ok[best]['d_model']}l{ok[best]['n_layer']}",
                "interior": best is not None and 0 < best < len(ok) - 1,
            }
        )
    return out


def throughput(rows: list[dict[str, Any]], recipe: dict[str, Any]) -> dict[str, Any]:
    """The finished runs' training FLOP/s per worker (exact convention) in the recipe's precision, and on a
    GPU the fraction of the device's dense peak for that precision from the accelerator catalog."""
    import statistics

    from scaling.catalog import accelerator_for_device

    rates = sorted(
        cell_float(r.get("flops_per_s"))
        for r in rows
        if r.get("status") == "ok" and finite_cell(r.get("flops_per_s"))
    )
    precision = recipe.get("precision", RECIPE_DEFAULTS["precision"])
    out: dict[str, Any] = {
        "precision": precision,
        "device": "cpu",
        "peak_flops_per_s": None,
        "runs": len(rates),
    }
    if rates:
        out.update(
            flops_per_s_min=rates[0], flops_per_s_median=statistics.median(rates), flops_per_s_max=rates[-1]
        )
    if on_gpu(recipe.get("device", "cpu")):
        import torch

        out["device"] = torch.cuda.get_device_name()
        accelerator = accelerator_for_device(out["device"])
        if accelerator is not None and precision in accelerator.peak_flops:
            out["peak_flops_per_s"] = accelerator.peak(precision)
            out["accelerator"] = accelerator.name
    return out
