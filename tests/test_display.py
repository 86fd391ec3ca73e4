"""Every result a user holds displays itself in a notebook with the numbers of its own ``to_dict()``.

`scaling.render.Displayable` renders a result's own tables (the CLI's) and every value of ``to_dict()``, in
its unit and exactly; these tests render each result's HTML and Markdown and find each number of ``to_dict()``
in them, and check that ``to_series()`` / ``to_frame()`` hold the same values.
"""

from __future__ import annotations

import math
import subprocess
import sys
from html import escape

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaling.render import Displayable, exact_text, flat_values, unit_text, value_table


def _plan():
    from scaling.plan import make_plan

    return make_plan(gpus="256xH100", days="30", mfu="0.4", price="2.5", law="chinchilla")


def _fitted_law():
    from scaling.fit import fit_parametric, synthetic_runs

    return fit_parametric(synthetic_runs("chinchilla", noise=0.005, seed=4), bootstrap=20, name="mine")


def _results():
    from scaling.cluster import Cluster
    from scaling.cost import compute_cost
    from scaling.flops import training_flops
    from scaling.laws import get_law
    from scaling.memory import Parallelism, estimate_memory
    from scaling.model import load_model
    from scaling.serving import estimate_serving

    spec = load_model("llama-2-7b")
    return {
        "Plan": _plan,
        "MemoryBreakdown": lambda: estimate_memory(
            "llama-2-7b", parallel=Parallelism.of(zero=3), cluster=Cluster.of("H100", 8)
        ),
        "TrainingFlops": lambda: training_flops(spec, 2e12),
        "ComputeCost": lambda: compute_cost(
            8.09e22, accelerator="A100-80GB", devices=64, mfu=0.4, price_usd_per_hour=2.0
        ),
        "Allocation": lambda: get_law("epoch").optimal(5.76e23),
        "Law": lambda: get_law("chinchilla"),
        "AllocationLaw": lambda: get_law("kaplan"),
        "FittedLaw": _fitted_law,
        "ServingEstimate": lambda: estimate_serving("llama-2-7b", "H100", batch=8, price_usd_per_hour=2.5),
    }


RESULTS = _results()


@pytest.fixture(scope="module", params=list(RESULTS))
def result(request):
    return RESULTS[request.param]()


def _numbers(result) -> dict[str, object]:
    return {
        k: v
        for k, v in flat_values(result.to_dict()).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def test_every_result_is_displayable(result):
    assert isinstance(result, Displayable), type(result).__name__


def test_html_holds_every_number_of_to_dict(result):
    html = result._repr_html_()
    numbers = _numbers(result)
    assert numbers
    for key, value in numbers.items():
        assert exact_text(value) in html, (key, value)
    assert "<table>" in html and "Traceback" not in html


def test_markdown_holds_every_number_of_to_dict(result):
    markdown = result._repr_markdown_()
    for key, value in _numbers(result).items():
        assert exact_text(value) in markdown, (key, value)


def test_pandas_row_is_to_dict(result):
    series = result.to_series()
    numbers = _numbers(result)
    # a class with its own pandas row (MemoryBreakdown's flat row) keeps its top-level values under their keys
    keys = (
        numbers
        if type(result).to_series is Displayable.to_series
        else [k for k in numbers if k in series.index]
    )
    assert keys
    for key in keys:
        assert float(series[key]) == pytest.approx(float(numbers[key]), rel=1e-12), key
    assert len(result.to_frame()) == 1


def test_plan_shows_the_cli_tables():
    from scaling.plan import plan_tables

    plan = _plan()
    html = plan._repr_html_()
    for table in plan_tables(plan):
        assert table.title in html
        for row in table.rows:
            assert all(escape(cell) in html for cell in row)


def test_values_are_shown_in_their_units():
    assert unit_text("memory.total_bytes", 2**30) == "1 GiB"
    assert unit_text("flops", 5.76e23) == "5.76e23 FLOP"
    assert unit_text("cost_usd", 2.5e6).startswith("$")
    assert unit_text("params", 7e9) == "7B"
    assert unit_text("step.mfu", 0.4) in ("40%", "40.0%")
    assert unit_text("count", True) == "true"
    table = value_table({"a": {"b_bytes": 1024.0}, "c": [1, 2]})
    assert [row[0] for row in table.rows] == ["a.b_bytes", "c"]


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5)),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(min_size=1, max_size=4), children, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_flat_values_keep_every_leaf(value):
    flat = flat_values({"root": value})
    assert all(isinstance(k, str) and k.startswith("root") for k in flat)
    for leaf in flat.values():
        assert not isinstance(leaf, dict)
        if isinstance(leaf, float):
            assert math.isfinite(leaf)  # NaN and infinity become None, as in the JSON


def test_display_adds_nothing_to_the_cli_startup():
    code = (
        "import sys, scaling.cli; print(sorted(m for m in ('pandas', 'plotly', 'numpy', 'IPython') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_exact_text_reads_back_the_same_number():
    for value in (0.1, 1 / 3, 6738415616, 8.09e22, float(np.float32(0.3))):
        assert float(exact_text(value)) == value
