"""`MemoryBreakdown`: per-device memory by named term, with the inputs it was computed under."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scaling.render import Displayable, Table
from scaling.units import GIB


@dataclass(frozen=True)
class MemoryBreakdown(Displayable):
    """Per-device memory in bytes, by named term, with the inputs it was computed under.

    ``terms`` is a list of (name, bytes, rule) rows, one per named term, whose rule text gives the bytes/param
    convention or formula and its source. ``total_bytes`` is their sum (the ``accelerate`` convention: their
    max). ``activations_bytes`` includes ``logits_bytes``; ``optimizer_bytes`` excludes the fp32 master copy
    (``master_weights_bytes``). ``cpu_bytes`` is host memory per node. ``fits``, ``capacity_bytes`` and
    ``headroom_bytes`` are None without an accelerator.
    """

    weights_bytes: float
    master_weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float
    logits_bytes: float
    kv_cache_bytes: float
    overhead_bytes: float
    total_bytes: float
    cpu_bytes: float
    fits: bool | None
    capacity_bytes: float | None
    headroom_bytes: float | None
    terms: list[tuple[str, float, str]]
    model: str
    mode: str
    convention: str
    params: float
    trainable_params: float
    inputs: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(
        default_factory=list
    )  # per pipeline stage: stage, layers, total_bytes
    heaviest_stage: int | None = None  # the pipeline stage the terms are for (training)

    KEYS = (
        "weights_bytes",
        "gradients_bytes",
        "optimizer_bytes",
        "activations_bytes",
        "kv_cache_bytes",
        "overhead_bytes",
        "total_bytes",
        "cpu_bytes",
    )

    def to_dict(self) -> dict[str, Any]:
        """Base-unit keys (bytes): the stable keys (``KEYS``), then the extra terms, ``fits``,
        the terms and inputs."""
        out: dict[str, Any] = {k: float(getattr(self, k)) for k in self.KEYS}
        out.update(
            master_weights_bytes=float(self.master_weights_bytes),
            logits_bytes=float(self.logits_bytes),
            capacity_bytes=self.capacity_bytes,
            headroom_bytes=self.headroom_bytes,
            fits=self.fits,
            model=self.model,
            mode=self.mode,
            convention=self.convention,
            params=self.params,
            trainable_params=self.trainable_params,
            terms=[{"name": n, "bytes": float(v), "rule": r} for n, v, r in self.terms],
            inputs=dict(self.inputs),
            notes=list(self.notes),
            stages=[dict(s) for s in self.stages],
            heaviest_stage=self.heaviest_stage,
        )
        return out

    def to_row(self) -> dict[str, Any]:
        """A flat dict (no nested terms) for a pandas row."""
        row = {k: v for k, v in self.to_dict().items() if k not in ("terms", "inputs", "notes", "stages")}
        row.update(
            {f"input_{k}": v for k, v in self.inputs.items() if not isinstance(v, (list, tuple, dict))}
        )
        return row

    def to_series(self):
        import pandas as pd

        return pd.Series(self.to_row(), name=self.model)

    def display_tables(self) -> list[Table]:
        """Every term in GiB per device with its rule and source, the total, and whether it fits
        (notebooks)."""
        rows = [(name, f"{value / GIB:,.3f}", rule) for name, value, rule in self.terms]
        rows.append(("total per device", f"{self.total_bytes / GIB:,.3f}", ""))
        if self.capacity_bytes is not None:
            rows.append(
                (
                    f"capacity ({self.inputs.get('accelerator')})",
                    f"{self.capacity_bytes / GIB:,.3f}",
                    "fits" if self.fits else "does NOT fit",
                )
            )
        return [
            Table.of(
                rows,
                ("term (per device)", "GiB", "rule / source"),
                title=f"Memory: {self.model}",
                notes=tuple(self.notes),
                align="lrl",
            )
        ]
