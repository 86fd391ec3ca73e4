"""Serving economics: latency, throughput and cost per token, and training plans that price inference.

`estimate_serving` is the roofline of one deployment (module `scaling.serving.roofline`, which documents the
model); `cheapest_serving` searches batch and tensor-parallel size for a latency or throughput target;
`serving_aware_optimum` chooses the model size that minimises training plus serving dollars at one loss
(module `scaling.serving.optimum`).
"""

from scaling.serving.optimum import PricedModel, ServingAwareOptimum, serving_aware_optimum
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
    tp_sizes,
    with_assumptions,
)
from scaling.serving.search import ServingSearch, ServingWorkload, cheapest_serving

__all__ = [
    "IDEAL",
    "Deployment",
    "PricedModel",
    "ServingAssumptions",
    "ServingAwareOptimum",
    "ServingEstimate",
    "ServingSearch",
    "ServingWorkload",
    "cheapest_serving",
    "estimate_from_deployment",
    "estimate_serving",
    "experts_touched",
    "fitting_batch",
    "serving_aware_optimum",
    "make_deployment",
    "smallest_tp",
    "tp_sizes",
    "with_assumptions",
]
