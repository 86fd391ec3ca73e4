"""Calibration: a user's measurements turned into the efficiencies every estimate assumes.

* `file`: the calibration file (`Calibration`, `Factor`, `load_calibration`): schema version, accelerator,
  each factor with its interval and the measurements it came from; a calibration for another accelerator is
  refused (`Calibration.check_for`).
* `runs`: a table of training runs (`read_runs`); `training`: the step model's compute efficiency, link
  efficiency and per-step overhead and the memory model's overhead fitted to it (`fit_training`), and the MFU
  the calibrated step predicts for a run (`calibrated_mfu`), which the plan, ``flops`` and ``finetune`` use.
"""

from scaling.calibration.file import SCHEMA_VERSION, Calibration, Factor, load_calibration

__all__ = ["SCHEMA_VERSION", "Calibration", "Factor", "load_calibration"]
