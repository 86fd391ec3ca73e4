"""One large run across processes or GPUs with torchrun (DistributedDataParallel).

A sweep of small runs is embarrassingly parallel (use ``scaling sweep --workers`` or ``--backend ray``); DDP
is for one run too big for one device. Usage::

    # 2 CPU processes (gloo), e.g. to test on a laptop
    torchrun --standalone --nproc_per_node 2 -m scaling.train.ddp --out runs/big \\
        --config '{"d_model": 256, "n_layer": 4, "budget": 1e14, "batch": 16}'
    # 8 GPUs on one node (nccl); multi-node: --nnodes N --rdzv-endpoint HOST:PORT on every node
    # (without InfiniBand, set NCCL_IB_DISABLE=1: nanoGPT PR #55)
    torchrun --standalone --nproc_per_node 8 -m scaling.train.ddp --out runs/big --config cfg.json

``--config`` is a `RunConfig` as JSON text or a path to a JSON file; ``device`` defaults to ``auto`` here
(cuda if present). The backend is nccl on GPU and gloo on CPU. Every rank draws the same global batch and
trains on its ``batch / world_size`` slice, so the run has the same D, FLOPs, schedule and data as the
single-process run of the same config (losses agree to float rounding). Rank 0 adds the run's row to
``OUT/runs.csv``, ``OUT/curves/<run_id>.csv`` and ``OUT/checkpoints/<run_id>.pt``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaling.train.ddp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="RunConfig as JSON text or a .json file")
    parser.add_argument("--out", required=True, help="output folder (rank 0 writes it)")
    args = parser.parse_args(argv)

    import torch
    import torch.distributed as dist

    from scaling.train.folder import add_row
    from scaling.train.run import RunConfig, train_run, write_curve

    text = args.config
    data = json.loads(Path(text).read_text() if Path(text).is_file() else text)
    data.setdefault("device", "auto")
    config = RunConfig.from_dict(data)
    use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    try:
        record = train_run(config, out_dir=args.out)
        if dist.get_rank() == 0:
            record.row["batch"] = config.batch  # the global batch
            write_curve(record, args.out)
            add_row(Path(args.out) / "runs.csv", record.row)
            print(
                json.dumps(
                    {k: record.row[k] for k in ("run_id", "status", "N", "D", "C", "loss", "tokens_per_s")}
                )
            )
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
