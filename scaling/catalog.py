"""The catalogs in `data/`: accelerators, model presets, published laws and well-known models.

Each data file is looked up, in order, in ``$SCALING_DATA_DIR`` (so a user can override one catalog file),
in the installed package (``scaling/data`` inside the wheel) and in the checkout (``<repo>/data``, which is
also what an editable install sees).
"""

from __future__ import annotations

import csv
import difflib
import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError


def _candidate_dirs() -> list[Path]:
    env = os.environ.get("SCALING_DATA_DIR")
    here = Path(__file__).resolve().parent
    return ([Path(env)] if env else []) + [here / "data", here.parent / "data"]


@lru_cache(maxsize=1)
def data_dir() -> Path:
    """The folder that holds the packaged catalog files (``$SCALING_DATA_DIR`` may override single files)."""
    candidates = _candidate_dirs()
    for candidate in candidates[1:] if os.environ.get("SCALING_DATA_DIR") else candidates:
        if (candidate / "models.csv").is_file():
            return candidate
    raise FileNotFoundError(
        "scaling's data files were not found (looked in: " + ", ".join(str(c) for c in candidates) + ")"
    )


def data_path(name: str) -> Path:
    """A catalog file: from ``$SCALING_DATA_DIR`` if it holds one of that name, else the packaged one."""
    for candidate in _candidate_dirs():
        if (candidate / name).is_file():
            return candidate / name
    return data_dir() / name


def read_csv(name: str | Path) -> list[dict[str, str]]:
    """Rows of a catalog CSV as dicts of strings; lines starting with '#' are comments."""
    path = Path(name) if isinstance(name, Path) else data_path(name)
    with open(path, newline="", encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(lines)]


def read_json(name: str | Path) -> Any:
    path = Path(name) if isinstance(name, Path) else data_path(name)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def normalize_name(name: str) -> str:
    """Catalog names are compared lowercase with '_' and ' ' read as '-'."""
    return str(name).strip().lower().replace("_", "-").replace(" ", "-")


def unknown(kind: str, name: str, choices: list[str], listing: str) -> ScalingError:
    """The error for an unknown catalog name, with close-match suggestions."""
    close = difflib.get_close_matches(normalize_name(name), choices, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ScalingError(f"unknown {kind} {name!r}{hint} (see '{listing}' for the list)")


# ---------------------------------------------------------------------------------------- known models
def known_models(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The well-known models of ``data/known_models.csv`` (or a file with the same columns), with numeric
    ``params``, ``tokens`` and ``flops`` (6ND where the file gives none) and ``flops_method``."""
    out = []
    for row in read_csv(Path(path) if path else "known_models.csv"):
        try:
            params, tokens = float(row["params"]), float(row["tokens"])
            flops = float(row["flops"]) if row.get("flops") else 6.0 * params * tokens
        except (KeyError, ValueError):
            raise ScalingError(
                f"bad known-models row {row.get('name', row)!r}: needs numeric params and tokens (flops optional)"
            ) from None
        out.append({**row, "params": params, "tokens": tokens, "flops": flops,
                    "flops_method": row.get("flops_method") or "6ND"})  # fmt: skip
    return out


# ------------------------------------------------------------------------------------------ accelerators
DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8")


@dataclass(frozen=True)
class Accelerator:
    """One accelerator: dense (no sparsity) peak FLOP/s per dtype, memory and bandwidth, with its source."""

    name: str
    memory_bytes: float
    peak_flops: dict[str, float] = field(default_factory=dict)
    bandwidth_bytes_per_s: float = float("nan")
    price_usd_per_hour: float | None = None
    aliases: tuple[str, ...] = ()
    vendor: str = ""
    source: str = ""
    notes: str = ""

    def peak(self, dtype: str = "bf16") -> float:
        """Dense peak FLOP/s for a dtype; fp16 and bf16 share a peak where only one is listed."""
        key = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "half": "fp16"}.get(dtype, dtype)
        value = self.peak_flops.get(key)
        if value is None and key in ("bf16", "fp16"):
            value = self.peak_flops.get("fp16" if key == "bf16" else "bf16")
        if value is None:
            listed = ", ".join(k for k in DTYPES if k in self.peak_flops)
            raise ScalingError(f"accelerator {self.name!r} has no {dtype} peak in the catalog (it lists: {listed})")
        return value

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        return out


def _float(text: str) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def _accelerator_from_row(row: dict[str, str], origin: str) -> Accelerator:
    try:
        peaks = {}
        for dtype in DTYPES:
            value = _float(row.get(f"{dtype}_tflops", ""))
            if value is not None:
                peaks[dtype] = value * 1e12
        return Accelerator(
            name=row["name"],
            memory_bytes=float(row["memory_gb"]) * 1e9,
            peak_flops=peaks,
            bandwidth_bytes_per_s=(_float(row.get("bandwidth_gbps", "")) or float("nan")) * 1e9,
            price_usd_per_hour=_float(row.get("price_usd_per_hour", "")),
            aliases=tuple(a.strip() for a in row.get("aliases", "").split(";") if a.strip()),
            vendor=row.get("vendor", ""),
            source=row.get("source", ""),
            notes=row.get("notes", ""),
        )
    except (KeyError, ValueError) as exc:
        raise ScalingError(f"bad accelerator row {row.get('name', row)!r} in {origin}: {exc}") from None


def user_accelerator_files() -> list[Path]:
    """Extra accelerator files: ``$SCALING_ACCELERATORS`` (os.pathsep-separated) and
    ``~/.config/scaling/accelerators.csv``; same columns as ``data/accelerators.csv``."""
    paths = [Path(p) for p in os.environ.get("SCALING_ACCELERATORS", "").split(os.pathsep) if p]
    default = Path.home() / ".config" / "scaling" / "accelerators.csv"
    if default.is_file():
        paths.append(default)
    return paths


def accelerators(extra_files: tuple[str, ...] = ()) -> list[Accelerator]:
    """The accelerator catalog plus user files (a user row replaces a packaged one of the same name)."""
    return list(_accelerator_index(tuple(str(p) for p in user_accelerator_files()) + tuple(extra_files)).values())


@lru_cache(maxsize=8)
def _accelerator_index(files: tuple[str, ...]) -> dict[str, Accelerator]:
    index: dict[str, Accelerator] = {}
    for row in read_csv("accelerators.csv"):
        acc = _accelerator_from_row(row, "data/accelerators.csv")
        index[normalize_name(acc.name)] = acc
    for path in files:
        if not Path(path).is_file():
            raise ScalingError(f"accelerator file {path!r} does not exist")
        for row in read_csv(Path(path)):
            acc = _accelerator_from_row(row, path)
            index[normalize_name(acc.name)] = acc
    return index


def get_accelerator(name: str | Accelerator, extra_files: tuple[str, ...] = ()) -> Accelerator:
    """Look up an accelerator by name or alias, case-insensitively (``h100``, ``A100-80GB``, ``mi300x``)."""
    if isinstance(name, Accelerator):
        return name
    index = _accelerator_index(tuple(str(p) for p in user_accelerator_files()) + tuple(extra_files))
    key = normalize_name(name)
    if key in index:
        return index[key]
    for acc in index.values():
        if key in (normalize_name(a) for a in acc.aliases):
            return acc
    names = list(index) + [normalize_name(a) for acc in index.values() for a in acc.aliases]
    raise unknown("accelerator", name, names, "scaling gpus")
