import json
import re

import pytest
import yaml

from cli import output

WORKSPACES = [
    {"name": "my-workspace", "display_name": "", "role": "owner", "tags": ["a"], "created_at": "2026-01-01"},
    {
        "name": "fraud-detection",
        "display_name": "Fraud detection",
        "role": None,
        "tags": [],
        "created_at": "2026-02-01",
    },
]
COLUMNS = [("Name", "name"), ("DisplayName", "display_name"), ("Role", "role")]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_json_is_indented_by_two_keeps_key_order_and_unicode():
    text = output.render({"name": "ws", "display_name": "Ünïcode", "count": 2}, "json")
    assert text == '{\n  "name": "ws",\n  "display_name": "Ünïcode",\n  "count": 2\n}\n'


def test_jsonc_colours_keys_and_values_and_is_json_without_them():
    value = {"name": "ws", "size": 12, "is_default": True, "root": None, "note": 'say "hi": 3'}
    text = output.render(value, "jsonc")
    assert '\x1b[94m"name"\x1b[0m: \x1b[32m"ws"\x1b[0m' in text
    assert "\x1b[33m12\x1b[0m" in text
    assert "\x1b[33mtrue\x1b[0m" in text
    assert "\x1b[33mnull\x1b[0m" in text
    # A key-like pattern inside a string value is not mistaken for a key.
    assert '\x1b[32m"say \\"hi\\": 3"\x1b[0m' in text
    assert ANSI.sub("", text) == output.render(value, "json")


def test_table_has_header_rule_and_aligned_columns_in_the_given_order():
    text = output.render(WORKSPACES, "table", COLUMNS)
    assert text.splitlines() == [
        "Name             DisplayName      Role",
        "---------------  ---------------  -----",
        "my-workspace                      owner",
        "fraud-detection  Fraud detection",
    ]


def test_table_of_one_object_is_one_row():
    text = output.render(WORKSPACES[0], "table", COLUMNS)
    assert text.splitlines() == [
        "Name          DisplayName  Role",
        "------------  -----------  -----",
        "my-workspace               owner",
    ]


def test_table_without_columns_shows_every_scalar_field_and_skips_nested_ones():
    header = output.render(WORKSPACES, "table").splitlines()[0]
    assert header.split() == ["name", "display_name", "role", "created_at"]


def test_table_cells_show_booleans_and_flatten_line_breaks():
    text = output.render([{"name": "a\nb\tc", "is_default": False}], "table", [("Name", "name"), ("D", "is_default")])
    assert text.splitlines()[2] == "a b c  False"


def test_table_of_nothing_is_empty():
    assert output.render([], "table", COLUMNS) == ""


def test_table_of_strings_has_a_result_column():
    assert output.render(["raw/a.csv", "raw/b.csv"], "table").splitlines() == [
        "Result",
        "---------",
        "raw/a.csv",
        "raw/b.csv",
    ]


def test_tsv_has_no_header_and_one_line_per_object_of_its_scalar_fields():
    text = output.render(WORKSPACES, "tsv", COLUMNS)
    assert text == "my-workspace\t\towner\t2026-01-01\nfraud-detection\tFraud detection\t\t2026-02-01\n"


def test_tsv_keeps_a_value_with_tabs_on_one_field():
    assert output.render({"name": "a\tb", "n": 1}, "tsv") == "a b\t1\n"


def test_tsv_of_strings_is_one_per_line():
    assert output.render(["raw/a.csv", "raw/b.csv"], "tsv") == "raw/a.csv\nraw/b.csv\n"


def test_yaml_round_trips_and_keeps_key_order():
    value = {"name": "ws", "uploaded": ["raw/ä.csv"], "files": 1}
    text = output.render(value, "yaml")
    assert yaml.safe_load(text) == value
    assert text.index("name") < text.index("uploaded") < text.index("files")
    assert "ä" in text


def test_none_prints_nothing():
    assert output.render(WORKSPACES, "none", COLUMNS) == ""


@pytest.mark.parametrize("fmt", output.FORMATS)
def test_every_format_renders_an_empty_list(fmt):
    text = output.render([], fmt)
    if fmt in ("json", "jsonc"):
        assert json.loads(ANSI.sub("", text)) == []
    elif fmt == "yaml":
        assert yaml.safe_load(text) == []
    else:
        assert text == ""


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="xml"):
        output.render({}, "xml")
