"""The `MLTable` file of an mltable data asset: which files make the table, and how to read them.

    paths:
      - file: ./train.csv          # or folder: ./parts/   or pattern: ./parts/*.csv
    transformations:
      - read_delimited: {delimiter: ',', header: all_files_same_headers, encoding: utf8, empty_as_string: false}
      - take: 1000
      - drop_columns: [id]

The `mltable` package (azureml-dataprep's native reader) resolves paths anywhere the server can
reach, absolute local paths and URLs included, so the studio reads MLTable itself with pandas and
pyarrow: paths are relative to the MLTable's folder (or `azureml://datastores/...` of the same
workspace) and checked like any other path (SECURITY.md rules).
"""

from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError

from assets.yaml_errors import compose, field_error
from workspaces.paths import clean_path, parse_datastore_uri

MLTABLE_FILE = "MLTable"
MAX_MLTABLE_BYTES = 64 * 1024
PATH_KINDS = ("file", "folder", "pattern")
READERS = ("read_delimited", "read_parquet", "read_json_lines", "read_delta_lake")
SUPPORTED_READERS = ("read_delimited", "read_parquet", "read_json_lines")
# Transformations the preview applies; others are accepted (Azure ML knows them) and reported.
SUPPORTED_STEPS = ("take", "skip", "drop_columns", "keep_columns")
HEADERS = ("all_files_same_headers", "from_first_file", "all_files_different_headers", "no_header")
ENCODINGS = {
    "utf8": "utf-8",
    "utf8bom": "utf-8-sig",
    "iso88591": "iso-8859-1",
    "latin1": "latin-1",
    "ascii": "ascii",
    "utf16": "utf-16",
    "utf32": "utf-32",
    "windows1252": "cp1252",
}


@dataclass(frozen=True)
class TablePath:
    kind: str  # file, folder or pattern
    path: str  # relative to the MLTable's folder, cleaned; or the path inside `datastore`
    datastore: str = ""  # set for azureml://datastores/<name>/paths/<path>


@dataclass
class MLTableSpec:
    paths: list[TablePath]
    reader: str = "read_delimited"
    reader_options: dict = field(default_factory=dict)
    steps: list[tuple[str, object]] = field(default_factory=list)  # (name, argument) after reading


def _fail(node, path, message):
    raise field_error(node, path, message, field=f"{MLTABLE_FILE}: " + ".".join(path))


def parse_mltable(text: str) -> MLTableSpec:
    """Validate an MLTable file; a problem is a ValidationError naming the field and line."""
    if len(text.encode()) > MAX_MLTABLE_BYTES:
        raise ValidationError({MLTABLE_FILE: f"The MLTable file is larger than {MAX_MLTABLE_BYTES // 1024} KB."})
    node = compose(text, field=MLTABLE_FILE)
    raw = yaml.safe_load(text)
    paths = raw.get("paths")
    if not isinstance(paths, list) or not paths:
        _fail(node, ["paths"], "Give a list of paths (file, folder or pattern)")
    table_paths = []
    for index, entry in enumerate(paths):
        where = ["paths", str(index)]
        kinds = [k for k in PATH_KINDS if isinstance(entry, dict) and k in entry]
        if len(kinds) != 1:
            _fail(node, where, "Each path needs exactly one of file, folder or pattern")
        kind = kinds[0]
        value = str(entry[kind] or "")
        try:
            if value.startswith("azureml://"):
                datastore, inside = parse_datastore_uri(value, field=kind)
                table_paths.append(TablePath(kind, inside, datastore))
            elif "://" in value:
                raise ValidationError({kind: "Use a path relative to the MLTable file or azureml://datastores/..."})
            else:
                table_paths.append(TablePath(kind, clean_path(value, field=kind)))
        except ValidationError as exc:
            _fail(node, [*where, kind], exc.messages[0])
    spec = MLTableSpec(paths=table_paths)
    steps = raw.get("transformations") or []
    if not isinstance(steps, list):
        _fail(node, ["transformations"], "Give a list of transformations")
    for index, step in enumerate(steps):
        where = ["transformations", str(index)]
        name, argument = _step(node, where, step)
        if name in READERS:
            if index != 0:
                _fail(node, where, f"{name} must be the first transformation")
            spec.reader = name
            spec.reader_options = _reader_options(node, [*where, name], name, argument or {})
        else:
            spec.steps.append((name, _step_argument(node, [*where, name], name, argument)))
    return spec


def _step(node, where, step) -> tuple[str, object]:
    if isinstance(step, str):
        return step, None
    if isinstance(step, dict) and len(step) == 1:
        return next(iter(step.items()))
    _fail(node, where, "Each transformation is one name with its options, e.g. - take: 10")


def _reader_options(node, where, name, options) -> dict:
    if not isinstance(options, dict):
        _fail(node, where, f"{name} takes a mapping of options")
    if name == "read_delimited":
        header = options.get("header", "all_files_same_headers")
        if header not in HEADERS:
            _fail(node, [*where, "header"], f"header must be one of {', '.join(HEADERS)}")
        encoding = options.get("encoding", "utf8")
        if encoding not in ENCODINGS:
            _fail(node, [*where, "encoding"], f"encoding must be one of {', '.join(ENCODINGS)}")
        delimiter = str(options.get("delimiter", ","))
        if len(delimiter) != 1:
            _fail(node, [*where, "delimiter"], "delimiter must be one character")
    return options


def _columns(node, where, argument) -> list[str]:
    columns = [argument] if isinstance(argument, str) else argument
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        _fail(node, where, "Give a column name or a list of column names")
    return columns


def _step_argument(node, where, name, argument):
    if name in ("take", "skip"):
        if isinstance(argument, bool) or not isinstance(argument, int) or argument < 0:
            _fail(node, where, f"{name} takes a whole number of rows")
        return argument
    if name in ("drop_columns", "keep_columns"):
        return _columns(node, where, argument)
    return argument
