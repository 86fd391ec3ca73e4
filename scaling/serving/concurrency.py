"""Continuous batching under load: requests arriving at random, time to first token and time per output token
at p50 and p99, from a discrete-event simulation of each replica.

The scheduler is iteration-level (Orca, Yu et al. 2022) with chunked prefills (Sarathi-Serve, Agrawal et al.
2024): every step, each running request makes one token, and waiting prompts are prefilled alongside in chunks
so that a step holds at most ``prefill_chunk_tokens`` tokens (decode tokens count against the budget). A
request is admitted when the KV cache has room for its whole context (prompt + output): the memory planner's
largest batch (`scaling.serving.roofline.fitting_batch`) is the most requests in flight. A step's time is the
roofline of that one forward pass (`Deployment.step_seconds`: the regime's efficiencies, all-reduces and the
per-pass overhead). The simulation follows vidur (Agrawal et al. 2024, "Vidur: A Large-Scale Simulation
Framework for LLM Inference", MLSys) in timing each batch from a model of its operators, not by running it.

Arrivals are Poisson, at ``--request-rate`` or at the rate that keeps ``--concurrency`` requests in flight
(Little's law: concurrency / request latency, then bisected on the simulated mean in flight). Requests
are split evenly over the replicas. The first tenth of the requests warm the system up and are not counted.

Left out: variable prompt and output lengths (all requests have the stated ones), preemption (admission
reserves the whole context), prefix caching and speculative decoding.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from scaling import checks
from scaling.cost import device_hour_price
from scaling.errors import ScalingError
from scaling.model import ModelSpec
from scaling.render import Displayable, Table
from scaling.serving.efficiency import ServingAssumptions
from scaling.serving.roofline import (
    Deployment,
    ServingEstimate,
    estimate_from_deployment,
    fitting_batch,
    make_deployment,
    smallest_tp,
)
from scaling.serving.tables import fmt_seconds

WARMUP_SHARE = 0.1  # the first tenth of the requests are not counted
MIN_REQUESTS = 400  # simulated per replica (more at high concurrency: 20 x the concurrency)
MAX_REQUESTS = 4000  # at most, so that any concurrency answers in about a second
FIXED_POINT_ROUNDS = 12  # Little's law iterations for --concurrency (each a simulation of ~10-50 ms)
OVERLOAD = 0.9  # completions below this share of arrivals, with queueing visible in TTFT: overloaded
QUEUEING = 10.0  # TTFT p99 over p50 (or p50 over one prompt's prefill) beyond this: requests queue
MIN_REQUEST_RATE = 1e-6  # requests/s; slower than one per ~12 days is below the clock's resolution
IN_FLIGHT_TOLERANCE = 0.03  # how close the mean requests in flight come to --concurrency


@dataclass(frozen=True)
class LoadResult:
    """Percentiles and rates of one replica under Poisson load (base units: s, requests/s, tokens/s)."""

    request_rate: float  # offered, per replica
    requests_per_s: float  # completed, per replica
    mean_in_flight: float
    ttft_p50_s: float
    ttft_p99_s: float
    tpot_p50_s: float
    tpot_p99_s: float
    latency_p50_s: float
    latency_p99_s: float
    output_tokens_per_s: float  # per replica
    max_in_flight: int


def simulate_replica(
    dep: Deployment, request_rate: float, *, requests: int = MIN_REQUESTS, max_in_flight: int, seed: int = 0
) -> LoadResult:
    """One replica serving Poisson arrivals at ``request_rate`` (requests/s): see the module doc."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / request_rate, requests))
    prompt, output = dep.prompt_tokens, dep.output_tokens
    budget = dep.assumptions.prefill_chunk_tokens
    first = np.full(requests, np.nan)
    done = np.full(requests, np.nan)
    prefill_left: dict[int, int] = {}  # admitted, still prefilling (admission order)
    decoding: dict[int, int] = {}  # request -> tokens made
    cache: dict[tuple[int, int], float] = {}
    t, next_arrival = 0.0, 0
    while next_arrival < requests or prefill_left or decoding:
        if not prefill_left and not decoding and t < arrivals[next_arrival]:
            t = float(arrivals[next_arrival])
        while (
            next_arrival < requests
            and arrivals[next_arrival] <= t
            and (len(prefill_left) + len(decoding) < max_in_flight)
        ):
            prefill_left[next_arrival] = prompt
            next_arrival += 1
        b = len(decoding)
        room, chunk, finished_prefill = max(budget - b, 0), 0, []
        for r, left in prefill_left.items():
            if room <= 0:
                break
            take = min(left, room)
            prefill_left[r] -= take
            room, chunk = room - take, chunk + take
            if prefill_left[r] == 0:
                finished_prefill.append(r)
        if b == 0 and chunk == 0:  # waiting on memory cannot happen with nothing running; wait for arrivals
            t = float(arrivals[next_arrival])
            continue
        key = (b, chunk)
        if key not in cache:
            cache[key] = float(dep.step_seconds(b, chunk))
        t += cache[key]
        for r in list(decoding):
            decoding[r] += 1
            if decoding[r] >= output:
                done[r] = t
                del decoding[r]
        for r in finished_prefill:
            del prefill_left[r]
            first[r] = t  # the prefill's last chunk makes the first token
            if output <= 1:
                done[r] = t
            else:
                decoding[r] = 1
    counted = slice(int(requests * WARMUP_SHARE), requests)
    ttft = first[counted] - arrivals[counted]
    latency = done[counted] - arrivals[counted]
    tpot = (done[counted] - first[counted]) / max(output - 1, 1)
    # completions per second while requests still arrive (the drain after the last arrival runs faster)
    start, end = float(arrivals[counted][0]), float(arrivals[-1])
    in_window = int(np.count_nonzero((done >= start) & (done <= end)))
    counted_n = requests - int(requests * WARMUP_SHARE)
    if in_window >= counted_n / 2 and end > start:
        rate = in_window / (end - start)
    else:  # arrivals bunched far faster than service: completions over the whole run
        rate = counted_n / float(np.nanmax(done[counted]) - start)
    return LoadResult(
        request_rate=request_rate,
        requests_per_s=rate,
        mean_in_flight=float(rate * latency.mean()),  # Little's law
        ttft_p50_s=float(np.percentile(ttft, 50)),
        ttft_p99_s=float(np.percentile(ttft, 99)),
        tpot_p50_s=float(np.percentile(tpot, 50)),
        tpot_p99_s=float(np.percentile(tpot, 99)),
        latency_p50_s=float(np.percentile(latency, 50)),
        latency_p99_s=float(np.percentile(latency, 99)),
        output_tokens_per_s=rate * output,
        max_in_flight=max_in_flight,
    )


@dataclass(frozen=True)
class ServingUnderLoad(Displayable):
    """A deployment under Poisson load: per replica and per deployment rates, p50/p99 latencies and cost.

    ``to_dict()`` is the static estimate's dict (at a batch of the mean requests in flight) plus the keys of
    the load (``requests_per_s``, ``ttft_p50_s``, ``ttft_p99_s``, ``tpot_p50_s``, ``tpot_p99_s``,
    ``output_tokens_per_s``, ``output_tokens_per_s_per_device``, ...)."""

    estimate: ServingEstimate
    replica: LoadResult
    arrival: str
    concurrency: float | None
    usd_per_million_output_tokens_under_load: float | None

    @property
    def requests_per_s(self) -> float:
        return self.replica.requests_per_s * self.estimate.replicas

    @property
    def output_tokens_per_s(self) -> float:
        return self.replica.output_tokens_per_s * self.estimate.replicas

    def to_dict(self) -> dict[str, Any]:
        r = self.replica
        return {
            **self.estimate.to_dict(),
            "arrival": self.arrival,
            "concurrency": self.concurrency,
            "request_rate": r.request_rate * self.estimate.replicas,
            "requests_per_s": self.requests_per_s,
            "requests_per_s_per_replica": r.requests_per_s,
            "mean_in_flight": r.mean_in_flight * self.estimate.replicas,
            "max_in_flight_per_replica": r.max_in_flight,
            "ttft_p50_s": r.ttft_p50_s,
            "ttft_p99_s": r.ttft_p99_s,
            "tpot_p50_s": r.tpot_p50_s,
            "tpot_p99_s": r.tpot_p99_s,
            "latency_p50_s": r.latency_p50_s,
            "latency_p99_s": r.latency_p99_s,
            "output_tokens_per_s": self.output_tokens_per_s,
            "output_tokens_per_s_per_replica": r.output_tokens_per_s,
            "output_tokens_per_s_per_device": self.output_tokens_per_s / self.estimate.devices,
            "usd_per_million_output_tokens_under_load": self.usd_per_million_output_tokens_under_load,
        }

    def display_tables(self) -> list[Table]:
        """The load table `scaling inference --concurrency` prints (its notes: the roofline's assumptions)."""
        e, r, s = self.estimate, self.replica, fmt_seconds
        cost = self.usd_per_million_output_tokens_under_load
        rows = [
            ("arrivals", self.arrival),
            ("requests/s", f"{self.requests_per_s:,.3g} ({r.requests_per_s:,.3g} per replica)"),
            (
                "output tokens/s",
                f"{self.output_tokens_per_s:,.0f} ({r.output_tokens_per_s:,.0f} per replica, "
                f"{self.output_tokens_per_s / e.devices:,.0f} per device)",
            ),
            (
                "requests in flight",
                f"{r.mean_in_flight:,.1f} per replica on average; at most {r.max_in_flight}",
            ),
            ("time to first token", f"p50 {s(r.ttft_p50_s)}, p99 {s(r.ttft_p99_s)}"),
            ("time per output token", f"p50 {s(r.tpot_p50_s)}, p99 {s(r.tpot_p99_s)}"),
            ("request latency", f"p50 {s(r.latency_p50_s)}, p99 {s(r.latency_p99_s)}"),
            (
                "per million output tokens",
                "n/a (no price: give one per device-hour)" if cost is None else f"${cost:,.3g}",
            ),
        ]
        notes = (
            "- continuous batching (iteration-level, chunked prefill of at most "
            f"{e.assumptions.prefill_chunk_tokens:,} tokens per step), simulated per replica; "
            "vidur (Agrawal et al. 2024)",
            *(f"- {n}" for n in e.notes if not n.startswith("static batching")),
        )
        title = (
            f"{e.model} on {e.devices} x {e.accelerator} (TP {e.tp} x {e.replicas} replica"
            f"{'s' if e.replicas > 1 else ''}), {e.prompt_tokens} prompt + {e.output_tokens} output tokens "
            f"per request; weights {e.weight_dtype}, KV {e.kv_dtype}; continuous batching"
        )
        return [Table.of(rows, align="ll", title=title, notes=notes)]


def serve_under_load(
    dep: Deployment,
    devices: int,
    *,
    concurrency: float | None = None,
    request_rate: float | None = None,
    price_usd_per_hour: float | None = None,
    seed: int = 0,
) -> ServingUnderLoad:
    """``devices`` / ``dep.tp`` replicas under Poisson arrivals: at ``request_rate`` requests/s for the whole
    deployment, or at the rate that keeps ``concurrency`` requests in flight (the deployment's)."""
    if (concurrency is None) == (request_rate is None):
        raise ScalingError("give one of --concurrency and --request-rate")
    fits = fitting_batch(dep)
    if fits < 1:
        raise ScalingError(
            f"{dep.spec.name} does not fit on {dep.tp} {dep.acc.name} at "
            f"{dep.prompt_tokens + dep.output_tokens} tokens of context"
        )
    static = estimate_from_deployment(dep, devices, 1, price_usd_per_hour, fits)
    replicas = static.replicas
    if request_rate is not None:
        checks.positive(request_rate, "request rate")
        if request_rate < MIN_REQUEST_RATE:
            raise ScalingError(
                f"invalid request rate {request_rate:g}: expected at least {MIN_REQUEST_RATE:g} requests/s"
            )
        rate = request_rate / replicas
        result = simulate_replica(dep, rate, requests=MIN_REQUESTS, max_in_flight=fits, seed=seed)
        arrival = f"Poisson, {request_rate:,.3g} requests/s"
    else:
        per_replica = checks.positive(concurrency, "concurrency") / replicas
        requests = int(min(max(MIN_REQUESTS, 20 * per_replica), MAX_REQUESTS))
        batch = max(1, min(fits, round(per_replica)))
        guess = estimate_from_deployment(dep, devices, batch, price_usd_per_hour, fits)
        rate = per_replica / guess.latency_s  # Little's law on the static estimate, then on the simulation
        lo, hi = 0.0, math.inf
        for _ in range(FIXED_POINT_ROUNDS):
            result = simulate_replica(dep, rate, requests=requests, max_in_flight=fits, seed=seed)
            if abs(result.mean_in_flight / per_replica - 1.0) < IN_FLIGHT_TOLERANCE:
                break
            if result.mean_in_flight < per_replica:  # in flight rises with the rate: bisect on it
                lo = rate
                rate = min(rate * per_replica / result.mean_in_flight, 0.5 * (rate + hi))
            else:
                hi = rate
                rate = 0.5 * (lo + hi) if lo else rate * per_replica / result.mean_in_flight
        arrival = f"Poisson at {rate * replicas:,.3g} requests/s, keeping ~{concurrency:g} requests in flight"
    batch = max(1, min(fits, round(result.mean_in_flight)))
    estimate = estimate_from_deployment(dep, devices, batch, price_usd_per_hour, fits)
    price, _ = device_hour_price(dep.acc, price_usd_per_hour)
    tokens = result.output_tokens_per_s * replicas
    cost = None if price is None or not tokens else price * devices / 3600.0 / tokens * 1e6
    queueing = (
        result.ttft_p99_s > QUEUEING * result.ttft_p50_s
        or result.ttft_p50_s > QUEUEING * dep.prefill_seconds(1)["total"]
    )
    if result.requests_per_s < OVERLOAD * result.request_rate and queueing:
        warning = (
            f"overloaded: {result.request_rate * replicas:,.3g} requests/s arrive and "
            f"{result.requests_per_s * replicas:,.3g} complete; the queue grows without bound, so the "
            "latencies grow with how long the load lasts"
        )
        estimate = replace(estimate, warnings=(*estimate.warnings, warning))
    return ServingUnderLoad(
        estimate=estimate,
        replica=result,
        arrival=arrival,
        concurrency=concurrency,
        usd_per_million_output_tokens_under_load=cost,
    )


def estimate_under_load(
    model: ModelSpec | str,
    accelerator: str,
    *,
    devices: int = 1,
    tp: int | None = None,
    prompt_tokens: int = 2048,
    output_tokens: int = 256,
    precision: str = "bf16",
    quant: str | None = None,
    kv_dtype: str | None = None,
    concurrency: float | None = None,
    request_rate: float | None = None,
    price_usd_per_hour: float | None = None,
    assumptions: ServingAssumptions | None = None,
) -> ServingUnderLoad:
    """`serve_under_load` for a model on ``devices`` accelerators; ``tp`` None picks the smallest
    power-of-two tensor-parallel size that holds one request."""
    if tp is None:
        tp = smallest_tp(
            model,
            accelerator,
            devices,
            context=prompt_tokens + output_tokens,
            precision=precision,
            quant=quant,
            kv_dtype=kv_dtype,
        )
    dep = make_deployment(
        model,
        accelerator,
        tp=tp,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        precision=precision,
        quant=quant,
        kv_dtype=kv_dtype,
        assumptions=assumptions,
    )
    return serve_under_load(
        dep,
        devices,
        concurrency=concurrency,
        request_rate=request_rate,
        price_usd_per_hour=price_usd_per_hour,
    )


def load_dict(result: LoadResult) -> dict[str, Any]:
    """A replica's result as a dict (base units)."""
    out = asdict(result)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}
