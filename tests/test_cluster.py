"""`Cluster`: the one value for where a run runs, parsed from '512xH100' or '64x8xA100-40GB' (nodes kept)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.catalog import get_accelerator
from scaling.cluster import DEVICES_PER_NODE, Cluster, parse_cluster
from scaling.errors import ScalingError


@settings(max_examples=300)
@given(
    st.integers(min_value=1, max_value=100_000),
    st.sampled_from([None, "H100", "A100-80GB", "TPU-v5p", "mi300x"]),
    st.sampled_from([None, 1, 2, 4, 8]),
)
def test_cluster_round_trip(devices_per_node, accelerator, nodes):
    if nodes and accelerator:
        text = f"{nodes}x{devices_per_node}x{accelerator}"
    else:
        text = f"{devices_per_node}x{accelerator}" if accelerator else str(devices_per_node)
    cluster = parse_cluster(text)
    assert str(cluster) == text and parse_cluster(str(cluster)) == cluster


@pytest.mark.parametrize(
    "text,devices,accelerator,per_node,shown",
    [
        ("64xH100", 64, "H100-SXM", None, "64xH100"),
        ("8x8xA100-80GB", 64, "A100-80GB", 8, "8x8xA100-80GB"),
        ("8×H100", 8, "H100-SXM", None, "8xH100"),
        ("H100*64", 64, "H100-SXM", None, "64xH100"),
        ("H100", 1, "H100-SXM", None, "1xH100"),
        ("64", 64, None, None, "64"),
    ],
)
def test_parse_cluster_examples(text, devices, accelerator, per_node, shown):
    cluster = parse_cluster(text)
    assert (cluster.devices, cluster.devices_per_node, str(cluster)) == (devices, per_node, shown)
    assert cluster.accelerator == (None if accelerator is None else get_accelerator(accelerator))


# ("x8" and "64xH100x2" parse as device names, which the catalog lookup rejects with a suggestion)
@pytest.mark.parametrize(
    "bad", ["0xH100", "-8xH100", "8x", "", "8x8", 0, -3, "8x0xH100", "H100*0", "64 x", "x8", "64xH100x2"]
)
def test_parse_cluster_rejects(bad):
    with pytest.raises(ScalingError):
        parse_cluster(bad)


def test_a_node_is_what_the_cluster_says_else_a_full_node():
    assert parse_cluster("64x4xH100").node == 4
    assert parse_cluster("256xH100").node == DEVICES_PER_NODE
    assert parse_cluster("4xH100").node == 4  # fewer devices than a node


def test_links_are_the_catalogs_unless_given():
    h100 = get_accelerator("H100")
    assert (parse_cluster("8xH100").intra, parse_cluster("8xH100").link) == (450e9, "NVLink4")
    given = Cluster.of(h100, 8, intra_node_bytes_per_s=100e9)
    assert (given.intra, given.inter, given.link) == (100e9, h100.inter_node_bytes_per_s, "given")
    with pytest.raises(ScalingError, match="names no accelerator"):
        assert parse_cluster("8").intra


def test_accelerator_files_name_accelerators_beyond_the_catalog(tmp_path):
    extra = tmp_path / "mine.csv"
    extra.write_text("name,memory,bf16_tflops\nX9,96GiB,1000\n")
    cluster = parse_cluster("16xX9", "--gpus", accelerator_files=(str(extra),))
    assert cluster.accelerator.name == "X9" and cluster.accelerator.peak("bf16") == 1e15
    with pytest.raises(ScalingError, match="unknown accelerator"):
        parse_cluster("16xX9")


@pytest.mark.parametrize("text", ["9" * 5000 + "xH100", "8x" + "9" * 5000 + "xH100", "9" * 5000])
def test_a_5000_digit_device_count_is_one_error_not_the_int_string_limit(text):
    with pytest.raises(ScalingError, match="5000 digits"):
        parse_cluster(text, "--gpus")
