"""The charts draw what the laws, fits and estimators compute (read back from the figures' data)."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling import charts
from scaling.charts import label_placement
from scaling.errors import ScalingError
from scaling.fit import fit_isoflop, synthetic_runs
from scaling.laws import get_law, with_replicates
from scaling.train.sweep import PRESETS
from scaling.units import GIB, PF_DAY_FLOPS


@pytest.fixture(scope="module")
def runs():
    return synthetic_runs("chinchilla", noise=0.005, seed=1)


def _by_meta(fig, **match):
    return [t for t in fig.data if t.meta and all(t.meta.get(k) == v for k, v in match.items())]


def _at(trace, flops):
    """The trace's y at ``flops`` by log-log interpolation (exact for the power laws drawn)."""
    x, y = np.log(np.asarray(trace.x, float)), np.log(np.asarray(trace.y, float))
    return float(np.exp(np.interp(math.log(flops), x, y)))


# ------------------------------------------------------------------------------------------- zone
def test_zone_lines_agree_with_each_law_at_every_point():
    fig = charts.zone_figure()
    for name in charts.DEFAULT_LAWS:
        (trace,) = _by_meta(fig, law=name)
        law = get_law(name)
        np.testing.assert_allclose(trace.y, law.n_opt(np.asarray(trace.x)), rtol=1e-12)
        assert trace.x[0] == pytest.approx(1e18) and trace.x[-1] == pytest.approx(1e27)


def test_zone_lines_reproduce_published_sample_budgets():
    fig = charts.zone_figure()
    line = {name: _by_meta(fig, law=name)[0] for name in charts.DEFAULT_LAWS}
    # Hoffmann et al. 2022 App. D.4: at 1e21 FLOPs Approach 1 gives 2.86B, Kaplan 4.68B
    assert _at(line["chinchilla-a1"], 1e21) == pytest.approx(2.86e9, rel=0.01)
    assert _at(line["kaplan"], 1e21) == pytest.approx(4.68e9, rel=0.01)
    # Hoffmann Fig. 4 caption: 40B for the Gopher budget with the unrounded Approach 3 constants
    assert _at(line["chinchilla"], 5.76e23) == pytest.approx(40.4e9, rel=0.01)
    # Epoch AI's replication: 72.4B at 5.76e23 (fitting.md section 2.3)
    assert _at(line["epoch"], 5.76e23) == pytest.approx(72.4e9, rel=0.01)
    for name, trace in line.items():
        for budget in (1e19, 5.76e23, 1e25):
            assert _at(trace, budget) == pytest.approx(float(get_law(name).n_opt(budget)), rel=1e-9)


def test_zone_tokens_axis_draws_d_opt():
    fig = charts.zone_figure(("chinchilla", "epoch", "llama3"), axis="tokens")
    for name in ("chinchilla", "epoch", "llama3"):
        (trace,) = _by_meta(fig, law=name)
        np.testing.assert_allclose(trace.y, get_law(name).d_opt(np.asarray(trace.x)), rtol=1e-12)
    assert "tokens" in fig.layout.yaxis.title.text.lower()


def test_zone_band_spans_the_chinchilla_family_only():
    fig = charts.zone_figure()
    upper = next(t for t in fig.data if t.fill == "tonexty" and t.legendgroup == "zone")
    lower = fig.data[list(fig.data).index(upper) - 1]  # 'tonexty' fills to the trace just before it
    C = np.asarray(upper.x)
    # Hoffmann et al. 2022 Approaches 1-3 and Besiroglu et al. 2024's replication; Kaplan et al. 2020 is not in it
    assert set(upper.meta["laws"]) == {"chinchilla-a1", "chinchilla-a2", "chinchilla", "epoch"}
    stack = np.vstack([get_law(n).n_opt(C) for n in charts.ZONE_LAWS])
    np.testing.assert_allclose(lower.y, stack.min(axis=0), rtol=1e-12)
    np.testing.assert_allclose(upper.y, stack.max(axis=0), rtol=1e-12)
    assert np.all(np.asarray(upper.y) >= np.asarray(lower.y))
    # at 1e27 FLOPs the band is about 1T to 3T parameters (not 1T to 100T, which Kaplan's line would make it)
    assert 1e12 < lower.y[-1] < upper.y[-1] < 4e12
    kaplan = _by_meta(fig, law="kaplan")[0]
    assert kaplan.y[-1] > 10 * upper.y[-1]
    # Kaplan's line is labelled on the chart itself, on its line near its end (stepped back from the top edge)
    (label,) = [a for a in fig.layout.annotations if a.name == "law-label-kaplan"]
    j = int(np.argmin(np.abs(np.log10(np.asarray(kaplan.x)) - label.x)))
    assert (
        label.text == "Kaplan"
        and 26.5 <= label.x <= 27.0
        and label.x == pytest.approx(math.log10(kaplan.x[j]))
    )
    assert label.y == pytest.approx(math.log10(kaplan.y[j]))


def test_zone_legend_names_each_source_and_axes_carry_units():
    fig = charts.zone_figure()
    names = {t.meta["law"]: t.name for t in fig.data if t.meta and "law" in t.meta}
    assert "Hoffmann et al. 2022" in names["chinchilla-a1"]
    assert "Kaplan et al. 2020" in names["kaplan"]
    assert "Besiroglu et al. 2024" in names["epoch"]
    assert "FLOPs" in fig.layout.xaxis.title.text and "PF-days" in fig.layout.xaxis2.title.text
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    # the PF-days axis is the FLOPs axis shifted by log10(8.64e19)
    assert fig.layout.xaxis2.range[0] == pytest.approx(fig.layout.xaxis.range[0] - math.log10(PF_DAY_FLOPS))
    # greyscale: no two law lines share a dash pattern
    dashes = [t.line.dash for t in fig.data if t.meta and "law" in t.meta]
    assert len(set(dashes)) == len(dashes)


def test_mixtures_of_experts_sit_at_their_active_parameters_with_their_total_in_hover():
    fig = charts.zone_figure()
    (trace,) = _by_meta(fig, kind="known-moe-models")
    (dense,) = _by_meta(fig, kind="known-models")
    assert trace.marker.symbol != dense.marker.symbol
    experts = [m for m in charts.read_known_models() if m["active_params"]]
    i = [m["name"] for m in experts].index("DeepSeek-V3 671B")
    # DeepSeek-AI 2024 (arXiv 2412.19437): 671B parameters, 37B active per token, 14.8T tokens
    assert trace.y[i] == pytest.approx(37e9) and trace.x[i] == pytest.approx(6 * 37e9 * 14.8e12)
    assert "671B in total, 37B active" in trace.hovertext[i]


# The 2024-2025 models on the zone, each row as its source publishes it: (name, parameters, active parameters of a
# mixture of experts, training tokens).
PUBLISHED_MODELS = [
    ("Phi-3-mini 3.8B", 3.8e9, None, 3.3e12),  # Abdin et al. 2024, Phi-3 Technical Report, abstract
    ("Phi-3-small 7B", 7e9, None, 4.8e12),  # ibid.: "7B and 14B models trained for 4.8T tokens"
    ("Phi-3-medium 14B", 14e9, None, 4.8e12),  # ibid.
    ("Phi-4 14B", 14e9, None, 9.8e12),  # microsoft/phi-4 model card: 14B parameters, 9.8T tokens
    ("DeepSeek-V3 671B", 671e9, 37e9, 14.8e12),  # DeepSeek-AI 2024 (arXiv 2412.19437), abstract
    ("Qwen2.5 72B", 72.7e9, None, 18e12),  # Qwen Team 2024 (arXiv 2412.15115), abstract: 18T tokens
    ("Qwen3 235B-A22B", 235e9, 22e9, 36e12),  # Qwen Team 2025 (arXiv 2505.09388): 36T tokens
    ("Llama 4 Scout 109B", 109e9, 17e9, 40e12),  # Llama 4 model card: 17B active of 109B, ~40T tokens
    ("Llama 4 Maverick 400B", 400e9, 17e9, 22e12),  # Llama 4 model card: 17B active of 400B, ~22T tokens
    ("Gemma 2 9B", 9.24e9, None, 8e12),  # Gemma Team 2024 (arXiv 2408.00118) section 3.1
    ("Gemma 2 27B", 27.2e9, None, 13e12),  # ibid.
    ("OLMo 2 7B", 7e9, None, 4e12),  # OLMo et al. 2024 (arXiv 2501.00656); allenai/OLMo-2-1124-7B card
    ("OLMo 2 13B", 13e9, None, 5e12),  # ibid., allenai/OLMo-2-1124-13B card
]


@pytest.mark.parametrize(
    "name, params, active, tokens", PUBLISHED_MODELS, ids=[m[0] for m in PUBLISHED_MODELS]
)
def test_todays_models_are_on_the_zone_as_published(name, params, active, tokens):
    models = {m["name"]: m for m in charts.read_known_models()}
    m = models[name]
    assert (m["params"], m["active_params"] or None, m["tokens"]) == pytest.approx((params, active, tokens))
    assert "arXiv" in m["source"] or "model card" in m["source"]
    fig = charts.zone_figure()
    (trace,) = _by_meta(fig, kind="known-moe-models" if active else "known-models")
    i = [t.split("<br>")[0] for t in trace.hovertext].index(f"<b>{name}</b>")
    # plotted at the parameters its compute counts (a mixture of experts: the active ones), C = 6ND
    assert trace.y[i] == pytest.approx(active or params) and trace.x[i] == pytest.approx(
        6 * (active or params) * tokens
    )


def test_known_models_are_placed_with_hover_text():
    fig = charts.zone_figure()
    (trace,) = _by_meta(fig, kind="known-models")
    models = charts.read_known_models()
    names = [m["name"] for m in models]
    for expected in (
        "GPT-3",
        "Gopher",
        "Chinchilla",
        "LaMDA",
        "MT-NLG",
        "PaLM",
        "BLOOM",
        "OPT",
        "LLaMA",
        "Llama 2",
        "Llama 3",
        "BloombergGPT",
    ):
        assert any(n.startswith(expected) for n in names), expected
    i = names.index("Chinchilla 70B")
    assert trace.x[i] == pytest.approx(6 * 70e9 * 1.4e12) and trace.y[i] == pytest.approx(70e9)
    hover = trace.hovertext[i]
    for text in (
        "Chinchilla 70B",
        "parameters: 70B",
        "tokens: 1.4T",
        "5.88e23 FLOP",
        "PF-days",
        "tokens per parameter: 20",
    ):
        assert text in hover
    j = names.index("Llama 3.1 405B")
    assert trace.x[j] == pytest.approx(3.8e25) and "published" in trace.hovertext[j]
    labels = [a.text for a in fig.layout.annotations if a.name == "model-label"]
    assert len(labels) >= len(names) * 0.9  # nearly every model carries a visible label
    assert "Chinchilla 70B" in labels and "GPT-3 175B" in labels


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(1e19, 1e26), st.floats(1e8, 1e13)), min_size=1, max_size=30))
def test_label_layout_never_places_a_label_on_a_marker_or_label(points):
    """The placement rule on its own pixel model: whatever the points, a placed label's box overlaps no
    marker and no other label, and stays inside the plot."""
    area = label_placement.PlotArea((18.0, 27.0), (7.5, 13.5), (990.0, 450.0))
    items = [(x, y, f"model {i}", label_placement.MODEL_MARKER) for i, (x, y) in enumerate(points)]
    labels = label_placement.label_layout(items, [area])
    boxes, markers = [], []
    for (x, y, text, style), label in zip(items, labels):
        px, py = area.position(x, y)
        markers.append((px - style.reach, py - style.reach, px + style.reach, py + style.reach))
        if label is None:
            continue
        w, h = (
            label_placement._CHAR_WIDTH * style.font * len(text) + 2,
            label_placement._LINE_HEIGHT * style.font,
        )
        if label["showarrow"]:
            cx, cy = px + label["ax"], py - label["ay"]
        else:
            anchor_x = {"left": 0.5, "right": -0.5, "center": 0.0}[label["xanchor"]]
            anchor_y = {"bottom": 0.5, "top": -0.5, "middle": 0.0}[label["yanchor"]]
            cx, cy = px + label["xshift"] + anchor_x * w, py + label["yshift"] + anchor_y * h
        boxes.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    for i, box in enumerate(boxes):
        assert 0 <= box[0] and box[2] <= 990 and 0 <= box[1] and box[3] <= 450
        assert not any(label_placement._overlap(box, other) for other in boxes[i + 1 :] + markers)


def test_known_models_csv_flops_follow_their_method():
    for m in charts.read_known_models():
        six_nd = 6 * (m["active_params"] or m["params"]) * m["tokens"]  # a mixture of experts: active N
        assert m["flops_method"] in ("6ND", "published")
        assert m["source"] and m["tags"] and m["year"] and m["organisation"]
        if m["flops_method"] == "6ND":
            assert m["flops"] == pytest.approx(six_nd, rel=1e-3)
        else:  # Gopher's 5.76e23 is 14% above 6ND; the others are 6ND to rounding
            assert m["flops"] == pytest.approx(six_nd, rel=0.15)


def test_plan_is_highlighted_and_completed_by_6nd():
    fig = charts.zone_figure(plan={"params": 7e9, "tokens": 2e12})
    (trace,) = _by_meta(fig, kind="plan")
    assert trace.x[0] == pytest.approx(6 * 7e9 * 2e12) and trace.y[0] == pytest.approx(7e9)
    assert trace.marker.symbol == "star"
    fig = charts.zone_figure(plan={"params": 7e9, "flops": 8.4e22}, axis="tokens")
    assert _by_meta(fig, kind="plan")[0].y[0] == pytest.approx(2e12)
    with pytest.raises(ScalingError):
        charts.zone_figure(plan={"params": 7e9})


def test_fitted_law_band_comes_from_its_bootstrap_replicates():
    base = get_law("epoch")
    rng = np.random.default_rng(0)
    reps = base.params * np.exp(0.02 * rng.standard_normal((200, 5)))
    law = with_replicates(base, reps)
    fig = charts.zone_figure(("chinchilla",), fitted=law)
    (band,) = _by_meta(fig, kind="fitted-band")
    (line,) = _by_meta(fig, kind="fitted")
    lower = fig.data[list(fig.data).index(band) - 1]
    C = np.asarray(line.x)
    lo, hi = law.optimal(C).intervals["params"]
    np.testing.assert_allclose(lower.y, lo, rtol=1e-12)
    np.testing.assert_allclose(band.y, hi, rtol=1e-12)
    assert np.all(np.asarray(lower.y) < np.asarray(line.y)) and np.all(
        np.asarray(line.y) < np.asarray(band.y)
    )
    assert band.meta["level"] == pytest.approx(0.8)


def test_a_law_among_the_lines_gets_only_its_interval_band():
    """Epoch AI's replication carries intervals (Besiroglu et al. 2024): the zone shows them around its line."""
    law = get_law("epoch")
    fig = charts.zone_figure(fitted=law)
    assert len(_by_meta(fig, law="epoch")) == 1 and not _by_meta(fig, kind="fitted")
    (band,) = _by_meta(fig, kind="fitted-band")
    lower = fig.data[list(fig.data).index(band) - 1]
    lo, hi = law.optimal(np.asarray(band.x)).intervals["params"]
    np.testing.assert_allclose(lower.y, lo, rtol=1e-12)
    np.testing.assert_allclose(band.y, hi, rtol=1e-12)
    assert "Epoch AI replication" in band.name


def test_zone_rejects_bad_inputs():
    with pytest.raises(ScalingError):
        charts.zone_figure(axis="flops")
    with pytest.raises(ScalingError):
        charts.zone_figure(flops_range=(1e24, 1e20))
    with pytest.raises(ScalingError):
        charts.zone_figure(("no-such-law",))


# ---------------------------------------------------------------------------------------- isoflop
def test_isoflop_parabolas_minima_and_power_law(runs):
    result = fit_isoflop(runs)
    fig = charts.isoflop_figure(runs, result)
    parabolas = _by_meta(fig, kind="parabola")
    assert len(parabolas) == len(result.budgets) == 9
    for trace, budget in zip(parabolas, sorted(result.budgets, key=lambda b: b.flops)):
        x = np.log10(np.asarray(trace.x))
        c2, c1, c0 = budget.coeffs
        np.testing.assert_allclose(trace.y, c2 * x * x + c1 * x + c0, rtol=1e-12)
    (minima,) = _by_meta(fig, kind="minima-vs-compute")
    assert list(minima.y) == pytest.approx([b.params for b in result.budgets if b.used])
    (power,) = _by_meta(fig, kind="power-law")
    np.testing.assert_allclose(power.y, result.n_opt(np.asarray(power.x)), rtol=1e-12)
    assert sum(len(t.x) for t in _by_meta(fig, kind="runs")) == len(runs)
    assert power.meta["a"] == pytest.approx(get_law("chinchilla").a, abs=0.02)


# the sweep presets' budgets and sizes per budget (scaling.train.sweep.PRESETS), and Hoffmann et al. 2022's design
SWEEP_SIZES = {
    **{
        name: {"budgets": p.budgets, "per_budget": p.sizes, "spread": 2.0 if p.sizes < 5 else 3.0}
        for name, p in PRESETS.items()
    },
    "chinchilla": {},
}


@pytest.mark.parametrize("size", SWEEP_SIZES)
def test_every_log_axis_of_the_run_charts_has_three_labelled_ticks_inside_its_data(size):
    import warnings

    runs = synthetic_runs("chinchilla", noise=0.003, **SWEEP_SIZES[size])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two-budget sweeps warn that their exponents have no check
        fig = charts.isoflop_figure(runs)
    spans = {
        "xaxis": [v for t in fig.data if t.xaxis in (None, "x") for v in t.x],
        "xaxis2": [v for t in fig.data if t.xaxis == "x2" for v in t.x],
        "yaxis2": [v for t in fig.data if t.yaxis == "y2" for v in t.y],
    }
    runs = runs.assign(loss=runs["loss"] + 0.01)  # a frontier and diagnostics of the same sweep
    frontier, diagnostics = (
        charts.frontier_figure(runs, "chinchilla"),
        charts.diagnostics_figure(runs, "chinchilla"),
    )
    checks = [(fig, name, values) for name, values in spans.items()] + [
        (frontier, "xaxis", [v for t in frontier.data for v in t.x]),
        (diagnostics, "xaxis2", list(runs["C"])),
    ]
    for fig, name, values in checks:
        axis = fig.layout[name]
        assert axis.type == "log"
        low, high = min(values), max(values)
        inside = [(v, text) for v, text in zip(axis.tickvals, axis.ticktext) if low <= v <= high]
        assert len(inside) >= 3, (size, name, inside)
        assert all(text for _, text in inside) and len({text for _, text in inside}) == len(inside)


def test_loss_axes_carry_the_runs_loss_unit(runs):
    """Byte-level sweeps record nats/byte: the charts say so instead of nats/token."""
    byte_runs = runs.assign(loss_unit="nats/byte")
    figures = [charts.isoflop_figure(byte_runs)]
    for draw in (charts.frontier_figure, charts.diagnostics_figure):
        with pytest.warns(UserWarning, match="nats/token but the runs are in nats/byte"):
            figures.append(draw(byte_runs, "chinchilla"))  # a preset law fitted on tokens
    assert [f.layout.yaxis.title.text for f in figures[:2]] == ["Final loss (nats/byte)"] * 2
    assert figures[2].layout.xaxis.title.text == "Observed loss (nats/byte)"
    assert charts.isoflop_figure(runs).layout.yaxis.title.text == "Final loss (nats/token)"


# --------------------------------------------------------------------------------------- frontier
def test_frontier_line_band_holdout_and_target(runs):
    law = with_replicates(
        get_law("chinchilla"),
        get_law("chinchilla").params * np.exp(0.01 * np.random.default_rng(1).standard_normal((100, 5))),
    )
    held = np.asarray(runs["C"] >= 1e21)
    fig = charts.frontier_figure(runs, law, holdout=held, target_flops="1e22")
    for kind in ("frontier", "extrapolation"):
        (trace,) = _by_meta(fig, kind=kind)
        np.testing.assert_allclose(trace.y, law.loss_opt(np.asarray(trace.x)), rtol=1e-12)
    (target,) = _by_meta(fig, kind="target")
    assert target.x[0] == pytest.approx(1e22) and target.y[0] == pytest.approx(float(law.loss_opt(1e22)))
    assert target.error_y.array[0] > 0 and target.error_y.arrayminus[0] > 0
    (band,) = _by_meta(fig, kind="loss-band")
    assert len(_by_meta(fig, kind="held-out")[0].x) == held.sum()
    assert len(_by_meta(fig, kind="runs")[0].x) == (~held).sum()
    assert band.fill == "tonexty"
    with pytest.raises(ScalingError):
        charts.frontier_figure(runs, "chinchilla-a1")


# ----------------------------------------------------------------------------------------- memory
def test_memory_bars_sum_to_each_total_and_capacity_is_drawn():
    from scaling.cluster import Cluster
    from scaling.memory import Parallelism, Workload, estimate_memory

    breakdowns = {
        f"ZeRO-{z}": estimate_memory(
            "llama-2-7b",
            parallel=Parallelism.of(zero=z),
            workload=Workload.of(flash_attention=True),
            cluster=Cluster.of("H100", 8),
        )
        for z in range(4)
    }
    fig = charts.memory_figure(breakdowns)
    bars = [t for t in fig.data if t.type == "bar"]
    for i, (label, b) in enumerate(breakdowns.items()):
        assert bars[0].x[i] == label
        assert sum(t.y[i] for t in bars) == pytest.approx(b.total_bytes / GIB, rel=1e-9)
    capacity = next(iter(breakdowns.values())).capacity_bytes
    assert [s.y0 for s in fig.layout.shapes] == [pytest.approx(capacity / GIB)]
    totals = _by_meta(fig, kind="totals")[0]
    assert all(("fits" in t) == b.fits for t, b in zip(totals.text, breakdowns.values()))
    # greyscale: every component has its own fill pattern
    patterns = [t.marker.pattern.shape for t in bars]
    assert len(set(patterns)) == len(patterns)


def test_memory_chart_is_the_memory_command_with_its_own_defaults(tmp_path):
    """Issue case: the chart drew ZeRO-3 at ~117 GiB (no FlashAttention) where `scaling memory` says 33.5 GiB."""
    import json

    from click.testing import CliRunner

    from scaling.cli import main

    out = tmp_path / "memory.html"
    result = CliRunner().invoke(main, ["chart", "memory", "llama-2-7b", "--gpus", "8xH100", "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    for zero in range(4):
        cli = CliRunner().invoke(
            main,
            ["memory", "llama-2-7b", "--mode", "train", "--gpus", "8xH100", "--zero", str(zero), "--json"],
        )
        total = json.loads(cli.output)["total_bytes"]
        assert f"{total / GIB:.4g}"[:4] in html  # the bar's total label, e.g. "33.5 GiB"
    from scaling.cluster import Cluster
    from scaling.memory import memory_across

    fig = charts.memory_figure(
        memory_across("llama-2-7b", "zero", cluster=Cluster.of("H100", 8), mode="train")
    )
    bars = [t for t in fig.data if t.type == "bar"]
    for zero in range(4):
        cli = CliRunner().invoke(
            main,
            ["memory", "llama-2-7b", "--mode", "train", "--gpus", "8xH100", "--zero", str(zero), "--json"],
        )
        total = json.loads(cli.output)["total_bytes"]
        assert sum(t.y[zero] for t in bars) == pytest.approx(total / GIB, rel=1e-9)


def test_memory_chart_states_its_assumptions_and_names_what_varies():
    from scaling.cluster import Cluster
    from scaling.memory import Workload, memory_across

    fig = charts.memory_figure(
        memory_across("llama-2-7b", "zero", cluster=Cluster.of("H100", 8), mode="train")
    )
    title = fig.layout.title.text
    assert title.startswith("Memory per device across ZeRO stages: llama-2-7b")
    for text in ("FlashAttention", "sequence 4,096 tokens", "micro-batch 1", "bf16", "8xH100"):
        assert text in title, text
    assert "ZeRO-" not in fig.layout.meta["assumptions"]  # what varies is not an assumption
    fig = charts.memory_figure(
        memory_across(
            "llama-2-7b",
            "recompute",
            workload=Workload.of(micro_batch=2, seq_len=2048, flash_attention=False),
            cluster=Cluster.of("H100", 8),
        )
    )
    title = fig.layout.title.text
    assert "across recomputation settings" in title
    assert "standard attention" in title and "sequence 2,048 tokens" in title and "micro-batch 2" in title
    # the capacity label sits in the right margin, beside the line, never on a bar
    (label,) = [a for a in fig.layout.annotations if a.name == "capacity-label"]
    assert label.xref == "paper" and label.x == 1.0 and label.xanchor == "left"


def test_chart_refuses_to_overwrite_without_force(tmp_path):
    from click.testing import CliRunner

    from scaling.cli import main

    out = tmp_path / "zone.html"
    out.write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(main, ["chart", "zone", "-o", str(out)])
    assert result.exit_code == 2 and "--force" in result.output and out.read_text(encoding="utf-8") == "mine"
    result = CliRunner().invoke(main, ["chart", "zone", "-o", str(out), "--force"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["chart", "zone", "-o", str(tmp_path / "zone.txt")])
    assert result.exit_code == 2 and ".html" in result.output


def test_memory_other_term_keeps_the_total():
    class Fake:
        weights_bytes, gradients_bytes, total_bytes, capacity_bytes = 10 * GIB, 5 * GIB, 20 * GIB, 16 * GIB

    fig = charts.memory_figure([Fake()])
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.name for t in bars] == ["Weights", "Gradients", "Other"]
    assert sum(t.y[0] for t in bars) == pytest.approx(20.0)
    assert "too big" in _by_meta(fig, kind="totals")[0].text[0]


# ------------------------------------------------------------------------------------ diagnostics
def test_diagnostics_predicted_against_observed(runs):
    law = get_law("chinchilla")
    fig = charts.diagnostics_figure(runs, law)
    (scatter,) = _by_meta(fig, kind="predicted-vs-observed")
    np.testing.assert_allclose(scatter.x, runs["loss"])
    np.testing.assert_allclose(scatter.y, law.predict(runs["N"].to_numpy(), runs["D"].to_numpy()), rtol=1e-12)
    (resid,) = _by_meta(fig, kind="residuals")
    np.testing.assert_allclose(np.asarray(resid.y) / 100, (np.asarray(scatter.x) - scatter.y) / scatter.y)


# ------------------------------------------------------------------------------------------- save
def test_save_html_is_self_contained_and_reproducible(tmp_path):
    fig = charts.zone_figure()
    a = charts.save(fig, tmp_path / "a.html", div_id="zone")
    b = charts.save(fig, tmp_path / "b.html", div_id="zone")
    text = a.read_text(encoding="utf-8")
    assert a.read_bytes() == b.read_bytes()
    assert 'id="zone"' in text
    assert not re.search(r"<script[^>]*\bsrc=", text)  # nothing fetched: plotly.js is in the file
    assert len(text) > 3_000_000  # plotly.js is inlined


def test_save_directory_mode_shares_plotly_js(tmp_path):
    charts.save(charts.zone_figure(), tmp_path / "one.html", plotlyjs="directory", div_id="one")
    charts.save(charts.zone_figure(axis="tokens"), tmp_path / "two.html", plotlyjs="directory", div_id="two")
    assert (tmp_path / "plotly.min.js").stat().st_size > 3_000_000
    assert re.search(r'<script[^>]*src="plotly.min.js"', (tmp_path / "two.html").read_text(encoding="utf-8"))
    assert (tmp_path / "two.html").stat().st_size < 1_000_000


def test_save_rejects_unknown_suffix_and_explains_image_export(tmp_path, monkeypatch):
    fig = charts.zone_figure()
    with pytest.raises(ScalingError, match=r"\.html"):
        charts.save(fig, tmp_path / "chart.txt")
    with pytest.raises(ScalingError, match="plotlyjs"):
        charts.save(fig, tmp_path / "chart.html", plotlyjs="cdn")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "kaleido" else real(name, *a)
    )
    with pytest.raises(ScalingError, match=r"scaling\[export\].*chromium"):
        charts.save(fig, tmp_path / "chart.png")


def test_save_image_without_a_browser_says_how_to_get_one(tmp_path, monkeypatch):
    pytest.importorskip("kaleido")
    fig = charts.zone_figure()

    def no_browser(*args, **kwargs):
        raise RuntimeError("Kaleido requires Google Chrome to be installed.")

    monkeypatch.setattr(type(fig), "write_image", no_browser)
    with pytest.raises(ScalingError, match="BROWSER_PATH"):
        charts.save(fig, tmp_path / "chart.png")


# -------------------------------------------------------------------------------------------- CLI
def test_cli_zone_writes_html(tmp_path):
    from click.testing import CliRunner

    from scaling.cli import main

    out = tmp_path / "zone.html"
    result = CliRunner().invoke(
        main,
        [
            "chart",
            "zone",
            "--plan-params",
            "7B",
            "--plan-tokens",
            "2T",
            "--laws",
            "chinchilla,epoch",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and out.stat().st_size > 3_000_000


def test_cli_chart_errors_are_one_line(tmp_path):
    from click.testing import CliRunner

    from scaling.cli import main

    result = CliRunner().invoke(main, ["chart", "zone", "--laws", "nope", "-o", str(tmp_path / "z.html")])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "nope" in result.output


def test_cli_isoflop_and_memory(tmp_path, runs):
    from click.testing import CliRunner

    from scaling.cli import main

    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    result = CliRunner().invoke(
        main, ["chart", "isoflop", str(tmp_path), "-o", str(tmp_path / "iso.html"), "--plotlyjs", "directory"]
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        main,
        [
            "chart",
            "memory",
            "llama-2-7b",
            "--gpus",
            "8xH100",
            "--no-flash",
            "-o",
            str(tmp_path / "mem.html"),
            "--plotlyjs",
            "directory",
        ],
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        main,
        [
            "chart",
            "diagnostics",
            str(path),
            "--law",
            "chinchilla",
            "-o",
            str(tmp_path / "diag.html"),
            "--plotlyjs",
            "directory",
        ],
    )
    assert result.exit_code == 0, result.output


def test_chart_command_module_imports_no_plotting_stack():
    code = (
        "import sys, scaling.commands.charts; "
        "print(sorted(m for m in ('plotly', 'pandas', 'scipy', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------ what users see on the zone
def _line_styles(fig) -> dict[str, tuple[str, str]]:
    return {t.meta["law"]: (t.line.color, t.line.dash) for t in fig.data if t.meta and "law" in t.meta}


def test_each_law_keeps_its_colour_whatever_the_order_of_the_laws():
    from scaling.laws import COMPARISON_LAWS

    cli = _line_styles(charts.zone_figure(charts.DEFAULT_LAWS))
    app = _line_styles(charts.zone_figure(COMPARISON_LAWS))
    for name in set(cli) & set(app):
        assert cli[name] == app[name], name
    assert len(set(app.values())) == len(app)  # and no two laws look alike


def test_the_zone_fills_its_container_and_keeps_the_legend_off_the_plot():
    fig = charts.zone_figure(plan={"params": 7e9, "tokens": 2e12})
    layout = fig.layout
    entries = sum(t.showlegend is not False and t.meta != {"kind": "axis"} for t in fig.data)
    assert layout.width is None and layout.autosize is not False
    assert layout.height == charts.ZONE_SIZE[1]
    assert layout.legend.orientation == "h" and layout.legend.yref == "container" and layout.legend.y == 0
    # the bottom margin holds the x axis and every legend row (two entries a row)
    assert layout.margin.b >= 75 + 29 * math.ceil(entries / 2) and layout.margin.autoexpand is False


def test_the_plan_star_is_labelled_with_the_size_the_plan_prints():
    from scaling.charts.plan_report import zone_arguments
    from scaling.plan import make_plan
    from scaling.units import format_count

    plan = make_plan(gpus="256xH100", days="30")
    assert zone_arguments(plan)["plan"]["name"] == f"this plan ({format_count(plan.spec.params)})"
    preset = make_plan(model="llama-2-7b", gpus="64xH100", days="10")
    assert (
        zone_arguments(preset)["plan"]["name"]
        == f"this plan (llama-2-7b, {format_count(preset.spec.params)})"
    )


def test_no_model_label_covers_a_law_line():
    fig = charts.zone_figure(plan={"params": 13e9, "tokens": 1e12, "name": "this plan (13B)"})
    width, height = charts.ZONE_SIZE
    margin = fig.layout.margin
    area = label_placement.PlotArea(
        tuple(fig.layout.xaxis.range),
        tuple(fig.layout.yaxis.range),
        (width - margin.l - margin.r, height - margin.t - margin.b),
    )
    lines = [t for t in fig.data if t.meta and "law" in t.meta]
    for label in fig.layout.annotations:
        if label.name not in ("model-label", "plan-label") or label.showarrow:
            continue
        px, py = area.position(10**label.x, 10**label.y)
        w, h = 0.6 * label.font.size * len(label.text), 1.25 * label.font.size
        x0 = px + label.xshift - {"left": 0, "center": w / 2, "right": w}[label.xanchor]
        y0 = py + label.yshift - {"bottom": 0, "middle": h / 2, "top": h}[label.yanchor]
        for line in lines:
            xs = np.logspace(*np.log10([line.x[0], line.x[-1]]), 2000)
            ys = np.exp(np.interp(np.log(xs), np.log(line.x), np.log(line.y)))
            pts = np.array([area.position(a, b) for a, b in zip(xs, ys)])
            inside = (
                (pts[:, 0] > x0 + 1)
                & (pts[:, 0] < x0 + w - 1)
                & (pts[:, 1] > y0 + 1)
                & (pts[:, 1] < y0 + h - 1)
            )
            assert not inside.any(), (label.text, line.meta["law"])
