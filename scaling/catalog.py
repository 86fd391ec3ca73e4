"""The catalogs in `data/`: accelerators, model presets, published laws and well-known models.

Each data file is looked up, in order, in ``$SCALING_DATA_DIR`` (so a user can override one catalog file),
in the installed package (``scaling/data`` inside the wheel) and in the checkout (``<repo>/data``, which is
also what an editable install sees).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from scaling import checks, inputs
from scaling.errors import ScalingError, quoted
from scaling.units import parse_bytes, six_nd


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
    """Rows of a catalog CSV as dicts of strings; lines starting with '#' are comments.

    A file that is not UTF-8 text, or a row with more fields than the header, is a `ScalingError` naming
    the file and the row."""
    path = Path(name) if isinstance(name, Path) else data_path(name)
    text = inputs.read_text(path, "catalog file")
    lines = [line for line in io.StringIO(text, newline="") if line.strip() and line.lstrip()[:1] != "#"]
    try:
        return _catalog_rows(path, lines)
    except csv.Error as exc:  # a field over the csv module's limit, a stray NUL
        raise ScalingError(f"cannot read catalog file {quoted(str(path))}: {exc}") from None


def _catalog_rows(path: Path, lines: list[str]) -> list[dict[str, str]]:
    rows = []
    for number, row in enumerate(csv.DictReader(lines), start=2):
        if None in row:
            raise ScalingError(
                f"{quoted(str(path))} data row {number - 1} ({quoted(row.get('name') or 'unnamed')}) has "
                f"more fields than the header's {len(row) - 1}: quote values that contain commas"
            )
        rows.append({(k or "").strip(): (v or "").strip() for k, v in row.items()})
    return rows


def read_json(name: str | Path) -> Any:
    path = Path(name) if isinstance(name, Path) else data_path(name)
    return inputs.parse_json(inputs.read_text(path, "catalog file"), f"catalog file {str(path)!r}")


def normalize_name(name: str) -> str:
    """Catalog names are compared lowercase with '_' and ' ' read as '-'."""
    return str(name).strip().lower().replace("_", "-").replace(" ", "-")


def unknown(kind: str, name: str, choices: list[str], listing: str) -> ScalingError:
    """The error for an unknown catalog name, with close-match suggestions."""
    import difflib  # only on this error path: kept off startup

    close = difflib.get_close_matches(normalize_name(name), choices, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ScalingError(f"unknown {kind} {quoted(name)}{hint} (see '{listing}' for the list)")


# ---------------------------------------------------------------------------------------- known models
def known_models(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The well-known models of ``data/known_models.csv`` (or a file with the same columns), with numeric
    ``params``, ``tokens`` and ``flops`` (6ND where the file gives none, N the active parameters of a mixture
    of experts with ``active_params``), ``active_params`` (None for a dense model) and ``flops_method``.

    A file without rows or without the params and tokens columns, and a row without finite, positive params
    and tokens (or with a bad flops), is a `ScalingError` naming it."""
    rows = read_csv(Path(path) if path else "known_models.csv")
    where = repr(str(path)) if path else "data/known_models.csv"
    columns = "expected a CSV with columns name, params, tokens (optional flops, active_params)"
    if not rows:
        raise ScalingError(f"known-models {where} has no models: {columns}")
    missing = [column for column in ("params", "tokens") if column not in rows[0]]
    if missing:
        raise ScalingError(f"known-models {where} has no column {' or '.join(missing)}: {columns}")
    out = []
    for row in rows:
        name = row.get("name") or "unnamed"
        try:
            params = checks.positive(row.get("params", ""), f"known-models {name!r} params")
            tokens = checks.positive(row.get("tokens", ""), f"known-models {name!r} tokens")
            flops = (
                checks.positive(row["flops"], f"known-models {name!r} flops") if row.get("flops") else None
            )
        except ScalingError as exc:
            raise ScalingError(f"{exc} (columns: name, params, tokens, optional flops)") from None
        # a mixture of experts: 6ND counts the parameters active per token (DeepSeek-AI 2024, DeepSeek-V3 2.2)
        active = (
            checks.positive(row["active_params"], f"known-models {name!r} active_params")
            if row.get("active_params")
            else None
        )
        if flops is None:
            flops = checks.positive(six_nd(active or params, tokens), f"known-models {name!r} 6ND FLOPs")
        out.append(
            {
                **row,
                "params": params,
                "active_params": active,
                "tokens": tokens,
                "flops": flops,
                "flops_method": row.get("flops_method") or "6ND",
            }
        )
    return out


# ------------------------------------------------------------------------------------------ accelerators
DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8")
# Without link columns a user's accelerator is assumed to sit on PCIe 4.0 x16 (32 GB/s per direction, PCI-SIG)
# with a 100 Gb/s network per device: the slow end, so a layout is never ranked on links it may not have.
DEFAULT_LINK = ("PCIe4 (assumed)", 32e9, 12.5e9)


@dataclass(frozen=True)
class Accelerator:
    """One accelerator: dense (no sparsity) peak FLOP/s per dtype, memory and links, with their sources.

    ``memory_bytes`` is the capacity in bytes from the catalog's ``memory`` column, which states the unit the
    vendor means (HBM and GDDR capacities are binary: an H100's "80 GB" is 80 GiB; nvidia-smi reports
    81,559 MiB of it). ``intra_node_link`` names the link between devices of one node (NVLink generation,
    PCIe generation, ICI, Infinity Fabric); ``intra_node_bytes_per_s`` and ``inter_node_bytes_per_s`` are
    bytes/s per device in one direction (inside a node, and to other nodes).
    """

    name: str
    memory_bytes: float
    peak_flops: dict[str, float] = field(default_factory=dict)
    bandwidth_bytes_per_s: float = float("nan")
    price_usd_per_hour: float | None = None
    aliases: tuple[str, ...] = ()
    vendor: str = ""
    source: str = ""
    notes: str = ""
    intra_node_link: str = DEFAULT_LINK[0]
    intra_node_bytes_per_s: float = DEFAULT_LINK[1]
    inter_node_bytes_per_s: float = DEFAULT_LINK[2]
    memory_listed: str = ""
    link_source: str = ""
    tdp_watts: float | None = None  # board power (TDP), what energy estimates multiply device-hours by
    tdp_source: str = ""

    @property
    def memory_gib(self) -> float:
        """Capacity in GiB (2^30 bytes), the unit device memory is shown in."""
        return self.memory_bytes / 2.0**30

    @property
    def memory_bandwidth_bytes_per_s(self) -> float:
        """Device-memory (HBM/GDDR) bandwidth in bytes/s."""
        return self.bandwidth_bytes_per_s

    def peak(self, dtype: str = "bf16") -> float:
        """Dense peak FLOP/s for a dtype; fp16 and bf16 share a peak where only one is listed."""
        key = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "half": "fp16"}.get(dtype, dtype)
        value = self.peak_flops.get(key)
        if value is None and key in ("bf16", "fp16"):
            value = self.peak_flops.get("fp16" if key == "bf16" else "bf16")
        if value is None:
            listed = ", ".join(k for k in DTYPES if k in self.peak_flops)
            raise ScalingError(
                f"accelerator {self.name!r} has no {dtype} peak in the catalog (it lists: {listed})"
            )
        return value

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        out["memory_gib"] = self.memory_gib
        out["memory_bandwidth_bytes_per_s"] = self.memory_bandwidth_bytes_per_s
        return out


def _number(
    row: dict[str, str], column: str, scale: float = 1.0, *, allow_zero: bool = False
) -> float | None:
    """A finite positive number (or zero with ``allow_zero``) from a column, times ``scale``;
    None if empty."""
    text = (row.get(column) or "").strip()
    if not text:
        return None
    return float(checks.positive(text, column, allow_zero=allow_zero)) * scale


def _memory_bytes(row: dict[str, str]) -> tuple[float, str]:
    """Capacity from ``memory`` (with its unit: ``80GiB``, ``24 GB``) or the older ``memory_gb``
    (1e9 bytes)."""
    text = (row.get("memory") or "").strip()
    if text:
        if text.replace(".", "", 1).isdigit():
            raise ScalingError(
                f"memory {quoted(text)} needs its unit as the vendor means it, e.g. 80GiB or 80GB"
            )
        value = parse_bytes(text, "memory")
        if not (value > 0 and value < float("inf")):
            raise ScalingError(f"invalid memory {quoted(text)}: expected a positive size such as 80GiB")
        return value, text
    value = _number(row, "memory_gb", 1e9)
    if value is None:
        raise ScalingError("no memory: give a 'memory' column with its unit (e.g. 80GiB) or 'memory_gb'")
    return value, f"{row['memory_gb']} GB"


def _accelerator_from_row(row: dict[str, str], origin: str) -> Accelerator:
    try:
        if not (row.get("name") or "").strip():
            raise ScalingError("no name")
        peaks = {}
        for dtype in DTYPES:
            value = _number(row, f"{dtype}_tflops", 1e12)
            if value is not None:
                peaks[dtype] = value
        memory, listed = _memory_bytes(row)
        intra = _number(row, "intra_node_gbps", 1e9)
        inter = _number(row, "inter_node_gbps", 1e9)
        return Accelerator(
            name=row["name"],
            memory_bytes=memory,
            memory_listed=listed,
            peak_flops=peaks,
            bandwidth_bytes_per_s=_number(row, "bandwidth_gbps", 1e9) or float("nan"),
            price_usd_per_hour=_number(row, "price_usd_per_hour", allow_zero=True),
            aliases=tuple(a.strip() for a in row.get("aliases", "").split(";") if a.strip()),
            vendor=row.get("vendor", ""),
            source=row.get("source", ""),
            notes=row.get("notes", ""),
            intra_node_link=row.get("intra_node_link") or DEFAULT_LINK[0],
            intra_node_bytes_per_s=intra if intra is not None else DEFAULT_LINK[1],
            inter_node_bytes_per_s=inter if inter is not None else DEFAULT_LINK[2],
            link_source=row.get("link_source", "")
            if intra is not None
            else "assumed: no link columns in the row",
            tdp_watts=_number(row, "tdp_w"),
            tdp_source=row.get("tdp_source", ""),
        )
    except (ScalingError, KeyError, ValueError) as exc:
        raise ScalingError(f"bad accelerator row {row.get('name') or row!r} in {origin}: {exc}") from None


def user_accelerator_files(extra_files: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
    """Extra accelerator files, each with where it was named (for messages): ``$SCALING_ACCELERATORS``
    (os.pathsep-separated), ``~/.config/scaling/accelerators.csv`` and ``extra_files`` (--accelerator-file);
    same columns as ``data/accelerators.csv``."""
    env = [
        (p, "from $SCALING_ACCELERATORS")
        for p in os.environ.get("SCALING_ACCELERATORS", "").split(os.pathsep)
    ]
    default = Path.home() / ".config" / "scaling" / "accelerators.csv"
    config = [(str(default), "from ~/.config/scaling")] if default.is_file() else []
    extra = [(str(p), "from --accelerator-file") for p in extra_files]
    return tuple((path, origin) for path, origin in [*env, *config, *extra] if path)


def accelerators(extra_files: tuple[str, ...] = ()) -> list[Accelerator]:
    """The accelerator catalog plus user files (a user row replaces a packaged one of the same name)."""
    return list(_accelerator_index(user_accelerator_files(extra_files)).values())


@lru_cache(maxsize=8)
def _accelerator_index(files: tuple[tuple[str, str], ...]) -> dict[str, Accelerator]:
    index: dict[str, Accelerator] = {}
    for number, row in enumerate(read_csv("accelerators.csv"), start=1):
        acc = _accelerator_from_row(row, f"data/accelerators.csv (data row {number})")
        index[normalize_name(acc.name)] = acc
    for path, origin in files:
        if not os.path.lexists(path):
            raise ScalingError(f"accelerator file {quoted(path)} ({origin}) does not exist")
        rows = read_csv(Path(path))
        if not rows:
            raise ScalingError(
                f"accelerator file {quoted(path)} ({origin}) has no rows: expected a header line and a row "
                "per accelerator, with the columns of data/accelerators.csv"
            )
        for number, row in enumerate(rows, start=1):
            acc = _accelerator_from_row(row, f"{path} (data row {number})")
            index[normalize_name(acc.name)] = acc
    return index


def get_accelerator(name: str | Accelerator, extra_files: tuple[str, ...] = ()) -> Accelerator:
    """Look up an accelerator by name or alias, case-insensitively (``h100``, ``A100-80GB``, ``mi300x``)."""
    if isinstance(name, Accelerator):
        return name
    index = _accelerator_index(user_accelerator_files(extra_files))
    key = normalize_name(name)
    if key in index:
        return index[key]
    for acc in index.values():
        if key in (normalize_name(a) for a in acc.aliases):
            return acc
    names = list(index) + [normalize_name(a) for acc in index.values() for a in acc.aliases]
    raise unknown("accelerator", name, names, "scaling gpus")


def accelerator_for_device(device_name: str) -> Accelerator | None:
    """The catalog entry for a device name as the driver reports it (``torch.cuda.get_device_name()``:
    "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB"), or None: the whole name less the vendor first, then its
    words, their first and last dash-separated parts ("A100-40GB") and each part, longest first."""
    words = [w for w in device_name.replace("NVIDIA", " ").replace("AMD", " ").split() if w]
    parts = [w.split("-") for w in words]
    candidates = [
        " ".join(words),
        *words,
        *(f"{p[0]}-{p[-1]}" for p in parts if len(p) > 2),
        *(part for p in parts for part in p),
    ]
    for candidate in sorted(dict.fromkeys(c for c in candidates if c), key=len, reverse=True):
        try:
            return get_accelerator(candidate)
        except ScalingError:
            continue
    return None
