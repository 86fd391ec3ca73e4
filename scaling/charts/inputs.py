"""What the charts read, made uniform: a law by name or value, a FLOPs range, a runs table and its loss unit,
a plan's point, the well-known models."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scaling import catalog, units
from scaling.errors import ScalingError
from scaling.flops import six_nd
from scaling.laws import Law, get_law


def attr_or_key(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def as_law(law: Law | str) -> Law:
    return law if isinstance(law, Law) else get_law(law)


def flops_grid(flops_range: Sequence[float], points_per_decade: int = 20) -> np.ndarray:
    lo, hi = (units.parse_flops(v, "FLOPs range") for v in flops_range)
    if not hi > lo:
        raise ScalingError(f"invalid FLOPs range {flops_range!r}: the upper end must exceed the lower end")
    decades = math.log10(hi) - math.log10(lo)
    return np.logspace(math.log10(lo), math.log10(hi), max(int(round(decades * points_per_decade)) + 1, 2))


def runs_frame(runs: Any):
    """A runs table as the fitter reads it (aliases resolved, failed/diverged runs dropped)."""
    from scaling import fit

    return fit.read_runs(runs)


def loss_unit_of(frame: Any, law: Law | None = None) -> str:
    """The loss's unit: the runs table's ``loss_unit`` column (``nats/byte`` for byte-level runs), else the
    law's own, else nats/token. A law in another unit than its runs is drawn with a warning."""
    runs_unit = None
    if "loss_unit" in getattr(frame, "columns", ()):
        seen = {str(u) for u in frame["loss_unit"].dropna().unique() if str(u).strip()}
        if len(seen) > 1:
            raise ScalingError(f"the runs table mixes loss units {sorted(seen)}: one chart needs one unit")
        runs_unit = seen.pop() if seen else None
    law_unit = getattr(law, "loss_unit", None)
    if runs_unit and law_unit and runs_unit != law_unit:
        from scaling.fit import ScalingWarning

        warnings.warn(
            f"law {law.name!r} predicts loss in {law_unit} but the runs are in {runs_unit}: "
            "the chart compares numbers in different units",
            ScalingWarning,
            stacklevel=3,
        )
    return runs_unit or law_unit or "nats/token"


def plan_point(plan: Any) -> dict[str, float]:
    """params/tokens/flops from a dict or object (an `Allocation`, a plan); any two give the third
    (C = 6ND)."""
    values = {}
    for key in ("params", "tokens", "flops"):
        value = attr_or_key(plan, key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            values[key] = float(np.asarray(value, dtype=float).reshape(-1)[0])
    N, D, C = values.get("params"), values.get("tokens"), values.get("flops")
    if N and D and not C:
        C = six_nd(N, D)
    elif N and C and not D:
        D = C / six_nd(N, 1.0)
    elif D and C and not N:
        N = C / six_nd(D, 1.0)
    if not (N and D and C):
        raise ScalingError(
            f"a plan needs two of params, tokens and flops (C = 6ND gives the third); got {values}"
        )
    return {"params": N, "tokens": D, "flops": C, "name": attr_or_key(plan, "name") or "your plan"}


KNOWN_MODELS_FILE = "known_models.csv"


def read_known_models(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The well-known models of ``data/known_models.csv`` (or your own file with the same columns)."""
    return catalog.known_models(path)


def known_models_list(source: bool | str | Path | list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if source is True:
        return read_known_models()
    if isinstance(source, (str, Path)):
        return read_known_models(source)
    return [
        plan_point(m) | {k: v for k, v in dict(m).items() if k not in ("params", "tokens", "flops")}
        for m in source
    ]
