"""Calibration: a user's measurements turned into the efficiencies every estimate assumes.

* `file`: the calibration file (`Calibration`, `Factor`, `load_calibration`): schema version, accelerator,
  each factor with its interval and the measurements it came from; a calibration for another accelerator is
  refused (`Calibration.check_for`).
* `runs`: a table of training runs (`read_runs`); `training`: the step model's compute efficiency, link
  efficiency and per-step overhead and the memory model's overhead fitted to it (`fit_training`), and the MFU
  the calibrated step predicts for a run (`calibrated_mfu`), which the plan, ``flops`` and ``finetune`` use.
* `benchmarks`: serving benchmark results (``vllm bench serve``, ``trtllm-bench``) as `ServingMeasurement`s;
  `serving`: the serving roofline's prefill compute fraction, decode bandwidth fraction and per-step overhead
  fitted to them (`fit_serving`), which ``scaling inference`` applies through `ServingEfficiency.resolve`.
* `probe`: this machine's own peak (`probe_machine`), which the sweep's ETA can use.
* `apply`: a calibration applied to a face's question; `by_side` splits the plan's ``--calibration`` files
  into its training (or probe) one and its serving one, at most one of each.
"""

from scaling.calibration.file import SCHEMA_VERSION, Calibration, Factor, load_calibration

__all__ = ["SCHEMA_VERSION", "Calibration", "Factor", "load_calibration"]
