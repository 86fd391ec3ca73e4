"""`calibrate`: what ``scaling calibrate`` asks, answered. It decides what the input is (a training table,
a serving benchmark's JSON, or a probe of this machine), fits it, and writes the calibration file."""

from __future__ import annotations

from scaling import checks
from scaling.calibration.file import Calibration
from scaling.errors import ScalingError


def calibrate(
    logs: str | None = None,
    *,
    output: str | None = None,
    probe: bool = False,
    accelerator: str | None = None,
    accelerator_files: tuple[str, ...] = (),
    force: bool = False,
) -> Calibration:
    """The calibration of ``logs`` (or of this machine with ``probe``), written to ``output`` when given."""
    if bool(probe) == (logs is not None):
        raise ScalingError(
            "give LOGS (a table of runs or a benchmark's JSON), or --probe, not both or neither"
        )
    target = None
    if output is not None:
        target = checks.output_path(output, force=force, suffixes=(".json",), inputs=[logs] if logs else [])
    if probe:
        from scaling.calibration.probe import probe_machine

        calibration = probe_machine()
    else:
        calibration = _from_logs(str(logs), accelerator, accelerator_files)
    if target is not None:
        calibration.write(target)
    return calibration


def _from_logs(logs: str, accelerator: str | None, files: tuple[str, ...]) -> Calibration:
    from scaling.calibration.runs import read_runs
    from scaling.calibration.training import fit_training

    runs = read_runs(logs, accelerator=accelerator, accelerator_files=files)
    return fit_training(runs, source=logs)
