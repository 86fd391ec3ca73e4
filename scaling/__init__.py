"""scaling: a scaling-law and compute-budget calculator for planning language-model training.

The package imports nothing heavy at import time; import the submodules you need:

    from scaling.model import ModelSpec, load_model
    from scaling.flops import training_flops
    from scaling.memory import estimate_memory
    from scaling.laws import get_law
    from scaling.fit import fit_parametric
    from scaling.plan import make_plan
"""

__version__ = "0.1.0"
