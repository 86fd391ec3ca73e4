"""Predicted against published: published training runs the tests do not use, before and after calibration.

Before: the step at the default MFU (40%). After: the calibrated step model (`scaling.calibration.training`)
fitted on the other runs of the same accelerator, leaving this one out. Run: ``python bench/validate.py``.

Sources (each row names its own): Narayanan et al. 2021 Table 1 (rows not in the tests) and Table 2 (eq. 3
TFLOP/s per GPU, turned into a step time); MT-NLG (Smith et al. 2022, seconds per iteration; configuration
UNCONFIRMED, from secondary copies); LLM Foundry's MPT throughput table (H100, bf16, seq 2048); Llama 3 (Llama
Team 2024, Table 4: TFLOP/s per GPU, counted as 6N + 12LHQT); torchtitan's Llama 3.1 8B (H100, FSDP,
selective recomputation). Serving runs are not in this table yet.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.calibration.runs import TrainingRun
from scaling.calibration.training import fit_training, predict_step, run_terms
from scaling.cluster import parse_cluster
from scaling.flops import palm_attention_flops_per_token
from scaling.flops_report import Dimensions, spec_from_dimensions
from scaling.model import load_model

GPT = {  # Narayanan et al. 2021 / MT-NLG shapes (layers, d_model, heads), vocab 51,200
    "GPT 174.6B": (96, 12288, 96),
    "GPT 529.6B": (105, 20480, 128),
    "GPT 1008B": (128, 25600, 160),
}
MPT = {"MPT-70B": (80, 8192, 64)}


def _eq3_step(spec, batch: int, seq: int, gpus: int, tflops: float) -> float:
    """Narayanan et al. 2021 eq. (3): F = 96 B s l h^2 (1 + s / 6h + V / 16 l h); step = F / (n X)."""
    layers, h, v = spec.n_layer, spec.d_model, spec.vocab_size
    flops = 96 * batch * seq * layers * h * h * (1 + seq / (6 * h) + v / (16 * layers * h))
    return flops / (gpus * tflops * 1e12)


def _runs() -> list[tuple[str, TrainingRun]]:
    rows = []

    def gpt(name: str, vocab: int = 51200) -> object:
        layers, width, heads = (GPT | MPT)[name]
        return spec_from_dimensions(Dimensions(layers=layers, d_model=width, heads=heads, vocab=vocab), 2048)[
            0
        ]

    def add(source, spec, gpus, batch, seq, step, **layout):
        run = TrainingRun(len(rows) + 1, spec, parse_cluster(gpus), seq, batch, step, layout=layout)
        rows.append((source, run))

    for gpus, tf in ((384, 153), (768, 149), (1536, 141)):  # Table 2, PTD-P, batch 1536, microbatch 1
        s = gpt("GPT 174.6B")
        add(
            "Narayanan 2021 T2",
            s,
            f"{gpus}xA100-80GB",
            1536,
            2048,
            _eq3_step(s, 1536, 2048, gpus, tf),
            tp=8,
            pp=12,
            recompute="full",
            micro_batch=1,
        )
    for name, gpus, pp, tf in (("GPT 529.6B", 2520, 35, 163), ("GPT 1008B", 3072, 64, 163)):  # Table 1
        s = gpt(name)
        add(
            "Narayanan 2021 T1",
            s,
            f"{gpus}xA100-80GB",
            gpus,
            2048,
            _eq3_step(s, gpus, 2048, gpus, tf),
            tp=8,
            pp=pp,
            recompute="full",
        )
    for gpus, seconds in ((2240, 60.1), (2800, 50.2), (3360, 44.4)):  # MT-NLG, batch 1920, TP8 x PP35
        add(
            "MT-NLG 530B",
            gpt("GPT 529.6B"),
            f"{gpus}xA100-80GB",
            1920,
            2048,
            seconds,
            tp=8,
            pp=35,
            recompute="full",
        )
    mpt70 = gpt("MPT-70B", 50432)
    for gpus, batch, rate in ((512, 4096, 1007), (256, 2048, 1035), (128, 1024, 1058)):  # LLM Foundry
        add(
            "LLM Foundry MPT",
            mpt70,
            f"{gpus}xH100",
            batch,
            2048,
            batch * 2048 / (rate * gpus),
            tp=1,
            pp=1,
            zero=3,
            recompute="full",
        )
    mpt7 = load_model("mpt-7b")
    add(
        "LLM Foundry MPT",
        mpt7,
        "8xH100",
        48,
        2048,
        48 * 2048 / (10643 * 8),
        tp=1,
        pp=1,
        zero=3,
        recompute="none",
    )
    l405 = load_model("llama-3.1-405b")
    per_token = 6 * l405.params + palm_attention_flops_per_token(l405, 8192)
    for gpus, tf in ((8192, 430), (16384, 400)):  # Table 4: global batch 2048 x 8192 tokens
        add(
            "Llama 3 T4",
            l405,
            f"{gpus}xH100",
            2048,
            8192,
            2048 * 8192 * per_token / (gpus * tf * 1e12),
            tp=8,
            pp=16,
            recompute="none",
        )
    l8 = load_model("llama-3.1-8b")
    for gpus, rate in ((8, 5762), (128, 5605)):  # torchtitan: local batch 2 x 8192, FSDP, selective AC
        add(
            "torchtitan",
            l8,
            f"{gpus}xH100",
            2 * gpus,
            8192,
            2 * 8192 / rate,
            tp=1,
            pp=1,
            zero=3,
            recompute="selective",
        )
    return rows


def main() -> None:
    rows = _runs()
    print(f"{'source':<20} {'model':<16} {'cluster':<16} {'published':>10} {'before':>8} {'after':>8}")
    errors_before, errors_after = [], []
    for k, (source, run) in enumerate(rows):
        terms = run_terms(run)
        before = terms.model_flops / (terms.rate * 0.4)
        same = [
            r for i, (_, r) in enumerate(rows) if i != k and r.cluster.accelerator == run.cluster.accelerator
        ]
        after = predict_step(fit_training(same), terms)
        eb, ea = before / run.step_seconds - 1, after / run.step_seconds - 1
        errors_before.append(eb)
        errors_after.append(ea)
        print(
            f"{source:<20} {run.spec.name[:16]:<16} {str(run.cluster):<16} {run.step_seconds:>9.2f}s "
            f"{eb:>+8.1%} {ea:>+8.1%}"
        )
    rms = lambda e: float(np.sqrt(np.mean(np.square(e))))  # noqa: E731
    print(
        f"\n{len(rows)} runs; RMS step error before {rms(errors_before):.1%}, after {rms(errors_after):.1%}"
    )


if __name__ == "__main__":
    main()
