"""Render a command's result as `az` does: json, jsonc, table, tsv, yaml or none.

Every renderer is a pure function of the value (a dict, a list of dicts, a list of scalars or a
scalar) and returns the whole text, ending in a newline unless it is empty.
"""

import json
import re

import yaml

FORMATS = ("json", "jsonc", "table", "tsv", "yaml", "none")

# A table column: (header, key in the result object).
Column = tuple[str, str]

_JSON_TOKEN = re.compile(
    r'(?P<string>"(?:[^"\\]|\\.)*")(?P<colon>\s*:)?'
    r"|(?P<literal>\b(?:true|false|null)\b)"
    r"|(?P<number>-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b)"
)
_LINE_BREAKS = re.compile(r"[\t\r\n]+")
_KEY, _STRING, _LITERAL, _RESET = "\x1b[94m", "\x1b[32m", "\x1b[33m", "\x1b[0m"


def render(value, fmt: str, columns: list[Column] | None = None) -> str:
    if fmt == "none":
        return ""
    if fmt == "json":
        return to_json(value)
    if fmt == "jsonc":
        return to_jsonc(value)
    if fmt == "table":
        return to_table(value, columns)
    if fmt == "tsv":
        return to_tsv(value)
    if fmt == "yaml":
        return to_yaml(value)
    raise ValueError(f"Unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}.")


def to_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def to_jsonc(value) -> str:
    """Indented JSON with ANSI colours: keys blue, strings green, numbers, booleans and null yellow."""

    def paint(match: re.Match) -> str:
        if match["string"]:
            colour = _KEY if match["colon"] else _STRING
            return f"{colour}{match['string']}{_RESET}{match['colon'] or ''}"
        return f"{_LITERAL}{match[0]}{_RESET}"

    return _JSON_TOKEN.sub(paint, to_json(value))


def to_yaml(value) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False)


def cell(value) -> str:
    """One value as table or tsv text: None is empty, a list is comma separated, no line breaks."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return _LINE_BREAKS.sub(" ", str(value))


def _rows(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _default_columns(rows: list) -> list[Column]:
    """Without a column choice: every scalar field of the first object, in its order."""
    for row in rows:
        if isinstance(row, dict):
            return [(key, key) for key, item in row.items() if not isinstance(item, dict | list)]
    return [("Result", "")]


def to_table(value, columns: list[Column] | None = None) -> str:
    """Aligned columns under a header and a dashed rule, as `az ... -o table`."""
    rows = _rows(value)
    if not rows:
        return ""
    columns = columns or _default_columns(rows)
    headers = [header for header, _ in columns]
    body = [
        [cell(row.get(key)) if isinstance(row, dict) else cell(row) for _, key in columns]  # scalars: one column
        for row in rows
    ]
    widths = [max(len(text) for text in column) for column in zip(headers, *body, strict=True)]
    lines = [headers, ["-" * width for width in widths], *body]
    return "".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() + "\n" for line in lines
    )


def to_tsv(value) -> str:
    """Tab-separated values, one line per object, no header: every scalar field in the object's order."""
    lines = []
    for row in _rows(value):
        if isinstance(row, dict):
            lines.append("\t".join(cell(item) for item in row.values() if not isinstance(item, dict | list)))
        else:
            lines.append(cell(row))
    return "".join(line + "\n" for line in lines)
