"""CLI commands, one module per concept. Each module exposes ``COMMANDS``, a list of click commands.

`HOMES` says which module holds each command, so that ``scaling NAME`` imports that one module and not all
of them (`scaling.cli` discovers every module for ``--help`` and for a name missing here, so a new command
works without an entry; the entry only makes it start faster).
"""

HOMES = {
    "app": "app",
    "chart": "charts",
    "flops": "flops_and_catalogs",
    "models": "flops_and_catalogs",
    "mfu": "calibration",
    "calibrate": "calibration",
    "gpus": "flops_and_catalogs",
    "finetune": "finetune",
    "inference": "inference",
    "fit": "laws",
    "optimal": "laws",
    "loss": "laws",
    "laws": "laws",
    "memory": "memory",
    "next": "next",
    "plan": "plan",
    "sweep": "train",
    "train": "train",
    "sample": "train",
}
