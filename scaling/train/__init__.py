"""Real small training runs: tiny GPT models on an IsoFLOP grid whose measured losses feed the fitter.

Needs the ``train`` extra (``pip install 'scaling[train]'``: PyTorch). Nothing here is imported by the
calculator; the CLI imports these modules inside the ``sweep``, ``train`` and ``sample`` commands, and
``next`` imports ``sweep/designed.py`` (no torch) for a sweep folder's designed runs.

One file per concept, nanoGPT-style:

* ``model.py``  -- the GPT, built from a `scaling.model.ModelSpec` (so its parameter count is the spec's);
* ``data.py``   -- byte tokenizer, corpora (the Python standard library's sources by default), held-out
  split;
* ``run.py``    -- one run: ``train_run(config) -> RunRecord``, a pure function of a JSON-serialisable
  config;
* ``sweep/``    -- an IsoFLOP sweep: presets, the grid, resumable execution on a process pool or Ray,
  runs.csv, and the runs `scaling next` designs for a sweep folder (one module per part, listed in its
  ``__init__``);
* ``folder.py`` -- the sweep folder: its lock (one writer at a time) and runs.csv with damaged rows set
  aside;
* ``sample.py`` -- text from a trained run (greedy, temperature, top-k, top-p);
* ``ddp.py``    -- one large run across processes/GPUs with ``torchrun`` (DistributedDataParallel).

``data.py`` and ``sweep/`` import torch lazily, so planning a sweep (and its tests) is cheap.
"""

TRAIN_EXTRA_HINT = "training needs PyTorch: pip install 'scaling[train]'"


def require_torch():
    """Import torch, or raise a `ScalingError` telling the user how to install the train extra."""
    from scaling.errors import ScalingError

    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise ScalingError(TRAIN_EXTRA_HINT) from None
    return torch
