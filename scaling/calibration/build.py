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
    model: str | None = None,
    tp: int | None = None,
    precision: str | None = None,
    quant: str | None = None,
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
        serving = {"model": model, "tp": tp, "precision": precision, "quant": quant}
        calibration = _from_logs(str(logs), accelerator, accelerator_files, serving)
    if target is not None:
        calibration.write(target)
    return calibration


def _from_logs(logs: str, accelerator: str | None, files: tuple[str, ...], serving: dict) -> Calibration:
    """A serving benchmark's results (vLLM, trtllm-bench) fitted by `fit_serving`, else a training table
    by `fit_training`; the serving flags apply to benchmarks only."""
    from scaling.calibration.benchmarks import is_serving_benchmark, read_benchmarks
    from scaling.calibration.runs import read_runs
    from scaling.calibration.training import fit_training

    if is_serving_benchmark(logs):
        from scaling.calibration.serving import fit_serving

        return fit_serving(read_benchmarks(logs, accelerator=accelerator, **serving), source=logs)
    given = [f"--{k}" for k, v in serving.items() if v is not None]
    if given:
        raise ScalingError(f"{', '.join(given)} describe a serving benchmark; {logs} is a training table")

    runs = read_runs(logs, accelerator=accelerator, accelerator_files=files)
    return fit_training(runs, source=logs)
