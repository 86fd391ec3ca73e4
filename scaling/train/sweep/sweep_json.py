"""A sweep folder's ``sweep.json``: the recipe and the planned run configs, read back, checked against the
recipe asked for now, and rewritten atomically when they change; a different sweep's files moved aside.

A folder whose runs came from a different recipe or corpus is never mixed into or overwritten: reading it
refuses, unless ``force_new`` says why its results will move aside (when the sweep runs: planning and dry runs
change nothing).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from scaling import inputs
from scaling.checks import SWEEP_RESULTS
from scaling.errors import ScalingError
from scaling.train.folder import atomic_write, folder_error
from scaling.train.run import RunConfig
from scaling.train.sweep.recipe import RECIPE_DEFAULTS, Sweep


def matching_sweep_json(
    out: Path, recipe: dict[str, Any], force_new: bool
) -> tuple[dict[str, Any], str | None]:
    """The folder's sweep.json if it matches this recipe, else ({}, why not) with ``force_new`` (the old
    results are moved aside later, by `run_sweep`, so planning and dry runs change nothing); a refusal
    without it."""
    json_path, runs_path = out / "sweep.json", out / "runs.csv"
    problem = None
    saved: dict[str, Any] = {}
    if json_path.exists():
        saved, problem = read_sweep_json(json_path)
        old = {**RECIPE_DEFAULTS, **saved.get("recipe", {})}
        differing = sorted(k for k in set(recipe) | set(old) if old.get(k) != recipe.get(k))
        if differing and problem is None:
            problem = (
                f"{out} holds a sweep with a different recipe ("
                + ", ".join(f"{k}: {old.get(k)!r} there, {recipe.get(k)!r} now" for k in differing)
                + ")"
            )
    elif runs_path.exists():
        problem = f"{runs_path} exists but was not written by scaling sweep (no sweep.json beside it)"
    if problem is None:
        return saved, None
    if not force_new:
        raise ScalingError(f"{problem}; use another --out, or --force-new to move the old results aside")
    return {}, problem


def saved_recipe_name(out: Path) -> str:
    """The training recipe's name of the sweep in ``out`` (``fixed`` for a folder without one, or whose
    sweep.json names none: the sweeps from before the choice)."""
    path = out / "sweep.json"
    if path.is_file():
        saved, problem = read_sweep_json(path)
        if problem is None:
            return str(saved["recipe"].get("name", RECIPE_DEFAULTS["name"]))
    return RECIPE_DEFAULTS["name"]


def read_sweep_json(path: Path) -> tuple[dict[str, Any], str | None]:
    """(its content, None) for a readable sweep.json, its configs as `RunConfig`; ({}, what is wrong) for a
    damaged one."""
    raw = inputs.read_bytes(path, "sweep file")  # a file that cannot be read is an error, not damage
    try:
        saved = inputs.parse_json(raw.decode("utf-8"), "it")
    except UnicodeDecodeError:
        return {}, f"{path} is damaged (not UTF-8 text)"
    except ScalingError as exc:
        return {}, f"{path} is damaged ({exc})"
    if not (
        isinstance(saved, dict)
        and isinstance(saved.get("recipe"), dict)
        and isinstance(saved.get("configs"), list)
    ):
        return {}, f"{path} is damaged (no recipe and configs)"
    try:
        saved["configs"] = [RunConfig.from_dict(c) for c in saved["configs"]]
    except (ScalingError, TypeError, ValueError, AttributeError) as exc:
        return {}, f"{path} is damaged (a run config: {exc})"
    return saved, None


def move_aside(out: Path) -> Path:
    """Move a previous sweep's files into ``out/previous-<timestamp>/`` (``--force-new``)."""
    aside = out / time.strftime("previous-%Y%m%d-%H%M%S")
    try:
        aside.mkdir(parents=True)
        for name in SWEEP_RESULTS:
            if (out / name).exists():
                shutil.move(str(out / name), str(aside / name))
    except OSError as exc:
        raise folder_error(out, exc) from None
    return aside


def sweep_json_text(sweep: Sweep) -> str:
    payload = {
        "recipe": sweep.recipe,
        "corpus": sweep.corpus,
        "preset": sweep.preset.name,
        "configs": [c.to_dict() for c in sweep.configs],
    }
    return json.dumps(payload, indent=1)


def write_sweep_json(sweep: Sweep) -> None:
    """sweep.json, rewritten only when the recipe or the planned runs changed (a finished sweep writes
    nothing)."""
    path = sweep.out / "sweep.json"
    text = sweep_json_text(sweep)
    try:
        if path.exists() and path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, text)
