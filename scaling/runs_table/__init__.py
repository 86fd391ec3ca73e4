"""The runs table: where training runs and the fitters meet.

One row per training run; each column has one meaning, written down here and nowhere else:

================  ===========================================================================================
column            meaning
================  ===========================================================================================
``run_id``        unique name of the run
``status``        ``ok``, or why the run has no usable loss (``diverged``, ``failed``, ...)
``budget``        the IsoFLOP budget the run was planned on (FLOPs, the planner's convention); runs of one
                  IsoFLOP profile share it exactly
``N``             total parameters (embeddings included; active parameters for MoE)
``N_nonemb``      optional: non-embedding parameters (Kaplan et al. 2020)
``D``             training tokens
``C``             training compute 6·N·D with N the total parameters (Kaplan et al. 2020 §2.1), the
                  convention every fitter uses: Approach 2 computes D_opt = C / (6 N_opt)
``C_exact``       optional: exact training FLOPs, attention included (Hoffmann et al. 2022, App. F)
``C_6N_nonemb``   optional: 6·N_nonemb·D
``loss``          final loss (validation when the run was evaluated), in ``loss_unit``
``loss_unit``     optional: ``nats/token`` (default) or ``nats/byte`` (byte-level tokenizer)
``tokenizer``     optional: the tokenizer's name (``bytes`` for byte-level runs)
``vocab_size``    optional: the vocabulary size
================  ===========================================================================================

The other columns (`RUN_COLUMNS`) describe how the run was made (shape, optimizer, wall time, software).

A table written by an older sweep has a ``C_6N`` column and ``C`` = exact FLOPs; it is read by taking
``C_6N`` as ``C`` and the old ``C`` as ``C_exact``. Tables from elsewhere may name the columns as the public
data sets do (``Model Size``, ``Training FLOP``, ``compute_budget``, ``training_tokens``,
``validation_loss``...): `ALIASES`, matched regardless of case, spaces, underscores and hyphens. When one of
N, D and C is missing it is derived from the other two as C = 6ND, and the read says so.

Loss curves (for Approach 1) are a long table with one row per logged point: ``run_id``, ``N``, ``D`` =
tokens seen so far, ``loss``. A table is read as curves only by rule: it has a ``step`` column and its
``run_id`` repeats, or (JSON lines) each run carries a ``curve`` field of ``[tokens, loss]`` pairs. A sweep
folder holds ``runs.csv`` and one curve per run under ``curves/<run_id>.csv`` (columns ``step``,
``tokens``, ``flops``, ``train_loss``, ``val_loss``).

Damaged rows (a value that is not a finite positive number, a field too many, a bad ``curve``) are set
aside with the reason and reported; they never stop a read that has good rows, and are never dropped
silently. Writes are atomic (a reader never sees half a file).

Where each part lives: `columns` (the contract: column names, aliases, failed statuses, one cell's checks),
`rows` (a sweep's runs.csv as text rows, damaged rows apart), `writing` (atomic writes, the side file),
`loading` (a file, folder, frame or records as a raw frame), `validation` (the checks that set rows aside),
`table` (`read_table`, for fitting), `curves` (loss curves) and `metadata` (loss unit, tokenizer, context).
"""

from __future__ import annotations

from scaling.runs_table.columns import (
    ALIASES,
    FAILED_STATUS,
    LEGACY_6ND_COLUMN,
    RUN_COLUMNS,
    canonical_columns,
    is_failed,
    normalise_name,
    positive_number,
)
from scaling.runs_table.curves import CURVE_LOSS_RULE, read_curves, read_sweep_curves
from scaling.runs_table.metadata import BYTE_TOKENIZERS, loss_metadata
from scaling.runs_table.rows import (
    SIDE_SUFFIX,
    DamagedRow,
    RunRows,
    read_rows,
    row_problem,
    side_path,
    upgrade_row,
)
from scaling.runs_table.table import RunsTable, read_table
from scaling.runs_table.writing import add_row, atomic_write, format_cell, set_aside, write_rows

__all__ = [
    "ALIASES",
    "BYTE_TOKENIZERS",
    "CURVE_LOSS_RULE",
    "FAILED_STATUS",
    "LEGACY_6ND_COLUMN",
    "RUN_COLUMNS",
    "SIDE_SUFFIX",
    "DamagedRow",
    "RunRows",
    "RunsTable",
    "add_row",
    "atomic_write",
    "canonical_columns",
    "format_cell",
    "is_failed",
    "loss_metadata",
    "normalise_name",
    "positive_number",
    "read_curves",
    "read_rows",
    "read_sweep_curves",
    "read_table",
    "row_problem",
    "set_aside",
    "side_path",
    "upgrade_row",
    "write_rows",
]
