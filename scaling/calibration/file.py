"""The calibration file: `Calibration`, its `Factor`s, and reading and writing it.

A calibration is JSON with a schema version, the accelerator it was measured on, and each fitted factor with
its value, its interval, its unit, what it means and which measurements it came from, so a reader can check
every number against the rows that produced it. One file holds what one accelerator measured: a calibration
for another accelerator is refused (`Calibration.check_for`), since its efficiencies describe other kernels
and other links.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scaling import inputs
from scaling.catalog import Accelerator, get_accelerator, normalize_name
from scaling.errors import ScalingError, quoted

SCHEMA_VERSION = 1
KINDS = ("training", "serving", "probe")
# The factors a calibration may hold, the range each may take, and its unit.
FACTORS = {
    "compute_efficiency": ((1e-4, 1.0), "fraction of dense peak"),
    "link_efficiency": ((1e-4, 1.0), "fraction of catalog link bandwidth"),
    "step_overhead_s": ((0.0, 3600.0), "seconds per step"),
    "memory_overhead_bytes": ((0.0, 1e13), "bytes per device"),
    "decode_bandwidth_fraction": ((1e-4, 1.0), "fraction of memory bandwidth (MBU)"),
    "prefill_compute_fraction": ((1e-4, 1.0), "fraction of dense peak (prefill MFU)"),
    "serving_step_overhead_s": ((0.0, 60.0), "seconds per decode step"),
    "gemm_efficiency": ((1e-4, 10.0), "fraction of catalog dense peak"),
    "memory_bandwidth_fraction": ((1e-4, 10.0), "fraction of catalog memory bandwidth"),
    "allreduce_bus_efficiency": ((1e-4, 10.0), "fraction of catalog link bandwidth"),
}
# The serving efficiencies (`scaling.serving.efficiency.QUANTITIES`) each serving factor replaces: the compute
# share of prefill and of compute-bound decode (as ``--mfu`` does), the bandwidth share of the weight and KV
# reads (as ``--mbu``), and the seconds per forward pass (as ``--overhead``).
SERVING_FACTORS = {
    "prefill_compute_fraction": ("prefill_mfu", "decode_mfu"),
    "decode_bandwidth_fraction": ("weights_mbu", "kv_mbu"),
    "serving_step_overhead_s": ("step_overhead_s",),
}


@dataclass(frozen=True)
class Factor:
    """One fitted number: ``value``, its ``interval`` (low, high; None when the measurements are too few),
    its unit, what it means, and the measurements (row numbers of the input) it was fitted on."""

    value: float
    interval: tuple[float, float] | None
    unit: str
    meaning: str
    measurements: tuple[int, ...] = ()

    def __post_init__(self) -> None:  # plain floats (numpy's print as np.float64 in a repr)
        object.__setattr__(self, "value", float(self.value))
        if self.interval is not None:
            object.__setattr__(self, "interval", (float(self.interval[0]), float(self.interval[1])))

    def text(self) -> str:
        interval = "" if self.interval is None else f" [{self.interval[0]:.4g}, {self.interval[1]:.4g}]"
        return f"{self.value:.4g}{interval} {self.unit}"


@dataclass(frozen=True)
class Calibration:
    """What `scaling calibrate` fitted: ``factors`` by name for ``accelerator``, from ``source`` (the file
    and its rows), with a row per measurement in ``measurements`` (measured and predicted after fitting)."""

    kind: str
    accelerator: str
    factors: dict[str, Factor]
    source: dict[str, Any] = field(default_factory=dict)
    measurements: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    path: str = ""  # where it was read from (not written)

    def factor(self, name: str) -> Factor | None:
        return self.factors.get(name)

    def value(self, name: str, default: float) -> float:
        """The factor's value, or ``default`` when this calibration does not hold it."""
        found = self.factors.get(name)
        return default if found is None else found.value

    def lines(self) -> list[tuple[str, str]]:
        """Each factor as a label/value line, for every face that prints what it used."""
        return [(name, f.text()) for name, f in self.factors.items()]

    @property
    def label(self) -> str:
        return f"calibration {self.path or 'given'} ({self.kind}, {self.accelerator})"

    def check_for(self, accelerator: Accelerator | str) -> None:
        """Refuse to apply this calibration to another accelerator, in one line."""
        name = accelerator.name if isinstance(accelerator, Accelerator) else str(accelerator)
        if normalize_name(name) == normalize_name(self.accelerator):
            return
        try:
            same = normalize_name(get_accelerator(name).name) == normalize_name(self.accelerator)
        except ScalingError:  # a device the catalog lacks (probe-cpu) is another accelerator
            same = False
        if not same:
            raise ScalingError(
                f"{self.label} was measured on {self.accelerator}, not {name}: calibrate on logs from "
                f"{name}, or drop --calibration"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "accelerator": self.accelerator,
            "factors": {
                name: {**asdict(f), "interval": None if f.interval is None else list(f.interval)}
                for name, f in self.factors.items()
            },
            "source": self.source,
            "measurements": list(self.measurements),
            "notes": list(self.notes),
        }

    def write(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")


def load_calibration(path: str | Path) -> Calibration:
    """A calibration file, checked: its schema version, kind, accelerator (in the catalog) and every factor
    (a number in its range). Anything else is one `ScalingError` naming the file and what is wrong."""
    where = f"calibration {quoted(str(path))}"
    return calibration_from_dict(inputs.parse_json(inputs.read_text(path, "calibration file"), where), path)


def calibration_from_dict(data: Any, path: str | Path) -> Calibration:
    """A calibration file's parsed JSON, checked as `load_calibration` does (``path`` names it)."""
    where = f"calibration {quoted(str(path))}"
    if not isinstance(data, dict):
        raise ScalingError(f"{where} is not a calibration: expected a JSON object from 'scaling calibrate'")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ScalingError(
            f"{where} has schema_version {version!r}: this version reads {SCHEMA_VERSION} (rerun "
            "'scaling calibrate')"
        )
    kind = data.get("kind")
    if kind not in KINDS:
        raise ScalingError(f"{where} has kind {kind!r}: expected one of {', '.join(KINDS)}")
    name = data.get("accelerator")
    if not isinstance(name, str) or not name:
        raise ScalingError(f"{where} names no accelerator")
    source = data.get("source") if isinstance(data.get("source"), dict) else {}
    row = source.get("accelerator_row") if isinstance(source.get("accelerator_row"), dict) else {}
    # a probe of a device the catalog lacks names its own measured row (probe-cpu)
    accelerator = name if kind == "probe" and row.get("name") == name else get_accelerator(name).name
    raw = data.get("factors")
    if not isinstance(raw, dict) or not raw:
        raise ScalingError(f"{where} holds no factors")
    factors = {key: _factor(where, key, value) for key, value in raw.items()}
    measurements = data.get("measurements") or []
    return Calibration(
        kind=kind,
        accelerator=accelerator,
        factors=factors,
        source=source,
        measurements=tuple(m for m in measurements if isinstance(m, dict)),
        notes=tuple(str(n) for n in data.get("notes") or ()),
        path=str(path),
    )


def _factor(where: str, key: str, value: Any) -> Factor:
    if key not in FACTORS:
        raise ScalingError(f"{where}: unknown factor {key!r} (known: {', '.join(FACTORS)})")
    (low, high), unit = FACTORS[key]
    if not isinstance(value, dict):
        raise ScalingError(f"{where}: factor {key!r} is not an object with a value")
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise ScalingError(f"{where}: factor {key!r} has no finite value")
    if not low <= number <= high:
        raise ScalingError(f"{where}: factor {key!r} = {number:g} is outside [{low:g}, {high:g}] ({unit})")
    interval = value.get("interval")
    pair = None
    if isinstance(interval, (list, tuple)) and len(interval) == 2:
        if all(isinstance(v, (int, float)) and math.isfinite(v) for v in interval):
            pair = (float(interval[0]), float(interval[1]))
    rows = value.get("measurements") or ()
    return Factor(
        value=float(number),
        interval=pair,
        unit=unit,
        meaning=str(value.get("meaning", "")),
        measurements=tuple(int(r) for r in rows if isinstance(r, int) and not isinstance(r, bool)),
    )


def memory_overhead(cal: Calibration | None, given: float | None, cluster: Any) -> float | None:
    """The memory overhead per device: as given, else the calibration's (checked for the accelerator)."""
    if cal is None or given is not None:
        return given
    if cluster.accelerator is not None:
        cal.check_for(cluster.accelerator)
    factor = cal.factor("memory_overhead_bytes")
    if factor is None:
        raise ScalingError(
            f"{cal.label} holds no memory overhead: log peak_memory per device and recalibrate"
        )
    return factor.value
