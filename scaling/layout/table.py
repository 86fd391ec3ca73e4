"""The ranked layouts as one table, with the step-time model stated under it."""

from __future__ import annotations

import math
from typing import Any


def _percent(value: float) -> str:
    return f"{value:.1%}" if math.isfinite(value) else "n/a"


def step_model_notes(a: dict[str, Any]) -> list[str]:
    """What the step-time model assumes, from a search's attrs: the lines printed under a layouts table."""
    comm = "TP/DP/PP/EP all-to-all" if a.get("moe") else "TP/DP/PP"
    return [
        f"MFU {a['mfu']:.1%} end to end ({a['flops_convention']} model FLOPs / (devices x peak x step time), "
        "Chowdhery et al. 2022 App. B) fixes the step time; each layout explains it as compute + pipeline "
        f"bubble + {comm} communication ({a['intra_node_link']} {a['intra_node_bytes_per_s'] / 1e9:g} GB/s "
        f"within a node, network {a['inter_node_bytes_per_s'] / 1e9:g} GB/s, no overlap)",
        "kernels: the efficiency the compute part then needs (hardware FLOPs, exact with attention and "
        f"recomputation, over peak x compute time); max MFU: what the layout reaches with kernels at "
        f"{a['kernel_efficiency_ceiling']:.0%} of peak; HFU: hardware FLOPs over peak x step time",
    ]


def layouts_table(df: Any) -> Any:
    """The ranked layouts of `search_layouts` as one table (`scaling.render.Table`): what ``memory --search``
    prints and the app shows, with the step-time model stated under it."""
    from scaling.render import Table
    from scaling.units import GIB

    moe = bool(df.attrs.get("moe"))
    rows = [
        (
            r.tp,
            r.pp,
            r.dp,
            *((r.ep, r.etp, f"{r.heaviest_stage}") if moe else ()),
            r.zero,
            r.micro_batch,
            r.recompute,
            "y" if r.sp else "n",
            f"{r.total_bytes / GIB:.1f}",
            f"{r.headroom_bytes / GIB:.1f}",
            f"{r.global_batch:,}",
            f"{r.step_s:.3g}",
            _percent(r.kernel_efficiency),
            f"{r.max_mfu:.1%}",
            f"{r.hfu:.1%}",
            f"{r.tokens_per_s:,.0f}",
        )
        for r in df.itertuples()
    ]
    headers = (
        "TP",
        "PP",
        "DP",
        *(("EP", "ETP", "stage") if moe else ()),
        "ZeRO",
        "mb",
        "recompute",
        "SP",
        "GiB/dev",
        "headroom",
        "batch",
        "step s",
        "kernels",
        "max MFU",
        "HFU",
        "tokens/s",
    )
    a = df.attrs
    notes = [
        f"{a.get('valid', 0)} valid layouts of {a.get('candidates', 0)}, {a.get('fit', 0)} fit; "
        "ranked by the highest MFU each can reach"
    ]
    if "flops_convention" in a:
        notes.extend(step_model_notes(a))
    return Table.of(rows, headers, title="Best layouts", notes=notes)
