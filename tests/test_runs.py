"""The runs-table contract: one meaning per column, aliases, older sweeps, damaged rows set aside."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.errors import ScalingError
from scaling.flops import six_nd
from scaling.runs_table import (
    RUN_COLUMNS,
    add_row,
    normalise_name,
    read_curves,
    read_rows,
    read_table,
    side_path,
    write_rows,
)


def _row(i: int, **extra) -> dict:
    n, d = 1e6 * (i + 1), 2e7
    row = {
        "run_id": f"r{i}",
        "status": "ok",
        "budget": 6 * n * d * 1.1,
        "N": n,
        "D": d,
        "C": six_nd(n, d),
        "C_exact": 6.6 * n * d,
        "loss": 3.0 - 0.1 * i,
    }
    row.update(extra)
    return row


def test_columns_have_one_meaning_each():
    assert len(RUN_COLUMNS) == len(set(RUN_COLUMNS))
    assert "C_6N" not in RUN_COLUMNS  # C is 6ND; the exact count is C_exact


def test_write_then_read_round_trips_and_is_sorted(tmp_path):
    path = tmp_path / "runs.csv"
    rows = [_row(i) for i in (2, 0, 1)]
    write_rows(path, rows)
    back = read_rows(path)
    assert [r["run_id"] for r in back.rows] == ["r0", "r1", "r2"]
    assert float(back.rows[0]["C"]) == six_nd(1e6, 2e7)
    assert back.damaged == ()


def test_garbage_line_is_set_aside_and_kept(tmp_path):
    path = tmp_path / "runs.csv"
    write_rows(path, [_row(0), _row(1)])
    with open(path, "a") as fh:
        fh.write("my note,,,\n")
    read = read_rows(path)
    assert len(read.rows) == 2 and len(read.damaged) == 1
    assert "line 4" in read.report()
    add_row(path, _row(2))
    assert [r["run_id"] for r in read_rows(path).rows] == ["r0", "r1", "r2"]
    assert side_path(path).read_text().strip() == "my note,,,"


def test_add_row_replaces_by_run_id(tmp_path):
    path = tmp_path / "runs.csv"
    add_row(path, _row(0))
    add_row(path, _row(0, loss=2.5))
    rows = read_rows(path).rows
    assert len(rows) == 1 and float(rows[0]["loss"]) == 2.5


def test_older_sweep_table_reads_c_6n_as_c(tmp_path):
    path = tmp_path / "runs.csv"
    old = pd.DataFrame(
        [
            {
                "run_id": f"r{i}",
                "N": 1e6 * (i + 1),
                "D": 2e7,
                "C": 7e15 * (i + 1),
                "C_6N": six_nd(1e6 * (i + 1), 2e7),
                "loss": 3.0 - 0.1 * i,
            }
            for i in range(3)
        ]
    )
    old.to_csv(path, index=False)
    table = read_table(path)
    assert list(table.frame["C"]) == list(old["C_6N"])
    assert list(table.frame["C_exact"]) == list(old["C"])
    row = read_rows(path).rows[0]
    assert float(row["C"]) == old["C_6N"][0] and float(row["C_exact"]) == old["C"][0] and "C_6N" not in row


@pytest.mark.parametrize(
    "names",
    [
        ("Model Size", "Training Tokens", "Validation Loss"),
        ("model_size", "training_tokens", "validation_loss"),
        ("PARAMETERS", "tokens", "Final Loss"),
    ],
)
def test_public_data_set_aliases_derive_c(names):
    n_col, d_col, l_col = names
    frame = pd.DataFrame({n_col: [1e8, 2e8], d_col: [1e9, 2e9], l_col: [3.0, 2.9]})
    table = read_table(frame)
    assert list(table.frame["C"]) == [six_nd(1e8, 1e9), six_nd(2e8, 2e9)]
    assert any("C = 6ND" in n for n in table.notes)


@pytest.mark.parametrize("c_name", ["Training FLOP", "compute_budget", "FLOPs"])
def test_missing_tokens_derived_from_compute(c_name):
    frame = pd.DataFrame({"Model Size": [1e8, 2e8], c_name: [6e17, 2.4e18], "loss": [3.0, 2.9]})
    table = read_table(frame)
    assert table.frame["D"].tolist() == pytest.approx([1e9, 2e9])
    assert any("D derived" in n for n in table.notes)


def test_damaged_and_failed_rows_are_counted_not_fatal():
    frame = pd.DataFrame(
        {
            "N": [1e8, "abc", 3e8, 4e8],
            "D": [1e9, 1e9, 1e9, 1e9],
            "loss": [3, 3, math.nan, 2.8],
            "status": ["ok", "ok", "ok", "diverged"],
        }
    )
    table = read_table(frame)
    assert table.rows_read == 4 and table.rows_used == 1
    reasons = dict(table.dropped)
    assert reasons["status diverged"] == 1
    assert sum(reasons.values()) == 3
    assert "set aside 3" in table.summary()


def test_repeated_names_without_step_are_all_runs():
    frame = pd.DataFrame(
        {"name": ["a"] * 5, "N": [1e8, 2e8, 3e8, 4e8, 5e8], "D": [1e9] * 5, "loss": [3.0] * 5}
    )
    assert read_table(frame).rows_used == 5


def test_step_column_makes_curves_and_says_so():
    frame = pd.DataFrame(
        {
            "run": ["a", "a", "b", "b"],
            "step": [1, 2, 1, 2],
            "N": [1e8, 1e8, 2e8, 2e8],
            "tokens": [1e8, 2e8, 1e8, 2e8],
            "loss": [4.0, 3.5, 3.9, 3.4],
        }
    )
    table = read_table(frame)
    assert table.frame["loss"].tolist() == [3.5, 3.4]
    assert any("loss curves" in n for n in table.notes)


@pytest.mark.parametrize("content", ["N,D,loss\n", ""])
def test_header_only_or_empty_is_one_error(tmp_path, content):
    path = tmp_path / "runs.csv"
    path.write_text(content)
    with pytest.raises(ScalingError):
        read_table(path)


def test_every_row_failed_is_one_error():
    frame = pd.DataFrame({"N": [1e8, 2e8], "D": [1e9, 1e9], "loss": [3.0, 2.9], "status": ["failed"] * 2})
    with pytest.raises(ScalingError, match="no usable run"):
        read_table(frame)


def test_compact_and_pretty_json_read_alike(tmp_path):
    records = [{"N": 1e8 * (i + 1), "D": 1e9, "loss": 3.0 - 0.1 * i} for i in range(3)]
    compact, pretty = tmp_path / "a.json", tmp_path / "b.json"
    compact.write_text(json.dumps(records))
    pretty.write_text(json.dumps(records, indent=2))
    pd.DataFrame(records).to_json(tmp_path / "c.json", orient="records")
    frames = [read_table(p).frame[["N", "D", "loss"]] for p in (compact, pretty, tmp_path / "c.json")]
    assert frames[0].equals(frames[1]) and frames[0].equals(frames[2])


@pytest.mark.parametrize("curve", ['"abc"', "3", "[[1]]", "[[1e6, -2]]"])
def test_bad_jsonl_curve_is_set_aside(tmp_path, curve):
    path = tmp_path / "curves.jsonl"
    good = '{"run_id": "a", "N": 1e8, "curve": [[1e8, 4.0], [2e8, 3.5]]}'
    path.write_text(good + "\n" + f'{{"run_id": "b", "N": 2e8, "curve": {curve}}}' + "\n")
    table = read_curves(path)
    assert set(table.frame["run_id"]) == {"a"}
    assert dict(table.dropped) == {"curve is not a list of [tokens, loss] pairs": 1}


def test_binary_and_non_utf8_files_are_one_error(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_bytes(b"N,D,loss\n\xff\xfe\x00\x01")
    with pytest.raises(ScalingError, match="cannot read"):
        read_table(path)


def test_sweep_folder_is_a_runs_table_with_curves(tmp_path):
    write_rows(tmp_path / "runs.csv", [_row(i) for i in range(3)])
    (tmp_path / "curves").mkdir()
    for i in range(3):
        pd.DataFrame(
            {
                "step": [1, 2, 3],
                "tokens": [1e6, 2e6, 3e6],
                "flops": [1, 2, 3],
                "train_loss": [5.0, 4.0, 3.5],
                "val_loss": [None, None, 3.6],
            }
        ).to_csv(tmp_path / "curves" / f"r{i}.csv", index=False)
    assert read_table(tmp_path).rows_used == 3
    curves = read_curves(tmp_path)
    assert len(curves.frame) == 9 and curves.frame["loss"].max() == 5.0  # train_loss: val has one point


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ModelSize_ -", min_size=1, max_size=14))
def test_normalise_name_ignores_case_spaces_underscores(name):
    assert normalise_name(name) == normalise_name(name.upper().replace("_", " ").replace("-", ""))


def test_numpy_cells_are_written_as_numbers(tmp_path):
    import numpy as np

    path = tmp_path / "runs.csv"
    write_rows(path, [_row(0, N=np.float64(1.5e6), steps=np.int64(7))])
    row = read_rows(path).rows[0]
    assert row["N"] == "1500000.0" and row["steps"] == "7"


def test_parquet_without_pyarrow_or_damaged_is_one_line(tmp_path):
    path = tmp_path / "runs.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(ScalingError, match="pyarrow|as Parquet") as info:
        read_table(path)
    assert "\n" not in str(info.value)


_CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=6),
    st.none(),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({"N": _CELLS, "D": _CELLS, "loss": _CELLS, "status": _CELLS}), max_size=8)
)
def test_any_table_is_read_or_refused_in_one_error_and_every_row_is_counted(rows):
    frame = pd.DataFrame(rows, columns=["N", "D", "loss", "status"])
    try:
        table = read_table(frame)
    except ScalingError as exc:
        assert "\n" not in str(exc)
        return
    assert table.rows_used + sum(count for _, count in table.dropped) == table.rows_read == len(rows)
    for column in ("N", "D", "C", "loss"):
        assert (table.frame[column] > 0).all() and np.isfinite(table.frame[column]).all()


def test_jsonl_curves_read_as_one_run_each_at_their_last_point(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text(
        '{"run_id": "a", "N": 1e8, "curve": [[1e8, 4.0], [2e8, 3.5]]}\n'
        '{"run_id": "b", "N": 2e8, "curve": [[3e8, 3.2], [1e8, 3.9]]}\n'
        '{"run_id": "c", "N": 3e8, "curve": [[1e8]]}\n'
    )
    table = read_table(path)
    assert table.frame[["run_id", "D", "loss"]].values.tolist() == [["a", 2e8, 3.5], ["b", 3e8, 3.2]]
    assert table.rows_read == 3 and dict(table.dropped) == {"curve is not a list of [tokens, loss] pairs": 1}


def test_row_with_an_extra_field_is_counted_and_named_by_line(tmp_path):
    # pandas' on_bad_lines="skip" once dropped it: "20 read, 20 used" for a table of 21 rows
    rows = [f"{1e7 * (i + 1):.3g},1e9,{3.0 - 0.01 * i}" for i in range(20)]
    rows.insert(4, "5e7,2e9,3.1,an extra field")
    path = tmp_path / "ragged.csv"
    path.write_text("N,D,loss\n" + "\n".join(rows) + "\n")
    table = read_table(path)
    assert (table.rows_read, table.rows_used) == (21, 20)
    assert table.dropped == (("more fields than the header's 3 (line 6)", 1),)


def test_row_longer_than_the_header_first_is_set_aside_not_shifted(tmp_path):
    path = tmp_path / "ragged_first.csv"
    path.write_text("N,D,loss\n1e8,1e9,3.0,x\n2e8,1e9,2.9\n3e8,1e9,2.8\n")
    table = read_table(path)
    assert table.rows_read == 3 and list(table.frame["N"]) == [2e8, 3e8]
    assert "line 2" in table.dropped[0][0]


@pytest.mark.parametrize("colour_first", [False, True])
def test_epoch_ai_svg_extracted_data_reads_with_hash_colours(tmp_path, colour_first):
    # Epoch AI's analyzing-chinchilla svg_extracted_data.csv: a '#' in a colour field is data, not a comment
    header = ["x", "y", "color", "Model Size", "Training FLOP", "hex_color", "loss"]
    rows = [
        ["1", "2", "#faebdd", "44000000", "1e18", "#faebdd", "3.5"],
        ["3", "4", "#f6b48f", "90000000", "3e18", "#f6b48f", "3.2"],
        ["5", "6", "#e13342", "280000000", "1e19", "#e13342", "2.9"],
    ]
    if colour_first:
        header, rows = header[2:] + header[:2], [r[2:] + r[:2] for r in rows]
    path = tmp_path / "svg_extracted_data.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    table = read_table(path)
    assert (table.rows_read, table.rows_used) == (3, 3)
    assert list(table.frame["N"]) == [44e6, 90e6, 280e6] and list(table.frame["C"]) == [1e18, 3e18, 1e19]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_json_nested_too_deep_is_one_error_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"nested{suffix}"
    path.write_text('{"N": ' + "[" * 3000 + "\n" if suffix == ".jsonl" else "[" * 3000)
    with pytest.raises(ScalingError, match="nested too deeply") as info:
        read_table(path)
    assert str(path) in str(info.value)
