"""What a downstream map predicts at one plan: the metric, its value and interval, and the loss it was read at
(`scaling.recipe.downstream` for loss maps, `scaling.recipe.ladder` for a task's ladder)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DownstreamPrediction:
    """A map's value at one loss, with its interval."""

    map: str
    metric: str
    loss: float
    value: float
    interval: tuple[float, float]
    level: float
    source: str
    task: str | None = None  # a ladder map's task; its loss is then the task loss at the plan's N and D
    loss_metric: str | None = None
    loss_interval: tuple[float, float] | None = None
    note: str | None = None  # what the interval leaves out (a ladder read beyond its runs)

    def text(self) -> str:
        low, high = self.interval
        at = f"at loss {self.loss:.4f}"
        if self.loss_interval is not None:
            lo, hi = self.loss_interval
            at = f"at task loss {self.loss:.4f} {self.loss_metric} ({lo:.4f}-{hi:.4f})"
        note = f"; {self.note}" if self.note else ""
        return f"{self.value:.1%} ({self.level:.0%} interval {low:.1%}-{high:.1%}) {at} ({self.source}{note})"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "map": self.map,
            "metric": self.metric,
            "loss": self.loss,
            "value": self.value,
            "interval": list(self.interval),
            "interval_level": self.level,
            "source": self.source,
        }
        if self.task is not None:
            interval = list(self.loss_interval or ())
            out.update(task=self.task, loss_metric=self.loss_metric, loss_interval=interval, note=self.note)
        return out


def quantile(values: list[float], level: float) -> float:
    """The ``level`` quantile with linear interpolation (numpy's default), without numpy's masked arrays,
    which a plan does not otherwise import."""
    ordered = sorted(values)
    position = level * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
