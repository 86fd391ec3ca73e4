"""A calibration as `scaling.render.Table`s: its factors, and each measurement against its prediction."""

from __future__ import annotations

from scaling.calibration.file import Calibration
from scaling.render import Table
from scaling.units import format_duration


def calibration_tables(cal: Calibration) -> list[Table]:
    factors = Table.of(
        [
            (name, f.text(), ", ".join(str(r) for r in f.measurements) or "-")
            for name, f in cal.factors.items()
        ],
        ["factor", "value [90% interval]", "from rows"],
        title=f"Calibration ({cal.kind}) for {cal.accelerator}",
        notes=[f"note: {n}" for n in cal.notes],
        align="lll",
    )
    tables = [factors]
    if cal.kind == "training" and cal.measurements:
        rows = [
            (
                m["row"],
                m["model"],
                m["cluster"],
                format_duration(m["step_s"]),
                format_duration(m["predicted_step_s"]),
                f"{m['error']:+.1%}",
                f"{m['mfu']:.1%}",
            )
            for m in cal.measurements
        ]
        tables.append(
            Table.of(
                rows,
                ["row", "model", "cluster", "measured step", "calibrated step", "error", "measured MFU"],
                title="Measurements",
            )
        )
    if cal.kind == "probe":
        row = cal.source.get("accelerator_row", {})
        tables.append(
            Table.of(
                [(",".join(row),), (",".join(f'"{v}"' if "," in str(v) else str(v) for v in row.values()),)],
                title="Accelerator row (add it with --accelerator-file or $SCALING_ACCELERATORS)",
                align="ll",
            )
        )
    if cal.kind == "serving" and cal.measurements:
        tables.append(_serving_measurements(cal))
    elif cal.kind == "training" and cal.measurements:
        pass
    elif cal.measurements:
        keys = list(cal.measurements[0])
        tables.append(Table.of([[m[k] for k in keys] for m in cal.measurements], keys, title="Measurements"))
    return tables


def _serving_measurements(cal: Calibration) -> Table:
    """Each benchmark run: its deployment and load, each measured number and the calibrated one's error."""

    def cell(m: dict, key: str, scale: float, unit: str) -> str:
        measured, predicted = m.get(f"measured_{key}"), m.get(f"predicted_{key}")
        if measured is None or predicted is None:
            return "-"
        unused = "" if key in m.get("fitted_on", (key,)) else " (unfitted)"
        return f"{measured * scale:,.4g}{unit} {predicted / measured - 1:+.1%}{unused}"

    rows = [
        (
            m["row"],
            f"{m['model']} {m['tp']}x{m['accelerator']} {m['precision']}"
            + (f" {m['quant']}" if m.get("quant") else ""),
            f"{m['prompt_tokens']:.0f}/{m['output_tokens']:.0f}",
            f"{m['concurrency']:.4g}",
            cell(m, "tokens_per_s", 1.0, ""),
            cell(m, "tpot_s", 1e3, " ms"),
            cell(m, "ttft_s", 1e3, " ms"),
        )
        for m in cal.measurements
    ]
    headers = ["row", "deployment", "in/out", "in flight", "output tok/s", "TPOT", "TTFT"]
    return Table.of(rows, headers, title="Measurements, each with the calibrated prediction's error")
