"""Explore and Profile: the first rows of CSV, Parquet, JSON Lines and MLTable assets, and
per-column statistics computed with pandas."""

import io

import pandas as pd
import pytest

from assets.data import services
from assets.data.mltable_file import parse_mltable
from assets.data.services import DataAssetSpec
from assets.data.tables import EXPLORE_ROWS, TableUnavailable, profile, read_table, rows_of

from .data_support import CSV, _fast_password_hashing, put_file  # noqa: F401

pytestmark = pytest.mark.django_db


def register(workspace, owner, path, type="uri_file", name="t"):
    return services.data_asset_create(
        workspace=workspace, user=owner, spec=DataAssetSpec(name=name, type=type, path=path)
    )


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_a_csv_file_shows_its_first_rows_with_missing_values_as_none(workspace, owner):
    put_file(workspace, "iris.csv", CSV)
    table = read_table(register(workspace, owner, "iris.csv"))
    assert list(table.frame.columns) == ["id", "species", "length", "width"]
    assert rows_of(table.frame)[1] == ["2", "versicolor", "7.0", None]


def test_explore_shows_csv_cells_as_written(workspace, owner):
    put_file(workspace, "w.csv", b"id,x,code\n1,3.0,007\n2,5.10,\n")
    table = read_table(register(workspace, owner, "w.csv"), as_written=True)
    assert rows_of(table.frame) == [["1", "3.0", "007"], ["2", "5.10", None]]


def test_parquet_floats_keep_a_decimal_point_and_integers_with_nulls_stay_integers(workspace, owner):
    frame = pd.DataFrame({"f": [3.0, 0.5, None], "i": pd.array([3, None, 5], dtype="Int64")})
    put_file(workspace, "n.parquet", parquet_bytes(frame))
    assert rows_of(read_table(register(workspace, owner, "n.parquet")).frame) == [
        ["3.0", "3"],
        ["0.5", None],
        [None, "5"],
    ]


def test_only_the_first_hundred_rows_are_read(workspace, owner):
    put_file(workspace, "long.csv", b"n\n" + b"".join(b"%d\n" % i for i in range(5000)))
    table = read_table(register(workspace, owner, "long.csv"))
    assert len(table.frame) == EXPLORE_ROWS == 100


def test_parquet_and_json_lines(workspace, owner):
    frame = pd.DataFrame({"a": range(300), "b": ["x"] * 300})
    put_file(workspace, "t.parquet", parquet_bytes(frame))
    put_file(workspace, "t.jsonl", b'{"a": 1, "b": "x"}\n{"a": 2, "b": null}\n')
    parquet = read_table(register(workspace, owner, "t.parquet", name="p")).frame
    assert (len(parquet), list(parquet.columns), int(parquet["a"].iloc[-1])) == (100, ["a", "b"], 99)
    jsonl = read_table(register(workspace, owner, "t.jsonl", name="j")).frame
    assert rows_of(jsonl) == [["1", "x"], ["2", None]]


def test_a_file_of_another_kind_has_no_table(workspace, owner):
    put_file(workspace, "model.pkl", b"\x80\x04binary")
    with pytest.raises(TableUnavailable):
        read_table(register(workspace, owner, "model.pkl"))


def test_a_folder_has_no_single_table(workspace, owner):
    put_file(workspace, "f/a.csv", CSV)
    with pytest.raises(TableUnavailable, match="uri_folder"):
        read_table(register(workspace, owner, "f", type="uri_folder"))


MLTABLE = b"""\
paths:
  - file: ./part-1.csv
  - pattern: ./more/*.csv
transformations:
  - read_delimited:
      delimiter: ';'
      header: all_files_same_headers
      encoding: utf8
      empty_as_string: false
  - skip: 1
  - take: 3
  - drop_columns: [secret]
"""


def test_mltable_paths_patterns_and_transformations(workspace, owner):
    put_file(workspace, "tbl/MLTable", MLTABLE)
    put_file(workspace, "tbl/part-1.csv", b"a;b;secret\n1;x;s\n2;;s\n")
    put_file(workspace, "tbl/more/part-2.csv", b"a;b;secret\n3;z;s\n4;w;s\n")
    put_file(workspace, "tbl/more/notes.txt", b"not part of the table")
    table = read_table(register(workspace, owner, "tbl", type="mltable"))
    assert list(table.frame.columns) == ["a", "b"]
    assert rows_of(table.frame) == [["2", None], ["3", "z"], ["4", "w"]]
    assert table.files == 2


def test_mltable_empty_as_string_and_no_header(workspace, owner):
    put_file(
        workspace,
        "tbl/MLTable",
        b"paths:\n  - folder: ./parts\ntransformations:\n  - read_delimited:\n      header: no_header\n      empty_as_string: true\n  - keep_columns: [Column2]\n",
    )
    put_file(workspace, "tbl/parts/a.csv", b"1,\n2,y\n")
    table = read_table(register(workspace, owner, "tbl", type="mltable"))
    assert rows_of(table.frame) == [[""], ["y"]]


def test_mltable_parquet_and_json_lines_readers(workspace, owner):
    put_file(workspace, "pq/MLTable", b"paths:\n  - file: ./t.parquet\ntransformations:\n  - read_parquet\n")
    put_file(workspace, "pq/t.parquet", parquet_bytes(pd.DataFrame({"a": [1, 2]})))
    assert rows_of(read_table(register(workspace, owner, "pq", type="mltable", name="pq")).frame) == [["1"], ["2"]]
    put_file(
        workspace,
        "js/MLTable",
        b"paths:\n  - file: ./t.jsonl\ntransformations:\n  - read_json_lines:\n      encoding: utf8\n",
    )
    put_file(workspace, "js/t.jsonl", b'{"a": 1}\n')
    assert rows_of(read_table(register(workspace, owner, "js", type="mltable", name="js")).frame) == [["1"]]


def test_mltable_reads_a_path_in_another_datastore_of_the_workspace(workspace, owner):
    put_file(workspace, "shared/data.csv", CSV)
    put_file(
        workspace, "tbl/MLTable", b"paths:\n  - file: azureml://datastores/workspaceblobstore/paths/shared/data.csv\n"
    )
    assert len(read_table(register(workspace, owner, "tbl", type="mltable")).frame) == 4


@pytest.mark.parametrize(
    ("text", "field"),
    [
        pytest.param("paths:\n  - file: /etc/passwd\n", "MLTable: paths.0.file", id="absolute"),
        pytest.param("paths:\n  - file: ../../secret.csv\n", "MLTable: paths.0.file", id="dotdot"),
        pytest.param("paths:\n  - file: https://example.com/x.csv\n", "MLTable: paths.0.file", id="url"),
        pytest.param("paths:\n  - folder: C:/data\n", "MLTable: paths.0.folder", id="drive"),
        pytest.param("transformations: []\n", "MLTable: paths", id="no-paths"),
        pytest.param("paths:\n  - file: a\n    folder: b\n", "MLTable: paths.0", id="two-kinds"),
        pytest.param(
            "paths:\n  - file: a\ntransformations:\n  - take: -1\n", "MLTable: transformations.0.take", id="take"
        ),
        pytest.param(
            "paths:\n  - file: a\ntransformations:\n  - take: 1\n  - read_parquet\n",
            "MLTable: transformations.1",
            id="reader-late",
        ),
    ],
)
def test_a_bad_mltable_names_the_field(text, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        parse_mltable(text)
    assert field in exc.value.message_dict
    assert "(line " in exc.value.message_dict[field][0]


def test_profile_per_column():
    frame = pd.DataFrame({"n": [1, 2, 2, None], "s": ["a", "b", None, "b"], "f": [True, False, True, True]})
    columns = {c.name: c for c in profile(frame)}
    n = columns["n"]
    assert (n.type, n.count, n.missing, n.distinct, n.min, n.max, n.mean) == (
        "Decimal",
        3,
        1,
        2,
        "1.0",
        "2.0",
        "1.66667",
    )
    s = columns["s"]
    assert (s.type, s.count, s.missing, s.distinct, s.min, s.mean) == ("String", 3, 1, 2, None, None)
    assert [c.missing_percent for c in columns.values()] == ["25.0%", "25.0%", "0.0%"]
    assert (columns["f"].type, columns["f"].mean) == ("Boolean", "0.75")
