"""The shape rule's heads split over the tensor-parallel sizes of one node, for dense and MoE shapes alike."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.memory import layout_rules
from scaling.model.shapes import COUNT_TOLERANCE, moe_shape_for_params, shape_for_params

NODE_TP = (1, 2, 4, 8)


def _allows_node_tp(spec):
    return all(all(bool(ok) for ok, _ in layout_rules(spec, tp, tp, 1)) for tp in NODE_TP)


@settings(max_examples=60, deadline=None)
@given(log_params=st.floats(7.3, 12.3), style=st.sampled_from(["llama", "gpt"]))
def test_every_dense_shape_allows_tp_1_2_4_8_within_its_count_tolerance(log_params, style):
    params = 10.0**log_params
    if style == "gpt":
        params = max(params, 1e8)  # tied GPT embeddings leave no shape within 2% near 37M parameters
    spec = shape_for_params(params, style=style)
    assert spec.n_head % 8 == 0 and spec.kv_heads % 8 == 0
    assert _allows_node_tp(spec)
    assert spec.params == pytest.approx(params, rel=COUNT_TOLERANCE)


@settings(max_examples=40, deadline=None)
@given(
    log_active=st.floats(8.0, 11.5),
    expansion=st.sampled_from([4, 8, 16, 32]),
    granularity=st.sampled_from([1, 2, 4, 8]),
)
def test_every_moe_shape_allows_tp_1_2_4_8_and_keeps_the_dense_active_count(
    log_active, expansion, granularity
):
    active = 10.0**log_active
    spec = moe_shape_for_params(active, expansion=expansion, granularity=granularity)
    assert _allows_node_tp(spec)
    dense = shape_for_params(active)
    assert dense.params == pytest.approx(active, rel=COUNT_TOLERANCE)
    assert (spec.n_head, spec.kv_heads, spec.d_model) == (dense.n_head, dense.kv_heads, dense.d_model)
    # the active FFN is the dense one up to the expert width's rounding to a multiple of 64
    assert abs(granularity * spec.expert_ffn_dim - dense.ffn_dim) <= 32 * granularity


@pytest.mark.parametrize("params", [6e9, 6.5e9, 7.3e9, 8.7e9])
def test_widths_that_once_gave_31_heads_now_split_over_a_node(params):
    # d_model 3968 = 31 heads of 128 under the old rule: only TP 1 served it
    spec = shape_for_params(params)
    assert spec.n_head % 8 == 0 and _allows_node_tp(spec)
