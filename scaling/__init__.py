"""scaling: a scaling-law and compute-budget calculator for planning language-model training.

The package imports nothing heavy at import time; import the submodules you need:

    from scaling.model import ModelSpec, load_model
    from scaling.units import parse_count, six_nd          # units, and C = 6ND
    from scaling.flops import training_flops
    from scaling.cost import compute_cost, model_flops_utilization
    from scaling.flops_report import estimate_flops        # what `scaling flops` answers
    from scaling.budget import Budget, parse_budget        # every form of compute budget
    from scaling.memory import estimate_memory
    from scaling.laws import get_law
    from scaling.fit import fit_parametric
    from scaling.plan import make_plan, build_plan, parse_plan_request
    from scaling.render import Table, json_safe            # text, Markdown and HTML tables
    from scaling.checks import positive, output_path       # validators, one message each
"""

__version__ = "0.1.0"
