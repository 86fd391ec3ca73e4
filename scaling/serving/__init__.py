"""Serving economics: latency, throughput and cost per token, and training plans that price inference.

`estimate_serving` is the roofline of one deployment (module `scaling.serving.roofline`, which documents the
model); `cheapest_serving` searches batch and tensor-parallel size for a latency or throughput target;
`serving_aware_optimum` chooses the model size that minimises training plus serving dollars at one loss
(module `scaling.serving.optimum`); `estimate_under_load` simulates continuous batching under Poisson
arrivals (module `scaling.serving.concurrency`); `ServingEfficiency` is the cited table of achievable
efficiencies by regime (module `scaling.serving.efficiency`); `supported_precisions` lists the precisions a
search may choose on an accelerator (module `scaling.serving.precisions`); `experts_touched` and
`expert_parallel` are a mixture of experts' routing and placement (module `scaling.serving.experts`), and
a wide replica (``ep`` above ``tp``: attention in data-parallel groups, experts over the whole replica,
all-to-all per MoE layer) is module `scaling.serving.wide_ep`; `tp_sizes` and `smallest_tp` are the
tensor-parallel sizes a replica may use (module `scaling.serving.layouts`).
"""

from scaling.serving.concurrency import ServingUnderLoad, estimate_under_load, serve_under_load
from scaling.serving.efficiency import IDEAL, ServingAssumptions, ServingEfficiency
from scaling.serving.experts import expert_parallel, experts_touched
from scaling.serving.layouts import smallest_tp, tp_sizes
from scaling.serving.optimum import PricedModel, ServingAwareOptimum, serving_aware_optimum
from scaling.serving.precisions import ServingPrecision, supported_precisions
from scaling.serving.roofline import (
    Deployment,
    ServingEstimate,
    estimate_from_deployment,
    estimate_serving,
    fitting_batch,
    make_deployment,
    with_assumptions,
)
from scaling.serving.search import ServingSearch, ServingWorkload, cheapest_serving

__all__ = [
    "IDEAL",
    "Deployment",
    "PricedModel",
    "ServingAssumptions",
    "ServingAwareOptimum",
    "ServingEfficiency",
    "ServingEstimate",
    "ServingPrecision",
    "ServingUnderLoad",
    "ServingSearch",
    "ServingWorkload",
    "cheapest_serving",
    "estimate_from_deployment",
    "estimate_serving",
    "estimate_under_load",
    "serve_under_load",
    "expert_parallel",
    "experts_touched",
    "fitting_batch",
    "serving_aware_optimum",
    "make_deployment",
    "smallest_tp",
    "supported_precisions",
    "tp_sizes",
    "with_assumptions",
]
