#!/usr/bin/env bash
# The checks that need a GPU, in one run of a few minutes (prints everything; writes only under ${OUT:-/tmp}).
#
#   bash bench/gpu_check.sh            # after the README's test install, on a machine with a CUDA GPU
#
# 1. The memory model against a real CUDA training step, term by term (bench_memory_gpu.py).
# 2. Training throughput of the sweep's sizes under bf16 autocast against a measured bf16 matmul peak, and in
#    fp32 against the fp32 peak (bench_train.py).
# 3. The smoke sweep on the GPU with the default precision (bf16 autocast), which ends with its runs' FLOP/s as a
#    fraction of the GPU's catalog peak; then `scaling fit` on it.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: nothing to check')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
OUT="${OUT:-/tmp}"

echo "== memory: predicted vs measured on $(python -c 'import torch; print(torch.cuda.get_device_name())')"
python bench/bench_memory_gpu.py

echo "== training throughput, bf16 autocast and fp32"
python bench/bench_train.py --device cuda --precision bf16 --seconds 3
python bench/bench_train.py --device cuda --precision fp32 --seconds 3

echo "== smoke sweep on the GPU (bf16 autocast by default)"
rm -rf "$OUT/gpu-smoke"
scaling sweep --preset smoke --device cuda --out "$OUT/gpu-smoke"
scaling fit "$OUT/gpu-smoke" --approach all
