"""The question ``scaling memory`` (and the app's memory view) asks, as the value objects `estimate_memory`
takes: `MemoryRequest`, built from the options of `scaling.options.MEMORY` by `memory_request`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaling.calibration.file import memory_overhead
from scaling.cluster import Cluster
from scaling.errors import ScalingError
from scaling.memory.breakdown import MemoryBreakdown
from scaling.memory.estimate import estimate_memory
from scaling.memory.parallel import Parallelism
from scaling.memory.precision import Precision
from scaling.memory.workload import Workload
from scaling.model import ModelSpec
from scaling.options import MEMORY, Parsed


@dataclass(frozen=True)
class MemoryRequest:
    """One memory question: a model (a `ModelSpec`, preset, config.json or parameter count) in a ``mode``,
    its `Precision`, `Parallelism`, `Workload` and `Cluster`, a published ``convention`` (None: ours) and
    the framework overhead; ``mfu`` and ``top`` are the layout search's."""

    model: ModelSpec | str | float
    mode: str
    precision: Precision
    parallel: Parallelism
    workload: Workload
    cluster: Cluster
    convention: str | None = None
    overhead_bytes: float | None = None
    mfu: float = MEMORY["mfu"].default
    top: int = MEMORY["top"].default

    @classmethod
    def of(cls, values: Parsed) -> MemoryRequest:
        """The request for parsed `MEMORY` options: a MODEL or ``--params``, not both."""
        v = values
        if (v.model is None) == (v.params is None):
            raise ScalingError("give a MODEL (preset name or config.json) or --params, not both")
        return cls(
            model=v.params if v.params is not None else v.model,
            mode=v.mode,
            precision=Precision.of(v.precision, v.optimizer, quant=v.quant, kv_dtype=v.kv_dtype),
            parallel=Parallelism.of(
                tp=v.tp,
                pp=v.pp,
                ep=v.ep,
                etp=v.etp,
                pp_layers=v.pp_layers,
                sp=v.sp,
                zero=v.zero,
                offload=v.offload,
                interleave=v.interleave,
            ),
            workload=Workload.of(
                micro_batch=v.micro_batch,
                seq_len=v.seq_len,
                global_batch=v.global_batch,
                recompute=v.recompute,
                flash_attention=v.flash_attention,
                batch=v.batch,
                context=v.context,
                lora_rank=v.lora_rank,
                lora_targets=v.lora_targets,
            ),
            cluster=v.gpus if v.gpus is not None else Cluster(),
            convention=v.convention,
            overhead_bytes=memory_overhead(
                v.calibration, v.overhead_bytes, v.gpus if v.gpus is not None else Cluster()
            ),
            mfu=v.mfu,
            top=v.top,
        )

    def breakdown(self) -> MemoryBreakdown:
        """`estimate_memory` for this request."""
        return estimate_memory(
            self.model,
            mode=self.mode,
            precision=self.precision,
            parallel=self.parallel,
            workload=self.workload,
            cluster=self.cluster,
            convention=self.convention,
            overhead_bytes=self.overhead_bytes,
        )


def memory_request(**options: Any) -> MemoryRequest:
    """A `MemoryRequest` from the options of ``scaling memory`` as keywords (``gpus="8xH100", zero="3"``,
    strings with units or numbers), each parsed once; an unknown keyword is a `TypeError` naming the
    accepted ones (`scaling.options.MEMORY`)."""
    return MemoryRequest.of(MEMORY.parse(options))
