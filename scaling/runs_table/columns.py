"""The column contract: the columns a sweep writes, the names other tables use for them (`ALIASES`), the
statuses of failed runs, and the checks of one cell."""

from __future__ import annotations

import math
import re
from typing import Any

# The columns a sweep writes, in order.
RUN_COLUMNS = [
    "run_id",
    "status",
    "budget",
    "N",
    "N_nonemb",
    "D",
    "C",
    "C_exact",
    "C_6N_nonemb",
    "loss",
    "loss_unit",
    "train_loss",
    "d_model",
    "n_layer",
    "n_head",
    "seq_len",
    "batch",
    "lr",
    "steps",
    "seed",
    "precision",
    "wall_s",
    "tokens_per_s",
    "flops_per_s",
    "corpus",
    "corpus_sha256",
    "tokenizer",
    "vocab_size",
    "torch_version",
    "python_version",
]
# A run of fewer optimizer steps has not converged: its loss still falls with the schedule's length, not only
# with N and D (our sweeps' runs shorter than this had not reached their final loss). The sweep warns of them
# before it trains; Approach 2 sets them aside from an IsoFLOP profile that keeps 3 sizes without them.
MIN_CONVERGED_STEPS = 500
FAILED_STATUS = frozenset(
    {"failed", "fail", "error", "errored", "crashed", "diverged", "nan", "killed", "oom"}
)
# Older sweeps: C was exact FLOPs and C_6N held 6ND.
LEGACY_6ND_COLUMN = "C_6N"
# Accepted names per column, compared after `normalise_name` (lower case, letters and digits only).
ALIASES: dict[str, tuple[str, ...]] = {
    "N": (
        "n",
        "params",
        "nparams",
        "numparams",
        "parameters",
        "nparameters",
        "numparameters",
        "modelsize",
        "modelparams",
        "paramcount",
        "parametercount",
        "totalparams",
        "totalparameters",
        "size",
    ),
    "D": (
        "d",
        "tokens",
        "ntokens",
        "numtokens",
        "traintokens",
        "trainingtokens",
        "datasize",
        "data",
        "datasetsize",
        "tokensseen",
        "trainedtokens",
        "totaltokens",
    ),
    "C": (
        "c",
        "flops",
        "flop",
        "compute",
        "computebudget",
        "trainingflop",
        "trainingflops",
        "trainflops",
        "trainingcompute",
        "totalflops",
        "budget",
    ),
    "loss": (
        "loss",
        "finalloss",
        "valloss",
        "evalloss",
        "validloss",
        "validationloss",
        "testloss",
        "trainloss",
        "l",
    ),
    "run_id": ("runid", "run", "runname", "name", "id"),
    "step": ("step", "iteration", "iter"),
}


def normalise_name(name: Any) -> str:
    """A column name compared without case, spaces, underscores or punctuation ("Model Size" ->
    "modelsize")."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def positive_number(value: Any) -> float | None:
    """``value`` as a finite positive float, or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def is_failed(status: Any) -> bool:
    """A ``status`` cell that marks a run without a usable loss."""
    return str(status).strip().lower() in FAILED_STATUS


def canonical_columns(frame: Any) -> tuple[Any, list[str]]:
    """Rename aliased columns to N, D, C, loss, run_id, step (`ALIASES`); returns the frame and notes."""
    names = {normalise_name(c): c for c in reversed(list(frame.columns))}
    rename, notes = {}, []
    for canon, aliases in ALIASES.items():
        if canon in frame.columns:
            continue
        for alias in (normalise_name(canon), *aliases):
            column = names.get(alias)
            if column is not None and column not in rename and column not in ALIASES:
                rename[column] = canon
                if str(column) != canon:
                    notes.append(f"column {str(column)!r} read as {canon}")
                break
    return frame.rename(columns=rename), notes
