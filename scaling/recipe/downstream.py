"""Loss to benchmark error: maps from a law's predicted loss to a downstream metric, and the rule that a map
applies only to a law whose loss is measured on the map's data.

* ``kind: error``: Err(L) = epsilon - k exp(-gamma L), Gadre et al. 2024 (arXiv 2403.08540), the 17-task
  average top-1 error from the C4-validation loss, one map per training set (``data/downstream.json``),
  attached to the loss laws fitted on the same runs (``gadre-c4``, ``gadre-redpajama``,
  ``gadre-refinedweb`` in ``data/laws.json``).
* The interval: Err x (1 +- r), r the `level` quantile of the relative errors of Gadre et al.'s own held-out
  predictions (their 1.4B over-trained and 6.9B models, three training sets): an empirical prediction
  interval, not a fit uncertainty.
* ``kind: ladder``: Bhagia et al. 2024's two-step ladder per task, fitted on the user's own runs and evals and
  carried by their law file (`scaling.recipe.ladder`); it reads the plan's N and D, not its loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from scaling import catalog, checks
from scaling.errors import ScalingError, quoted
from scaling.recipe.ladder import ladder_maps
from scaling.recipe.prediction import DownstreamPrediction, quantile


@dataclass(frozen=True)
class DownstreamMap:
    """Err(L) = epsilon - k exp(-gamma L) for one metric, valid for a loss measured on ``eval_data``."""

    name: str
    laws: tuple[str, ...]
    metric: str
    eval_data: str
    epsilon: float
    k: float
    gamma: float
    relative_error: float
    level: float
    source: str
    random_chance: float | None = None

    def error(self, loss: Any) -> Any:
        """The metric at ``loss`` (broadcasts)."""
        return self.epsilon - self.k * np.exp(-self.gamma * np.asarray(loss, dtype=float))

    def predict(self, loss: float) -> DownstreamPrediction:
        value = float(self.error(float(checks.positive(loss, "loss"))))
        low, high = value * (1 - self.relative_error), value * (1 + self.relative_error)
        return DownstreamPrediction(
            self.name, self.metric, float(loss), value, (low, high), self.level, self.source
        )


@lru_cache(maxsize=2)
def _maps(path: str) -> dict[str, DownstreamMap]:
    data = catalog.read_json(catalog.data_path(path))
    interval = data["interval"]
    level = float(interval["level"])
    relative = quantile([float(e) for e in interval["held_out_relative_errors"]], level)
    out = {}
    for entry in data["maps"]:
        c = entry["constants"]
        out[catalog.normalize_name(entry["name"])] = DownstreamMap(
            name=entry["name"],
            laws=tuple(catalog.normalize_name(n) for n in entry["laws"]),
            metric=entry["metric"],
            eval_data=entry["eval_data"],
            epsilon=float(c["epsilon"]),
            k=float(c["k"]),
            gamma=float(c["gamma"]),
            relative_error=relative,
            level=level,
            source=entry["source"],
            random_chance=entry.get("random_chance"),
        )
    return out


def downstream_maps() -> list[DownstreamMap]:
    """Every map in ``data/downstream.json``."""
    return list(_maps("downstream.json").values())


def get_map(name: str) -> DownstreamMap:
    maps = _maps("downstream.json")
    key = catalog.normalize_name(name)
    if key not in maps:
        raise catalog.unknown("downstream map", name, list(maps), "scaling laws")
    return maps[key]


def maps_for(law: Any) -> list[DownstreamMap]:
    """The maps attached to ``law`` (by its name)."""
    name = catalog.normalize_name(getattr(law, "name", ""))
    return [m for m in downstream_maps() if name in m.laws]


def check_same_data(law: Any, downstream: Any) -> None:
    """Refuse a map (a `DownstreamMap` or a ladder map) for a law whose loss is on other data than the map's
    (one line)."""
    data = getattr(law, "eval_data", None)
    if data is None or catalog.normalize_name(data) != catalog.normalize_name(downstream.eval_data):
        measured = f"on {data}" if data else "on data it does not state"
        raise ScalingError(
            f"--downstream {quoted(downstream.name)}: law {quoted(law.name)} predicts loss {measured}, the "
            f"map was fitted on {downstream.eval_data}; a benchmark number from it would mean nothing (use a "
            f"law whose loss is on {downstream.eval_data}, e.g. {', '.join(downstream.laws)})"
        )


def chosen_maps(law: Any, map_name: str | None, maps_law: Any = None) -> list[Any]:
    """The maps a plan reports: ``map_name`` (a map of ``data/downstream.json``, or the law file
    ``maps_law`` whose ladder maps to use), else the maps attached to the law and the ladder maps its file
    carries."""
    if not map_name:
        return [*maps_for(law), *ladder_maps(law)]
    if maps_law is not None:
        maps = ladder_maps(maps_law)
        if not maps:
            raise ScalingError(
                f"--downstream {quoted(map_name)}: the law file carries no downstream maps (fit them with "
                "'scaling fit RUNS --downstream evals.csv -o law.json')"
            )
        return maps
    return [get_map(map_name)]


def predict_downstream(
    law: Any,
    loss: float | None,
    map_name: str | None = None,
    params: float | None = None,
    tokens: float | None = None,
    maps_law: Any = None,
) -> list[DownstreamPrediction]:
    """The downstream predictions of a plan: the named map(s) (checked against the law's data; a law file
    named by ``map_name`` is read by the caller as ``maps_law``), else the maps attached to the law; a loss
    map reads the plan's ``loss`` (none when the law predicts no loss), a ladder map its ``params`` and
    ``tokens``."""
    chosen = chosen_maps(law, map_name, maps_law)
    for downstream in chosen:
        check_same_data(law, downstream)
    out = []
    for downstream in chosen:
        if isinstance(downstream, DownstreamMap):
            if loss is None or not math.isfinite(loss):
                if map_name:
                    raise ScalingError(
                        f"--downstream {quoted(map_name)}: law {quoted(law.name)} predicts no loss"
                    )
                continue
            out.append(downstream.predict(loss))
        elif params is not None and tokens is not None:
            out.append(downstream.predict(params, tokens))
    return out
