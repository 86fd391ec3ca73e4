"""``scaling fit EVALS --ptq``: Kumar et al. 2024's post-training quantization penalty fitted to your own
evaluations, written in the law-file format ``scaling loss --quant Q --precision-law`` reads
(`scaling.laws.precision`).

    delta_PTQ(N, D, bits) = C_T * D**gamma_D / N**gamma_N * exp(-bits / gamma_post)   (Kumar et al. 2024)

is linear in its logarithm: log delta = log C_T + gamma_D log D - gamma_N log N - bits / gamma_post, so the
fit is ordinary least squares on the log penalty (an offset b_post, as the shipped kumar2024 preset carries,
only rescales C_T, so a fitted file leaves it out). The evaluations table (CSV), one row per model and
quantization:

===================  ========================================================================================
column               meaning
===================  ========================================================================================
``N``                parameters (also ``params``)
``D``                training tokens (also ``tokens``)
``bits``             bits per weight after quantizing (4 for int4, 8 for int8)
``loss_before``      the model's loss before quantizing (also ``loss``)
``loss_after``       its loss after quantizing (also ``quantized_loss``)
===================  ========================================================================================

A row whose penalty loss_after - loss_before is not positive has no logarithm: it is set aside (such a
quantization is free within the evaluation's noise, which a log-space fit cannot weigh), as is a row with a
missing or non-numeric field or a non-positive N, D, bits or loss; the rows set aside are reported in one
line. Bootstrap replicates resample the rows and refit; intervals are their percentiles.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scaling import inputs
from scaling.errors import ScalingError, quoted, set_aside_summary
from scaling.fit.common import percentile_intervals, save_law_file
from scaling.fit.parametric import check_bootstrap
from scaling.laws.precision import CONSTANTS, PrecisionLaw, precision_law_from_dict

FORM = "Kumar et al. 2024 (arXiv 2411.04330): delta_PTQ = C_T * D^gamma_D / N^gamma_N * exp(-bits/gamma_post)"
COLUMNS = {
    "N": ("n", "params", "parameters"),
    "D": ("d", "tokens"),
    "bits": ("bits", "bits_after", "p_post"),
    "loss_before": ("loss_before", "loss", "loss_bf16"),
    "loss_after": ("loss_after", "quantized_loss", "loss_quantized"),
}
MIN_ROWS = 5  # one more than the four constants
EXPECTED = "expected columns N, D, bits, loss_before, loss_after"


@dataclass(frozen=True)
class PtqEvals:
    """The usable rows as arrays (N, D, bits, penalty) and the rows set aside: (line, reason, value shown)."""

    N: np.ndarray
    D: np.ndarray
    bits: np.ndarray
    penalty: np.ndarray
    set_aside: tuple[tuple[int, str, str], ...] = ()
    source: str = "evals"
    total: int = 0

    def set_aside_line(self) -> str | None:
        """One line: how many rows were set aside, per reason with its first example."""
        return set_aside_summary(self.set_aside, self.total, self.source)


def _header(header: list[str], source: str) -> dict[str, int]:
    return inputs.column_positions(
        [h.strip().lower().replace(" ", "_").replace("-", "_") for h in header],
        COLUMNS,
        lambda column: ScalingError(
            f"quantized evals {quoted(source)} have no {column} column (header "
            f"{quoted(','.join(header))}): {EXPECTED}"
        ),
    )


def _row(fields: list[str], where: dict[str, int], width: int) -> tuple[tuple[float, ...] | None, str, str]:
    """((N, D, bits, penalty), reason it is set aside or '', the value shown)."""
    if len(fields) != width:
        return None, "wrong number of fields", ",".join(fields)
    values = {}
    for column, i in where.items():
        try:
            values[column] = float(fields[i])
        except ValueError:
            return None, f"{column} not a number", fields[i]
        if not (math.isfinite(values[column]) and values[column] > 0):
            return None, f"{column} not a positive number", fields[i]
    penalty = values["loss_after"] - values["loss_before"]
    if not penalty > 0:
        return None, "penalty not positive (loss_after <= loss_before)", f"{penalty:.3g}"
    return (values["N"], values["D"], values["bits"], penalty), "", ""


def parse_ptq_evals(text: str, source: str = "evals") -> PtqEvals:
    """The rows of a quantized-evals CSV text (module docstring); refuses a table without the five columns."""
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    at = next((i for i, r in enumerate(lines) if any(c.strip() for c in r)), None)
    if at is None:
        raise ScalingError(f"quantized evals {quoted(source)} are empty: {EXPECTED}")
    where = _header(lines[at], source)
    rows, set_aside, total = [], [], 0
    for number, fields in enumerate(lines[at + 1 :], start=at + 2):
        if not any(c.strip() for c in fields):
            continue
        total += 1
        row, reason, shown = _row(fields, where, len(lines[at]))
        if row is None:
            set_aside.append((number, reason, shown))
        else:
            rows.append(row)
    N, D, bits, penalty = (np.array(c, dtype=float) for c in (zip(*rows) if rows else ([], [], [], [])))
    return PtqEvals(N, D, bits, penalty, tuple(set_aside), source, total)


def read_ptq_evals(path: Any) -> PtqEvals:
    """A quantized-evals CSV file, read and parsed."""
    text = inputs.read_text(inputs.checked_path(path, "quantized evals file"), "quantized evals file")
    return parse_ptq_evals(text, str(path))


def design(N, D, bits) -> np.ndarray:
    """The columns of log delta's linear model: 1, log D, -log N, -bits."""
    return np.stack([np.ones_like(N), np.log(D), -np.log(N), -bits], axis=1)


def solve(N, D, bits, penalty) -> np.ndarray:
    """Least squares on log delta: (log C_T, gamma_D, gamma_N, 1/gamma_post)."""
    return np.linalg.lstsq(design(N, D, bits), np.log(penalty), rcond=None)[0]


def _constants(coef: np.ndarray) -> dict[str, float] | None:
    if not coef[3] > 0:  # the penalty must fall with bits
        return None
    return dict(C_T=math.exp(coef[0]), gamma_D=float(coef[1]), gamma_N=float(coef[2]), gamma_post=1 / coef[3])


@dataclass(frozen=True)
class FittedPrecisionLaw:
    """A `PrecisionLaw` fitted to quantized evaluations, with bootstrap intervals."""

    law: PrecisionLaw
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    interval_level: float = 0.8
    evals: str = ""
    n_rows: int = 0
    rms_log_error: float = math.nan
    n_bootstrap: int = 0
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The law file (`scaling.laws.precision.load_precision_law` reads it back) with a ``fit`` record."""
        return {
            **self.law.to_dict(),
            "fit": {
                "evals": self.evals,
                "n_rows": self.n_rows,
                "objective": "least squares on log delta_PTQ (rows with a positive penalty)",
                "rms_log_error": self.rms_log_error,
                "n_bootstrap": self.n_bootstrap,
                "interval_level": self.interval_level,
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "warnings": list(self.warnings),
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write the law file (read back by `precision_law_from_dict` first, so it always loads)."""
        return save_law_file(self.to_dict(), path, precision_law_from_dict)


def fit_precision_law(
    source: Any, *, bootstrap: int = 0, seed: int = 0, level: float = 0.8, name: str = "fitted-ptq-law"
) -> FittedPrecisionLaw:
    """Fit delta_PTQ to quantized evaluations (a path, or a `PtqEvals`); ``bootstrap`` resamples give
    intervals at ``level``. Refuses too few rows, a table whose N, D or bits do not vary, and a fit whose
    penalty does not fall with bits or whose exponents are out of range (`precision_law_from_dict`)."""
    evals = source if isinstance(source, PtqEvals) else read_ptq_evals(source)
    notes = [line for line in [evals.set_aside_line()] if line]
    n = len(evals.N)
    if n < MIN_ROWS:
        raise ScalingError(
            f"{evals.source} has {n} usable row(s) ({notes[0] if notes else 'none set aside'}): the four "
            f"constants of delta_PTQ need at least {MIN_ROWS} rows with a positive penalty"
        )
    for what, values in (("N", evals.N), ("D", evals.D), ("bits", evals.bits)):
        if np.unique(values).size < 2:
            raise ScalingError(
                f"every usable row of {evals.source} has {what} = {values[0]:g}: fitting delta_PTQ needs "
                f"rows at two or more {what} values (N, D and bits each vary)"
            )
    if np.linalg.matrix_rank(design(evals.N, evals.D, evals.bits)) < 4:
        raise ScalingError(
            f"in {evals.source} log D, log N and bits are collinear (e.g. one tokens-per-parameter ratio): "
            "gamma_D and gamma_N need rows where D varies at a fixed N"
        )
    bootstrap = check_bootstrap(bootstrap, n)
    args = (evals.N, evals.D, evals.bits, evals.penalty)
    coef = solve(*args)
    constants = _constants(coef)
    if constants is None:
        raise ScalingError(
            f"the penalty of {evals.source} does not fall with bits (fitted 1/gamma_post = {coef[3]:.3g}): "
            "delta_PTQ needs more damage at fewer bits"
        )
    law = precision_law_from_dict(
        {
            "name": name,
            "source": f"fitted to {n} quantized evaluations of {evals.source} in {FORM}",
            "constants": constants,
            "fit_range": {
                "params": [float(evals.N.min()), float(evals.N.max())],
                "tokens": [float(evals.D.min()), float(evals.D.max())],
            },
        },
        "fitted precision law",
    )
    rms = float(np.sqrt(np.mean((design(evals.N, evals.D, evals.bits) @ coef - np.log(evals.penalty)) ** 2)))
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(bootstrap):
        pick = rng.integers(0, n, n)
        found = _constants(solve(*(a[pick] for a in args)))
        if found is not None:
            rows.append([found[k] for k in CONSTANTS])
    intervals = percentile_intervals(rows, CONSTANTS, level)
    if n < 3 * len(CONSTANTS):
        notes.append(
            f"only {n} rows for delta_PTQ's 4 constants: they are poorly determined; use at least 12"
        )
    return FittedPrecisionLaw(law, intervals, level, evals.source, n, rms, len(rows), tuple(notes))
