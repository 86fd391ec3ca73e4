"""Serving economics: latency, throughput and cost per token, and training plans that price inference.

`estimate_serving` is the roofline of one deployment (module `scaling.serving.roofline`, which documents the
model); `cheapest_serving` searches batch and tensor-parallel size for a latency or throughput target.
"""

from scaling.serving.roofline import (
    IDEAL,
    Deployment,
    ServingAssumptions,
    ServingEstimate,
    estimate_from_deployment,
    estimate_serving,
    experts_touched,
    fitting_batch,
    make_deployment,
    smallest_tp,
    with_assumptions,
)
from scaling.serving.search import ServingSearch, Workload, cheapest_serving

__all__ = [
    "IDEAL",
    "Deployment",
    "ServingAssumptions",
    "ServingEstimate",
    "ServingSearch",
    "Workload",
    "cheapest_serving",
    "estimate_from_deployment",
    "estimate_serving",
    "experts_touched",
    "fitting_batch",
    "make_deployment",
    "smallest_tp",
    "with_assumptions",
]
