"""Law files: the presets in ``data/laws.json`` and the JSON ``scaling fit -o`` saves, read and written here.

`law_from_dict` is the one reader and validator: every constant must be a finite positive number, exponents
lie in `EXPONENT_RANGE` (allocation exponents in `ALLOCATION_EXPONENT_RANGE`), bootstrap replicates are rows
of five valid constants, a fitted range is two positive numbers. Anything else is one `ScalingError` naming
the law, the field and what is accepted.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from scaling import catalog, checks, inputs
from scaling.errors import ScalingError, quoted
from scaling.laws.allocation import AllocationLaw, KaplanLaw
from scaling.laws.forms import FORMS, FormLaw
from scaling.laws.law import DEFAULT_LEVEL, Law
from scaling.laws.parametric import PARAM_NAMES, ParametricLaw
from scaling.laws.rules import ALLOCATION_EXPONENT_RANGE, EXPONENT_RANGE
from scaling.render import json_safe
from scaling.units import FLOPS_PER_PARAM_TOKEN, LOSS_UNITS

KINDS = {"parametric": ParametricLaw, "allocation": AllocationLaw, "kaplan": KaplanLaw, "form": FormLaw}
TEXT_FIELDS = ("source", "form", "notes", "convention", "eval_data")


def _number(value: Any, what: str, bounds: tuple[float, float] | None = None) -> float:
    """A finite positive number, within ``bounds`` when given."""
    if isinstance(value, (list, tuple, dict, str)):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected a number")
    number = checks.positive(value, what)
    if bounds is not None and not bounds[0] <= number <= bounds[1]:
        raise ScalingError(
            f"invalid {what} {quoted(value)}: expected a number from {bounds[0]:g} to {bounds[1]:g}"
        )
    return number


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected a JSON object")
    return value


def _texts(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected a list of strings")
    return tuple(value)


def _parametric_fields(entry: dict[str, Any], where: str) -> dict[str, Any]:
    constants = dict(_mapping(entry.get("constants"), f"{where} constants"))
    for key in (*PARAM_NAMES, "R_D_star", "R_N_star"):
        if key in entry and key not in constants:
            constants[key] = entry[key]
    missing = [k for k in PARAM_NAMES if k not in constants]
    if missing:
        raise ScalingError(
            f"{where}: missing constant(s) {', '.join(missing)}; a parametric law needs E, A, B, alpha, beta"
        )
    fields = {k: _number(constants[k], f"{where} {k}") for k in ("E", "A", "B")}
    fields.update({k: _number(constants[k], f"{where} {k}", EXPONENT_RANGE) for k in ("alpha", "beta")})
    for key in ("R_D_star", "R_N_star"):
        if constants.get(key) is not None:
            fields[key] = _number(constants[key], f"{where} {key}")
    return fields


def _form_fields(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """A `FormLaw`'s form (``law_form``, one of `FORMS`) and its constants by name: exponents within
    `EXPONENT_RANGE`, the form's signed constants any finite number, the rest finite and positive."""
    form = FORMS[checks.choice(entry.get("law_form"), tuple(FORMS), f"{where} law_form")]
    constants = {**entry, **_mapping(entry.get("constants"), f"{where} constants")}
    missing = [k for k in form.names if k not in constants]
    if missing:
        raise ScalingError(f"{where}: missing constant(s) {', '.join(missing)} of the {form.name} form")
    parameters = {}
    for key in form.names:
        if key in form.signed:
            parameters[key] = checks.finite(constants[key], f"{where} {key}")
        else:
            bounds = EXPONENT_RANGE if key in form.exponents else None
            parameters[key] = _number(constants[key], f"{where} {key}", bounds)
    return {"law_form": form.name, "parameters": parameters}


def _line(entry: dict[str, Any], key: str, where: str) -> tuple[float, float]:
    line = _mapping(entry[key], f"{where} {key}")
    if "coef" not in line or "exp" not in line:
        raise ScalingError(f"{where} {key}: expected an object with coef and exp")
    coef = _number(line["coef"], f"{where} {key}.coef")
    return coef, _number(line["exp"], f"{where} {key}.exp", ALLOCATION_EXPONENT_RANGE)


def _allocation_fields(entry: dict[str, Any], where: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "m_opt" in entry:  # DeepSeek: M = non-embedding FLOPs per token, N ≈ M/6
        coef, fields["n_exp"] = _line(entry, "m_opt", where)
        fields["n_coef"] = coef / FLOPS_PER_PARAM_TOKEN
    elif "n_opt" in entry:
        fields["n_coef"], fields["n_exp"] = _line(entry, "n_opt", where)
        line = entry["n_opt"]
        unit = _number(line.get("flops_unit", 1.0), f"{where} n_opt.flops_unit")
        fields["flops_scale"] = unit * _number(line.get("flops_divisor", 1.0), f"{where} n_opt.flops_divisor")
    if "d_opt" in entry:
        fields["d_coef"], fields["d_exp"] = _line(entry, "d_opt", where)
    if "n_coef" not in fields and "d_coef" not in fields:
        raise ScalingError(
            f"{where}: an allocation law needs n_opt (or m_opt) or d_opt, each with coef and exp"
        )
    if entry.get("kind") == "kaplan":
        joint = _mapping(entry.get("joint_law"), f"{where} joint_law")
        for key in ("alpha_N", "alpha_D"):
            fields[key] = _number(joint.get(key), f"{where} joint_law.{key}", EXPONENT_RANGE)
        for key in ("N_c", "D_c"):
            fields[key] = _number(joint.get(key), f"{where} joint_law.{key}")
    return fields


def _replicate_rows(rows: Any, what: str, names: tuple[str, ...], exponents: tuple[str, ...], signed=()):
    """Bootstrap replicates: rows of one number per constant, exponents within `EXPONENT_RANGE`."""
    width = len(names)
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == width for r in rows):
        raise ScalingError(f"invalid {what}: expected rows of {width} numbers [{', '.join(names)}]")
    replicates = np.asarray(checks.finite(rows, what), dtype=float).reshape(-1, width)
    unsigned = [i for i, k in enumerate(names) if k not in signed]
    if np.any(replicates[:, unsigned] <= 0):
        raise ScalingError(
            f"invalid {what}: {', '.join(k for k in names if k not in signed)} must be positive"
        )
    low, high = EXPONENT_RANGE
    columns = [i for i, k in enumerate(names) if k in exponents]
    if np.any(replicates[:, columns] < low) or np.any(replicates[:, columns] > high):
        raise ScalingError(f"invalid {what}: exponents must lie from {low:g} to {high:g}")
    return replicates


def _uncertainty_fields(entry: dict[str, Any], where: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "se": {k: _number(v, f"{where} se.{k}") for k, v in _mapping(entry.get("se"), f"{where} se").items()},
        "uncertainty": dict(_mapping(entry.get("uncertainty"), f"{where} uncertainty")),
    }
    if "pivot_flops" in fields["uncertainty"]:
        fields["uncertainty"]["pivot_flops"] = _number(
            fields["uncertainty"]["pivot_flops"], f"{where} pivot_flops"
        )
    boot = _mapping(entry.get("bootstrap"), f"{where} bootstrap")
    if boot.get("replicates"):
        what = f"{where} bootstrap.replicates"
        if entry.get("kind") == "form" and entry.get("law_form") in FORMS:
            form = FORMS[entry["law_form"]]
            shape = (form.names, form.exponents, form.signed)
        else:
            shape = (PARAM_NAMES, ("alpha", "beta"))
        fields["replicates"] = _replicate_rows(boot["replicates"], what, *shape)
        level = checks.fraction(boot.get("level", DEFAULT_LEVEL), f"{where} bootstrap.level")
        if level >= 1:
            raise ScalingError(
                f"invalid {where} bootstrap.level {quoted(level)}: expected a fraction below 1"
            )
        fields["interval_level"] = level
    flops_range = _mapping(entry.get("fit"), f"{where} fit").get("flops_range")
    if flops_range is not None:
        if not isinstance(flops_range, list) or len(flops_range) != 2:
            raise ScalingError(
                f"invalid {where} fit.flops_range {quoted(flops_range)}: expected [min, max] FLOPs"
            )
        lo, hi = (_number(v, f"{where} fit.flops_range") for v in flops_range)
        if lo > hi:
            raise ScalingError(f"invalid {where} fit.flops_range {quoted(flops_range)}: min above max")
        fields["fit_flops_range"] = (lo, hi)
    return fields


def _common_fields(entry: dict[str, Any], where: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise ScalingError(f"invalid {where} {key} {quoted(value)}: expected a string")
        if value:
            fields[key] = value
    fields["aliases"] = _texts(entry.get("aliases", []), f"{where} aliases")
    fields["warnings"] = _texts(entry.get("warnings", []), f"{where} warnings")
    fields["loss_unit"] = checks.choice(
        entry.get("loss_unit") or "nats/token", LOSS_UNITS, f"{where} loss_unit"
    )
    if entry.get("tokenizer") is not None:
        if not isinstance(entry["tokenizer"], str):
            raise ScalingError(f"invalid {where} tokenizer {quoted(entry['tokenizer'])}: expected a string")
        fields["tokenizer"] = entry["tokenizer"]
    if entry.get("vocab_size") is not None:
        fields["vocab_size"] = checks.positive_int(entry["vocab_size"], f"{where} vocab_size")
    if entry.get("seq_len") is not None:
        fields["seq_len"] = checks.positive_int(entry["seq_len"], f"{where} seq_len")
    if entry.get("hyperparameters") is not None:
        from scaling.recipe.fitted import check_hyperparameters

        fields["hyperparameters"] = check_hyperparameters(entry["hyperparameters"], str(entry.get("name")))
    if entry.get("downstream") is not None:
        from scaling.recipe.ladder import check_ladder

        fields["downstream"] = check_ladder(entry["downstream"], str(entry.get("name")))
    if entry.get("curve") is not None:
        from scaling.laws.curve import CurveLaw

        fields["curve"] = CurveLaw.from_dict(entry["curve"], str(entry.get("name"))).to_dict()
    return fields


def law_from_dict(entry: Any, origin: str = "law") -> Law:
    """A `Law` from a ``data/laws.json`` entry or a saved law JSON (``scaling fit -o``), validated.

    Constants may sit in a ``constants`` object or at the top level (the ``--json`` output of
    ``scaling fit``); bootstrap replicates, if any, are ``bootstrap.replicates`` rows of [E, A, B,
    alpha, beta].
    """
    if not isinstance(entry, dict):
        raise ScalingError(
            f"{origin} must be a JSON object with a kind and constants, got {type(entry).__name__}"
        )
    name = entry.get("name", "law")
    if not isinstance(name, str) or not name.strip():
        raise ScalingError(f"invalid {origin} name {quoted(name)}: expected a non-empty string")
    where = f"{origin} {quoted(name)}"
    kind = checks.choice(entry.get("kind", "parametric"), tuple(KINDS), f"{where} kind")
    fields = {"name": name, **_common_fields(entry, where), **_uncertainty_fields(entry, where)}
    readers = {"parametric": _parametric_fields, "form": _form_fields}
    fields.update(readers.get(kind, _allocation_fields)(entry, where))
    if kind not in readers and "replicates" in fields:
        raise ScalingError(f"{where}: bootstrap replicates belong to laws with a loss model fitted to runs")
    return KINDS[kind](**fields)


def law_to_dict(law: Law) -> dict[str, Any]:
    """The JSON a law is saved as: its `Law.to_dict`, constants in the preset format, replicates."""
    payload = law.to_dict()
    if isinstance(law, ParametricLaw):
        payload["constants"] = {k: getattr(law, k) for k in PARAM_NAMES}
    if isinstance(law, FormLaw):
        payload["constants"] = law.constants()
    if law.replicates is not None and len(law.replicates):
        payload["bootstrap"] = {
            "level": law.interval_level,
            "replicates": np.asarray(law.replicates).tolist(),
        }
    if isinstance(law, AllocationLaw) and law.n_coef is not None:
        payload["n_opt"] = {"coef": law.n_coef, "exp": law.n_exp, "flops_unit": law.flops_scale}
    if isinstance(law, AllocationLaw) and law.d_coef is not None:
        payload["d_opt"] = {"coef": law.d_coef, "exp": law.d_exp}
    if isinstance(law, KaplanLaw):
        payload["joint_law"] = {k: getattr(law, k) for k in ("alpha_N", "alpha_D", "N_c", "D_c")}
    if law.fit_flops_range is not None:
        payload.setdefault("fit", {})["flops_range"] = list(law.fit_flops_range)
    return payload


def save_law(law: Law, path: str | Path) -> Path:
    """Write a law JSON that `get_law(path)` (and every ``--law`` option) reads back; refuses a law that
    would not load (`law_from_dict` checks it first)."""
    from scaling.runs_table import atomic_write

    payload = json_safe(law_to_dict(law))
    law_from_dict(payload, origin=f"law to save as {str(path)!r}")
    path = Path(path)
    atomic_write(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")
    return path


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows; constants must be finite")


def load_law(path: str | Path) -> Law:
    """A law JSON saved by ``scaling fit -o`` (or written by hand in the ``data/laws.json`` entry format)."""
    path = inputs.checked_path(path, "law file")
    text = inputs.read_text(path, "law file")
    payload = inputs.parse_json(text, f"law file {str(path)!r}", parse_constant=_reject_constant)
    if isinstance(payload, dict) and isinstance(payload.get("law"), dict):
        payload = payload["law"]
    if isinstance(payload, dict):
        payload.setdefault("name", path.stem)
    return law_from_dict(payload, origin=f"law file {str(path)!r}")


def _laws_file() -> Path:
    return catalog.data_path("laws.json")


@lru_cache(maxsize=4)
def _presets(path: str) -> dict[str, Law]:
    entries = catalog.read_json(Path(path))["laws"]
    return {catalog.normalize_name(e["name"]): law_from_dict(e, origin="preset") for e in entries}


def list_laws() -> list[Law]:
    """Every published preset in ``data/laws.json``."""
    return list(_presets(str(_laws_file())).values())


def get_law(name_or_path: str | Path | Law) -> Law:
    """A preset by name or alias (case-insensitive), a path to a saved law JSON, or a `Law` as is."""
    if isinstance(name_or_path, Law):
        return name_or_path
    text = str(name_or_path).strip()
    presets = _presets(str(_laws_file()))
    key = catalog.normalize_name(text)
    if key in presets:
        return presets[key]
    for law in presets.values():
        if key in (catalog.normalize_name(a) for a in law.aliases):
            return law
    if text.lower().endswith(".json") or Path(text).exists():  # load_law refuses a folder, FIFO or device
        if not Path(text).exists():
            raise ScalingError(
                f"law file {quoted(text)} does not exist (a law is a preset name or a law JSON path)"
            )
        return load_law(text)
    names = list(presets) + [catalog.normalize_name(a) for law in presets.values() for a in law.aliases]
    raise catalog.unknown("law", text, names, "scaling laws")


def with_replicates(law: Law, replicates: np.ndarray, level: float = DEFAULT_LEVEL) -> Law:
    """A copy of a law carrying bootstrap replicates (R x 5 rows of E, A, B, alpha, beta)."""
    return replace(law, replicates=np.asarray(replicates, dtype=float), interval_level=level)
