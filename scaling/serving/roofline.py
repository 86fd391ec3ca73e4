"""How fast a model serves and what a token costs: a roofline per phase, with every efficiency stated.

A deployment is ``devices`` accelerators cut into ``replicas`` copies of the model, each spread over ``tp``
devices with Megatron-style tensor parallelism (pipeline parallelism is not modelled). A mixture of experts
spreads its routed experts over the same devices (`expert_parallel`: EP = TP, as vLLM's
``--enable-expert-parallel`` does without data-parallel attention; each expert split over TP where TP does
not divide the experts): each device holds E / EP whole experts, runs them for every token of the batch, and
the layer's all-reduce combines their outputs. A wide replica (``ep`` > ``tp``, module
`scaling.serving.wide_ep`) runs attention in EP / TP data-parallel groups, spreads the experts over all EP
devices and adds an all-to-all dispatch and combine per MoE layer. Each
replica serves ``batch`` sequences of ``prompt_tokens`` in and ``output_tokens`` out, batched statically: the
prompts are prefilled together, then every decode step makes one token for each sequence.

Per phase and per device, the time is ``max(compute, memory) + communication`` (no overlap of the all-reduces,
as llm-analysis's ``get_latency_fwd_per_layer`` sums them):

* compute = forward FLOPs (`scaling.flops.inference_flops`: prefill, and each decode step at the mean context
  of the generation; causal attention counted as the lower triangle that FlashAttention's causal kernels
  compute) / (tp x dense peak x ``mfu``);
* memory = bytes read / (HBM bandwidth x ``mbu``). A decode step reads the weights it touches (the input
  embedding is a lookup, so only the head's matrix counts, and for MoE only the experts the batch routes to,
  `experts_touched` under uniform routing, a device's share of them being its E / EP experts')
  plus the KV cache (`scaling.memory.kv_cache_bytes`, read once per step: FlashAttention/paged decode kernels
  read the cache and write one new entry; llm-analysis charges it twice). The prefill reads the weights once
  and writes the prompts' KV cache;
* communication = 2 all-reduces per layer (after attention and after the MLP; Shoeybi et al. 2019, Megatron-LM
  §3) of batch x tokens x d_model activations, each an alpha-beta ring: ``allreduce_latency_s`` +
  2 (tp-1)/tp x message / (link bandwidth x ``link_efficiency``).

``prefill_s`` is the time to first token (TTFT) of a batch that arrives together; ``decode_s_per_token`` is
the time per output token (TPOT) at the mean context; the latency of a request is TTFT + (output - 1) x TPOT.
Throughput is output tokens per second in steady decode; dollars per million tokens charge a replica's
device-hours to the prompt tokens for the prefill time and to the output tokens for the decode time.

Left out: queueing and continuous batching, speculative decoding, prefix caching, sampling, and the fixed
per-step costs of kernel launches and the serving framework. Those dominate small models, short prompts and
small per-device shares: the comparison in hahnyuan/LLM-Viewer's GitHub issue #4 finds a pure roofline 2-3x
optimistic on 128-token prefills, and NVIDIA NeMo's Llama-2-7B latencies fall only 1.7x from TP 1 to TP 8
where the bytes per device fall 8x.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from scaling import checks
from scaling.catalog import Accelerator, get_accelerator
from scaling.cost import device_hour_price, mfu_warning
from scaling.errors import ScalingError
from scaling.flops import inference_flops
from scaling.memory import (
    DEVICES_PER_NODE,
    device_count,
    dtype_bytes,
    kv_cache_bytes,
    max_batch_and_context,
)
from scaling.model import ModelSpec, load_model
from scaling.render import Displayable, Table
from scaling.serving.efficiency import Efficiencies, ServingAssumptions
from scaling.serving.experts import expert_parallel, expert_share, experts_touched, routing_note
from scaling.serving.layouts import smallest_tp
from scaling.serving.layouts import tp_sizes as tp_sizes  # where it lived first
from scaling.serving.tables import phases_table, summary_table
from scaling.serving.wide_ep import AllToAll, wide_fitting_batch, wide_layouts, widen
from scaling.units import GB


def link_bytes_per_s(acc: Accelerator, tp: int, assumptions: ServingAssumptions) -> tuple[float, str]:
    """The link bandwidth per device (one direction) that a ``tp``-way all-reduce runs at, and its source:
    the assumption if given, else the catalog's intra-node link, or its inter-node network when the group
    spans more than one node of `DEVICES_PER_NODE` (a user's row without link columns is PCIe 4.0)."""
    if assumptions.link_bytes_per_s is not None:
        return assumptions.link_bytes_per_s, "given"
    if tp > DEVICES_PER_NODE:
        return (
            acc.inter_node_bytes_per_s,
            f"inter-node network, catalog: TP {tp} spans nodes of {DEVICES_PER_NODE}",
        )
    return acc.intra_node_bytes_per_s, f"{acc.intra_node_link}, catalog"


@dataclass(frozen=True)
class Deployment:
    """What is fixed for one model on one replica: per-device constants of the roofline (base units)."""

    spec: ModelSpec
    acc: Accelerator
    tp: int
    ep: int  # devices the routed experts are spread over (`expert_parallel`; 1: dense, or experts split)
    prompt_tokens: int
    output_tokens: int
    precision: str  # the math and activations' dtype
    weight_dtype: str  # the weights' storage dtype (a quantization, or the precision)
    kv_dtype: str
    peak_flops: float
    memory_bytes_per_s: float
    link_bytes_per_s: float
    link_source: str
    weight_bytes: float  # bytes per weight element (quantized or not)
    kv_bytes: float  # bytes per KV-cache element
    act_bytes: float  # bytes per activation element (the all-reduce messages)
    dense_read_params: float  # weights every step touches (all but the experts and the lookup tables)
    expert_params: float  # one expert in every MoE layer
    prefill_flops_per_seq: float
    decode_flops_per_seq_step: float  # mean over the generation
    kv_read_bytes_per_seq_step: float  # per device, at the mean context
    kv_write_bytes_per_seq_prefill: float  # per device
    allreduces: int  # per forward pass
    assumptions: ServingAssumptions
    eff: Efficiencies  # the regime's efficiencies (`ServingAssumptions.efficiencies`)
    attention_dp: int = 1  # data-parallel attention groups of a wide replica (`scaling.serving.wide_ep`)
    all_to_all: AllToAll | None = None  # a wide replica's dispatch and combine

    @property
    def devices_per_replica(self) -> int:
        return self.tp * self.attention_dp

    @property
    def expert_share(self) -> float:
        """The share of the routed experts' weights one device holds (`expert_share`)."""
        return expert_share(self.spec, self.ep, max(self.tp // self.ep, 1))

    def weights_read_bytes(self, tokens: Any) -> Any:
        """Weight bytes one device reads in a forward pass over the replica's ``tokens`` tokens: its TP share
        of the dense weights and its share of a MoE's touched experts (the touched ones among its own, on
        average touched x `expert_share`: 1 / TP when EP x ETP = TP, `expert_parallel`)."""
        spec = self.spec
        experts = experts_touched(spec.n_experts, spec.top_k, tokens) if spec.is_moe else 1.0
        routed = experts * self.expert_params * self.expert_share
        return (self.dense_read_params / self.tp + routed) * self.weight_bytes

    def all_to_all_seconds(self, tokens: Any) -> Any:
        """A wide replica's dispatch and combine over the replica's ``tokens`` tokens (zero otherwise)."""
        if self.all_to_all is None:
            return np.zeros_like(np.asarray(tokens, dtype=float))
        return self.all_to_all.seconds(np.asarray(tokens, dtype=float) / self.devices_per_replica)

    def allreduce_seconds(self, tokens: Any) -> Any:
        """All-reduce time of one forward pass over ``tokens`` tokens (alpha-beta ring, per device)."""
        tokens = np.asarray(tokens, dtype=float)
        if self.tp == 1:
            return np.zeros_like(tokens)
        a = self.assumptions
        message = tokens * self.spec.d_model * self.act_bytes
        ring = 2.0 * (self.tp - 1) / self.tp * message  # bytes each device sends (and receives)
        return self.allreduces * (a.allreduce_latency_s + ring / (self.link_bytes_per_s * a.link_efficiency))

    def decode_seconds(self, batch: Any) -> dict[str, Any]:
        """One decode step for ``batch`` sequences per replica (split evenly over its DP attention groups):
        compute, memory and communication seconds (broadcasts)."""
        e, b, dp = self.eff, np.asarray(batch, dtype=float), self.attention_dp
        compute = (
            b * self.decode_flops_per_seq_step / (self.devices_per_replica * self.peak_flops * e.decode_mfu)
        )
        weights, kv = self.weights_read_bytes(b), b / dp * self.kv_read_bytes_per_seq_step
        bandwidth = self.memory_bytes_per_s
        memory = weights / (bandwidth * e.weights_mbu) + kv / (bandwidth * e.kv_mbu)
        all_to_all = self.all_to_all_seconds(b)
        comm = self.allreduce_seconds(b / dp) + all_to_all
        return {
            "compute": compute,
            "memory": memory,
            "comm": comm,
            "all_to_all": all_to_all,
            "overhead": np.full_like(b, e.step_overhead_s),
            "total": np.maximum(compute, memory) + comm + e.step_overhead_s,
            "bytes": weights + kv,
        }

    def prefill_seconds(self, batch: Any) -> dict[str, Any]:
        """The prefill of ``batch`` prompts together: compute, memory and communication seconds
        (broadcasts)."""
        e, b, dp = self.eff, np.asarray(batch, dtype=float), self.attention_dp
        tokens = b * self.prompt_tokens
        compute = (
            b * self.prefill_flops_per_seq / (self.devices_per_replica * self.peak_flops * e.prefill_mfu)
        )
        moved = self.weights_read_bytes(tokens) + b / dp * self.kv_write_bytes_per_seq_prefill
        memory = moved / (self.memory_bytes_per_s * e.weights_mbu)
        all_to_all = self.all_to_all_seconds(tokens)
        comm = self.allreduce_seconds(tokens / dp) + all_to_all
        # one forward pass per chunk of a DP group's prompts
        passes = np.ceil(tokens / dp / self.assumptions.prefill_chunk_tokens)
        overhead = passes * e.step_overhead_s
        return {
            "compute": compute,
            "memory": memory,
            "comm": comm,
            "all_to_all": all_to_all,
            "overhead": overhead,
            "total": np.maximum(compute, memory) + comm + overhead,
        }

    def step_seconds(self, decode_seqs: Any, prefill_tokens: Any) -> Any:
        """One iteration of continuous batching: ``decode_seqs`` sequences each make a token (at the mean
        context) while ``prefill_tokens`` prompt tokens are prefilled alongside (one chunk). The same terms as
        `decode_seconds` and `prefill_seconds`, in one forward pass: one weight read, one all-reduce set, one
        overhead (broadcasts)."""
        e, dp = self.eff, self.attention_dp
        b, c = np.asarray(decode_seqs, dtype=float), np.asarray(prefill_tokens, dtype=float)
        peak = self.devices_per_replica * self.peak_flops
        compute = b * self.decode_flops_per_seq_step / (peak * e.decode_mfu) + (
            c * self.prefill_flops_per_seq / self.prompt_tokens / (peak * e.prefill_mfu)
        )
        bandwidth = self.memory_bytes_per_s
        kv_write = c / dp * self.kv_write_bytes_per_seq_prefill / self.prompt_tokens
        memory = (self.weights_read_bytes(b + c) + kv_write) / (bandwidth * e.weights_mbu) + (
            b / dp * self.kv_read_bytes_per_seq_step / (bandwidth * e.kv_mbu)
        )
        comm = self.allreduce_seconds((b + c) / dp) + self.all_to_all_seconds(b + c)
        return np.maximum(compute, memory) + comm + e.step_overhead_s

    def crossover_batch(self) -> float:
        """The batch at which a decode step turns compute-bound (inf if the KV reads keep it memory-bound).

        Dense, short context: (peak / bandwidth) x (bytes per weight / 2) x (mbu / mfu), the ridge point.
        """

        def excess(b: Any) -> Any:
            t = self.decode_seconds(b)
            return t["compute"] - t["memory"]

        hi = 1.0
        while excess(hi) < 0:
            hi *= 2.0
            if hi > 2**40:
                return math.inf
        lo = hi / 2.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if excess(mid) < 0 else (lo, mid)
        return 0.5 * (lo + hi)


def _read_params(spec: ModelSpec) -> tuple[float, float]:
    """(dense params a forward pass reads, params of one expert across the MoE layers).

    Lookup tables (token, position and token-type embeddings) are read one row per token, so they count only
    where the output head shares the token embedding (tied embeddings)."""
    parts = spec.param_breakdown()
    lookups = parts["position_embedding"] + parts["token_type_embedding"]
    if not spec.tied_embeddings:
        lookups += parts["token_embedding"]
    total = float(spec.params - lookups)
    if not spec.is_moe:
        return total, 0.0
    one_expert = float(spec.expert_params() * spec.moe_layers)  # routed experts only; shared ones are dense
    return total - spec.n_experts * one_expert, one_expert


def make_deployment(
    model: ModelSpec | str,
    accelerator: str | Accelerator,
    *,
    tp: int = 1,
    prompt_tokens: int = 2048,
    output_tokens: int = 256,
    precision: str = "bf16",
    quant: str | None = None,
    kv_dtype: str | None = None,
    assumptions: ServingAssumptions | None = None,
    ep: int | None = None,
) -> Deployment:
    """The per-device constants of serving ``model`` on ``tp`` devices of ``accelerator`` (see the
    module doc); ``ep`` above ``tp``: a wide replica of ``ep`` devices (`scaling.serving.wide_ep.widen`)."""
    spec = load_model(model)
    acc = get_accelerator(accelerator)
    a = assumptions or ServingAssumptions()
    tp = checks.positive_int(tp, "tensor parallel size")
    prompt = checks.positive_int(prompt_tokens, "prompt length")
    output = checks.positive_int(output_tokens, "output length")
    flops = inference_flops(spec, prompt_tokens=prompt, new_tokens=output, batch=1, causal="half")
    kv_b = dtype_bytes(kv_dtype or precision, "KV dtype")
    decoder = spec.arch == "decoder"
    mean_ctx = (prompt if decoder else 0) + (output + 1) / 2.0
    source = None if decoder else prompt
    if not math.isfinite(acc.bandwidth_bytes_per_s):
        raise ScalingError(
            f"accelerator {acc.name!r} has no memory bandwidth in the catalog; serving needs it"
        )
    link, link_source = link_bytes_per_s(acc, tp, a)
    dense, expert = _read_params(spec)
    dep = Deployment(
        spec=spec,
        acc=acc,
        tp=tp,
        ep=expert_parallel(spec, tp)[0],
        prompt_tokens=prompt,
        output_tokens=output,
        precision=precision,
        weight_dtype=quant or precision,
        kv_dtype=kv_dtype or precision,
        peak_flops=acc.peak(precision),
        memory_bytes_per_s=acc.bandwidth_bytes_per_s,
        link_bytes_per_s=link,
        link_source=link_source,
        weight_bytes=dtype_bytes(quant or precision, "weight dtype"),
        kv_bytes=kv_b,
        act_bytes=dtype_bytes(precision, "precision"),
        dense_read_params=dense,
        expert_params=expert,
        prefill_flops_per_seq=flops.prefill_flops,
        decode_flops_per_seq_step=flops.decode_flops / output,
        kv_read_bytes_per_seq_step=float(kv_cache_bytes(spec, 1, mean_ctx, kv_b, tp=tp, source_len=source)),
        kv_write_bytes_per_seq_prefill=float(
            kv_cache_bytes(spec, 1, prompt if decoder else 1, kv_b, tp=tp, source_len=source)
        ),
        allreduces=2 * spec.total_layers,
        assumptions=a,
        eff=a.efficiencies(spec, precision, quant or precision, prompt, acc.name),
    )
    return dep if ep is None else widen(dep, ep)


@dataclass(frozen=True)
class ServingEstimate(Displayable):
    """Latency, throughput and cost of serving one model on a deployment (base units: s, bytes,
    FLOPs, USD)."""

    model: str
    accelerator: str
    devices: int
    tp: int
    ep: int  # devices a MoE's routed experts are spread over (`expert_parallel`: TP or 1; wide: the replica)
    attention_dp: int  # data-parallel attention groups per replica (1 unless wide, `scaling.serving.wide_ep`)
    replicas: int
    batch: int
    prompt_tokens: int
    output_tokens: int
    precision: str
    weight_dtype: str
    kv_dtype: str
    prefill_s: float
    prefill_compute_s: float
    prefill_memory_s: float
    prefill_comm_s: float  # all-reduces and all-to-all
    prefill_all_to_all_s: float
    prefill_overhead_s: float
    decode_s_per_token: float
    decode_compute_s: float
    decode_memory_s: float
    decode_comm_s: float
    decode_all_to_all_s: float
    decode_overhead_s: float
    bound: str
    bytes_per_step: float  # per device, one decode step at the mean context
    flops_per_step: float  # per device, one decode step at the mean context
    crossover_batch: float
    latency_s: float
    tokens_per_s: float  # output tokens per second of the deployment in steady decode
    tokens_per_s_per_device: float
    end_to_end_tokens_per_s: float  # output tokens per second of the deployment, prefill time included
    input_tokens_per_s: float  # prompt tokens per second of the deployment while prefilling
    max_batch: int
    usd_per_million_input_tokens: float | None
    usd_per_million_output_tokens: float | None
    price_usd_per_hour: float | None
    price_source: str
    link_bytes_per_s: float
    link_source: str
    all_to_all: AllToAll | None  # a wide replica's dispatch and combine assumption
    assumptions: ServingAssumptions
    efficiencies: Efficiencies
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["assumptions"] = self.assumptions.to_dict()
        out["efficiencies"] = self.efficiencies.to_dict()
        out["warnings"], out["notes"] = list(self.warnings), list(self.notes)
        out["crossover_batch"] = None if math.isinf(self.crossover_batch) else self.crossover_batch
        out["all_to_all"] = None if self.all_to_all is None else self.all_to_all.to_dict()
        return out

    def display_tables(self) -> list[Table]:
        """The phase table and the summary that `scaling inference` prints."""
        return [phases_table(self), summary_table(self)]


def efficiency_notes(dep: Deployment) -> tuple[str, ...]:
    """One line per efficiency the deployment runs at, with its source (the assumptions `scaling inference`
    prints)."""
    e, sources = dep.eff, dict(dep.eff.sources)
    bw = f"{dep.memory_bytes_per_s / GB:,.0f} GB/s"
    profile = dep.assumptions.efficiency_profile
    chosen = (
        () if profile == "default" else (f"efficiency profile {profile}: its rows replace the default's",)
    )
    return (
        *chosen,
        f"prefill at {e.prefill_mfu:.0%} of the {dep.precision} peak ({sources['prefill_mfu']})",
        f"compute-bound decode at {e.decode_mfu:.0%} of it ({sources['decode_mfu']})",
        f"decode reads {dep.weight_dtype} weights at {e.weights_mbu:.0%} of {bw} ({sources['weights_mbu']})",
        f"and the KV cache at {e.kv_mbu:.0%} ({sources['kv_mbu']})",
        f"{e.step_overhead_s * 1e3:g} ms per forward pass ({sources['step_overhead_s']})",
    )


def _split_devices(devices: int, dep: Deployment) -> int:
    devices, n = device_count(devices), dep.devices_per_replica
    if devices % n:
        what = "tensor" if dep.attention_dp == 1 else "expert"
        raise ScalingError(f"{what} parallel size {n} does not divide the {devices} {dep.acc.name} devices")
    return devices // n


def fitting_batch(dep: Deployment) -> int:
    """The largest batch whose weights, KV cache (prompt + output) and activations fit one device of the
    replica, from the memory planner (`scaling.memory.max_batch_and_context`); 0 if not even one fits.

    Only the prompts are prefilled, in chunks of at most ``prefill_chunk_tokens`` (the assumption), so the
    transient activations are one chunk's, not batch x (prompt + output) tokens'. A wide replica:
    `scaling.serving.wide_ep.wide_fitting_batch`."""
    if dep.attention_dp > 1:
        return wide_fitting_batch(dep)
    quant = None if dep.weight_dtype == dep.precision else dep.weight_dtype
    ep, etp = expert_parallel(dep.spec, dep.tp)
    return max_batch_and_context(
        dep.spec,
        dep.acc,
        context=dep.prompt_tokens + dep.output_tokens,
        tp=dep.tp,
        ep=ep,
        etp=etp,
        precision=dep.precision,
        quant=quant,
        kv_dtype=dep.kv_dtype,
        prefill_tokens=dep.assumptions.prefill_chunk_tokens,
    ).max_batch


def estimate_serving(
    model: ModelSpec | str,
    accelerator: str | Accelerator,
    *,
    devices: int = 1,
    tp: int | None = None,
    batch: int = 1,
    prompt_tokens: int = 2048,
    output_tokens: int = 256,
    precision: str = "bf16",
    quant: str | None = None,
    kv_dtype: str | None = None,
    price_usd_per_hour: float | None = None,
    assumptions: ServingAssumptions | None = None,
    ep: int | None = None,
) -> ServingEstimate:
    """Prefill time (TTFT), time per output token, which roofline binds, throughput and $ per million tokens.

    ``tp`` None picks the smallest power of two whose devices hold the batch (a MoE that no TP holds, or
    given ``ep``: the smallest wide replica, EP then attention TP, `scaling.serving.wide_ep`); ``devices`` /
    (``tp``, or ``ep`` when larger) replicas serve side by side. ``quant`` is the weights' storage dtype (math
    stays at ``precision``); ``kv_dtype`` the KV cache's (default ``precision``). The price is per
    device-hour: the one given, else the catalog's.
    """
    batch = checks.positive_int(batch, "batch")
    devices, spec = device_count(devices), load_model(model)
    kw = dict(prompt_tokens=prompt_tokens, output_tokens=output_tokens, precision=precision, quant=quant)
    kw.update(kv_dtype=kv_dtype, assumptions=assumptions)
    if tp is None:
        tp, ep = _smallest_layout(spec, accelerator, devices, batch, ep, kw)
    dep = make_deployment(spec, accelerator, tp=tp, ep=ep, **kw)
    return estimate_from_deployment(dep, devices, batch, price_usd_per_hour)


def _smallest_layout(
    spec: ModelSpec, accelerator: Any, devices: int, batch: int, ep: int | None, kw: dict[str, Any]
) -> tuple[int, int | None]:
    """(TP, EP): `smallest_tp`'s TP (``ep`` None), else, for a MoE, the first wide replica that holds the
    batch, smallest EP then attention TP (`wide_layouts`)."""
    error = None
    if ep is None:
        try:
            context, dtypes = kw["prompt_tokens"] + kw["output_tokens"], ("precision", "quant", "kv_dtype")
            return smallest_tp(
                spec, accelerator, devices, batch=batch, context=context, **{k: kw[k] for k in dtypes}
            ), None
        except ScalingError as err:
            error = err
    for t, e in wide_layouts(spec, devices, ep=ep):
        if fitting_batch(make_deployment(spec, accelerator, tp=t, ep=e, **kw)) >= batch:
            return t, e
    raise error or ScalingError(
        f"{spec.name} with a batch of {batch} does not fit a wide replica of EP {ep} on {devices} devices; "
        "use more devices, a smaller batch, --quant or --kv-dtype"
    )


def _notes(dep: Deployment) -> tuple[str, ...]:
    """What an estimate assumed: the roofline, the efficiencies, the context, the links, the batching and
    a MoE's routing and all-to-all."""
    a = dep.assumptions
    return (
        "roofline per phase: max(compute, memory) + 2 all-reduces per layer + a fixed overhead per forward "
        "pass",
        *efficiency_notes(dep),
        f"decode at the mean context of the generation ({dep.prompt_tokens} prompt + "
        f"({dep.output_tokens}+1)/2)",
        f"TP link: {dep.link_bytes_per_s / GB:,.0f} GB/s per device ({dep.link_source}), "
        f"{a.link_efficiency:.0%} achieved, {a.allreduce_latency_s * 1e6:g} us per all-reduce",
        "static batching: the batch's prompts are prefilled together (TTFT), then decoded in lock-step",
        *filter(None, [routing_note(dep.spec, dep.tp, dep.ep)]),
        *([] if dep.all_to_all is None else [dep.all_to_all.describe(dep.precision)]),
    )


def estimate_from_deployment(
    dep: Deployment,
    devices: int,
    batch: int,
    price_usd_per_hour: float | None = None,
    max_batch: int | None = None,
) -> ServingEstimate:
    """The estimate for ``batch`` sequences per replica on ``devices`` devices (``max_batch``: the memory
    planner's answer when the caller already has it)."""
    replicas, n = _split_devices(devices, dep), dep.devices_per_replica
    fits = fitting_batch(dep) if max_batch is None else max_batch
    pre, dec = dep.prefill_seconds(batch), dep.decode_seconds(batch)
    tpot, ttft = float(dec["total"]), float(pre["total"])
    latency = ttft + (dep.output_tokens - 1) * tpot
    price, price_source = device_hour_price(dep.acc, price_usd_per_hour)
    per_s = None if price is None else price * n / 3600.0  # USD per second of one replica
    warnings = [w for w in (mfu_warning(dep.assumptions.mfu),) if w] if dep.assumptions.mfu else []
    if batch > fits:
        warnings.append(
            f"a batch of {batch} does not fit: {n} x {dep.acc.name} hold at most {fits} sequences of "
            f"{dep.prompt_tokens + dep.output_tokens} tokens (weights, KV cache and activations)"
        )
    a = dep.assumptions
    notes = _notes(dep)
    return ServingEstimate(
        model=dep.spec.name,
        accelerator=dep.acc.name,
        devices=devices,
        tp=dep.tp,
        ep=dep.ep,
        attention_dp=dep.attention_dp,
        replicas=replicas,
        batch=batch,
        prompt_tokens=dep.prompt_tokens,
        output_tokens=dep.output_tokens,
        precision=dep.precision,
        weight_dtype=dep.weight_dtype,
        kv_dtype=dep.kv_dtype,
        prefill_s=ttft,
        prefill_compute_s=float(pre["compute"]),
        prefill_memory_s=float(pre["memory"]),
        prefill_comm_s=float(pre["comm"]),
        prefill_all_to_all_s=float(pre["all_to_all"]),
        prefill_overhead_s=float(pre["overhead"]),
        decode_s_per_token=tpot,
        decode_compute_s=float(dec["compute"]),
        decode_memory_s=float(dec["memory"]),
        decode_comm_s=float(dec["comm"]),
        decode_all_to_all_s=float(dec["all_to_all"]),
        decode_overhead_s=float(dec["overhead"]),
        bound="memory" if dec["memory"] >= dec["compute"] else "compute",
        bytes_per_step=float(dec["bytes"]),
        flops_per_step=batch * dep.decode_flops_per_seq_step / n,
        crossover_batch=dep.crossover_batch(),
        latency_s=latency,
        tokens_per_s=replicas * batch / tpot,
        tokens_per_s_per_device=batch / tpot / n,
        end_to_end_tokens_per_s=replicas * batch * dep.output_tokens / latency,
        input_tokens_per_s=replicas * batch * dep.prompt_tokens / ttft,
        max_batch=fits,
        usd_per_million_input_tokens=None
        if price is None
        else per_s * ttft / (batch * dep.prompt_tokens) * 1e6,
        usd_per_million_output_tokens=None if price is None else per_s * tpot / batch * 1e6,
        price_usd_per_hour=price,
        price_source=price_source,
        link_bytes_per_s=dep.link_bytes_per_s,
        link_source=dep.link_source,
        all_to_all=dep.all_to_all,
        assumptions=a,
        efficiencies=dep.eff,
        warnings=tuple(warnings),
        notes=notes,
    )


def with_assumptions(assumptions: ServingAssumptions | None = None, **changes: Any) -> ServingAssumptions:
    """The default assumptions (or ``assumptions``) with some fields changed; None values are left out."""
    return replace(assumptions or ServingAssumptions(), **{k: v for k, v in changes.items() if v is not None})
