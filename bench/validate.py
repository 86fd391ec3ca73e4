"""Predicted against published: real training and serving runs the tests do not use, before and after
calibration (leave-one-out). Run ``python bench/validate.py`` (``--markdown`` prints the README's table).

Training rows are steps (seconds per optimizer step; a GPU-hours total is turned into one by the run's tokens
and batch). Before: the step at the default MFU (40%). After: the calibrated step model
(`scaling.calibration.training`) fitted on the other runs of the same source (one stack on one accelerator,
as a user calibrates on their own logs), leaving this one out; a source with no other run borrows the other
runs of its accelerator. Serving rows are output tokens per second of an offline benchmark, predicted by the
serving calibration's continuous-batching cycle (`scaling.calibration.serving.benchmark_prediction`) at the
batch that fits memory. Before: the efficiency table's values. After: `fit_serving` on the other rows of the
same deployment, leaving this one out.

Sources (each row names its own): Narayanan et al. 2021 Table 1 (rows not in the tests) and Table 2 (eq. 3
TFLOP/s per GPU, turned into a step time); MT-NLG (Smith et al. 2022, seconds per iteration; configuration
UNCONFIRMED, from secondary copies); LLM Foundry's MPT throughput table (H100, bf16, seq 2048); Llama 3 (Llama
Team 2024, Table 4: TFLOP/s per GPU, counted as 6N + 12LHQT); torchtitan's Llama 3.1 8B (H100, FSDP,
selective recomputation); LLaMA (Touvron et al. 2023, Table 15 GPU-hours on A100-80GB, Table 2 batch 4M
tokens, 2,048 GPUs as the text gives for 65B); BLOOM (384 A100-80GB, 366B tokens, LLaMA Table 15's 1,082,880
GPU-hours); TensorRT-LLM's performance overview (v1.0-era, Llama 3.3 70B FP8 on 2 H100, Llama 3.1 405B FP8 on
8 H100, Total Output Throughput, requests per row as its method states).
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
from scaling.layout import default_global_batch
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
    llama_tokens = {"llama-7b": 1.0e12, "llama-13b": 1.0e12, "llama-33b": 1.4e12, "llama-65b": 1.4e12}
    llama_hours = {"llama-7b": 82432, "llama-13b": 135168, "llama-33b": 530432, "llama-65b": 1022362}
    for name, hours in llama_hours.items():  # LLaMA Table 15; batch 4M tokens = 2,048 x 2,048 (Table 2)
        steps = llama_tokens[name] / (2048 * 2048)
        add("LLaMA T15", load_model(name), "2048xA100-80GB", 2048, 2048, hours * 3600 / 2048 / steps)
    bloom = load_model("bloom-176b")  # 384 A100-80GB, 366B tokens; batch not in our sources: the default
    batch = round(default_global_batch(bloom, 366e9, 2048).tokens / 2048)
    add(
        "BLOOM (LLaMA T15)",
        bloom,
        "384xA100-80GB",
        batch,
        2048,
        1082880 * 3600 / 384 / (366e9 / (batch * 2048)),
    )
    return rows


def _calibrated(rows, k: int):
    """The calibration run ``k`` is predicted with: fitted on its source's other runs on its accelerator,
    else (none, or too few to fit) on its accelerator's other runs."""
    from scaling.errors import ScalingError

    source, run = rows[k]
    same = [r for i, (s, r) in enumerate(rows) if i != k and s == source and _acc(r) == _acc(run)]
    if same:
        try:
            return fit_training(same)
        except ScalingError:
            pass
    return fit_training([r for i, (_, r) in enumerate(rows) if i != k and _acc(r) == _acc(run)])


def _acc(run) -> str:
    return run.cluster.accelerator.name


def training_rows() -> list[tuple]:
    rows = _runs()
    out = []
    for k, (source, run) in enumerate(rows):
        terms = run_terms(run)
        before = terms.model_flops / (terms.rate * 0.4)
        after = predict_step(_calibrated(rows, k), terms)
        out.append(
            (
                source,
                run.spec.name,
                str(run.cluster),
                f"{run.step_seconds:.2f} s step",
                before / run.step_seconds - 1,
                after / run.step_seconds - 1,
            )
        )
    return out


# ------------------------------------------------------------------------------------------------ serving
TRT = "TRT-LLM perf overview"
# (model, accelerator, tp, ISL, OSL, requests, Total Output Throughput tok/s), FP8 checkpoints, offline
SERVING = [
    *(
        ("llama-3.1-70b", "H100", 2, isl, osl, n, thr)  # Llama 3.3 70B: Llama 3.1 70B's shape
        for isl, osl, n, thr in (
            (128, 128, 30000, 6378),
            (128, 2048, 3000, 6651),
            (1000, 1000, 3000, 4205),
            (2048, 128, 3000, 762),
            (2048, 2048, 1500, 3082),
            (5000, 500, 1500, 898),
            (20000, 2000, 1000, 437),
        )
    ),
    *(
        ("llama-3.1-405b", "H100", 8, isl, osl, n, thr)
        for isl, osl, n, thr in (
            (128, 128, 30000, 3627),
            (128, 2048, 3000, 4340),
            (1000, 1000, 3000, 2919),
            (2048, 128, 3000, 453),
            (2048, 2048, 1500, 2296),
            (5000, 500, 1500, 610),
            (20000, 2000, 1000, 345),
        )
    ),
]


def serving_rows() -> list[tuple]:
    from scaling.calibration.benchmarks import TRTLLM, BenchmarkSetup, ServingMeasurement
    from scaling.calibration.serving import benchmark_prediction, fit_serving, make_case, with_factors

    measurements = [
        ServingMeasurement(
            i + 1, TRT, TRTLLM, BenchmarkSetup(load_model(m), acc, tp, "fp8", None, "fp8"), isl, osl, n, thr
        )
        for i, (m, acc, tp, isl, osl, n, thr) in enumerate(SERVING)
    ]
    out = []
    for m in measurements:
        case = make_case(m)
        before = benchmark_prediction(case.deployment, case.concurrency)["tokens_per_s"]
        others = [o for o in measurements if o is not m and o.setup == m.setup]
        cal = fit_serving(others)
        values = {name: f.value for name, f in cal.factors.items()}
        after = benchmark_prediction(with_factors(case.deployment, values), case.concurrency)["tokens_per_s"]
        out.append(
            (
                TRT,
                m.setup.spec.name,
                f"{m.setup.tp}x{m.setup.accelerator} fp8 {m.prompt_tokens:.0f}/{m.output_tokens:.0f}",
                f"{m.output_tokens_per_s:,.0f} tok/s",
                before / m.output_tokens_per_s - 1,
                after / m.output_tokens_per_s - 1,
            )
        )
    return out


def main() -> None:
    rows = training_rows() + serving_rows()
    rms = lambda e: float(np.sqrt(np.mean(np.square(e))))  # noqa: E731
    summary = {
        kind: (rms([r[4] for r in part]), rms([r[5] for r in part]), len(part))
        for kind, part in (("training", rows[: len(_runs())]), ("serving", rows[len(_runs()) :]))
    }
    if "--markdown" in sys.argv:
        print("| source | model | run | published | before | after |\n|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:+.1%} | {r[5]:+.1%} |")
        for kind, (before, after, n) in summary.items():
            print(f"| **RMS, {n} {kind} runs** | | | | **{before:.1%}** | **{after:.1%}** |")
        return
    print(f"{'source':<22} {'model':<16} {'run':<34} {'published':>16} {'before':>8} {'after':>8}")
    for r in rows:
        print(f"{r[0]:<22} {r[1][:16]:<16} {r[2]:<34} {r[3]:>16} {r[4]:>+8.1%} {r[5]:>+8.1%}")
    for kind, (before, after, n) in summary.items():
        print(f"{n} {kind} runs; RMS error before {before:.1%}, after {after:.1%}")


if __name__ == "__main__":
    main()
