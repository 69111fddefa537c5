"""The first rows of a data asset as a table (Explore) and per-column statistics (Profile).

A uri_file is read by its suffix (CSV, TSV, Parquet, JSON Lines); an mltable through its MLTable
file (assets/data/mltable_file.py). Only the first rows are read, and at most READ_BYTES_PER_FILE
of any one file, so a huge file costs no more than a small one.
"""

import fnmatch
import io
import math
from dataclasses import dataclass, field

import pandas as pd
import yaml
from django.core.exceptions import ValidationError

from assets.models import DataAsset, DataType
from workspaces.paths import join
from workspaces.selectors import datastore_by_name
from workspaces.storage import datastore_storage, is_folder, walk_files

from .mltable_file import ENCODINGS, MLTABLE_FILE, SUPPORTED_READERS, SUPPORTED_STEPS, MLTableSpec, parse_mltable

EXPLORE_ROWS = 100
PROFILE_ROWS = 10_000
READ_BYTES_PER_FILE = 64 * 1024 * 1024
MAX_TABLE_FILES = 1000
DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": ","}
PARQUET = {".parquet", ".pq"}
JSON_LINES = {".jsonl", ".ndjson", ".json"}


class TableUnavailable(Exception):
    """The asset cannot be shown as a table; the message says why, for the page."""


@dataclass
class Table:
    frame: pd.DataFrame
    files: int = 1
    notes: list[str] = field(default_factory=list)


class _Head(io.RawIOBase):
    """At most `limit` bytes of a file, so a file without line breaks cannot exhaust memory."""

    def __init__(self, handle, limit: int):
        self.handle, self.left = handle, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            return 0
        data = self.handle.read(min(len(buffer), self.left))
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


def _read_delimited(
    storage,
    path: str,
    rows: int,
    *,
    sep=",",
    header="all_files_same_headers",
    encoding="utf8",
    empty_as_string=False,
    names=None,
    as_written=False,
) -> pd.DataFrame:
    """`as_written`: every cell as the text the file holds (`3.0` stays `3.0`), for Explore."""
    options = {"sep": sep, "nrows": rows, "encoding": ENCODINGS.get(encoding, "utf-8"), "engine": "c"}
    if as_written:
        options["dtype"] = str
    if empty_as_string:
        options.update(keep_default_na=False, na_filter=False)
    if header == "no_header" or names is not None:
        options.update(header=None, names=names)
    with storage.open(path, "rb") as handle:
        try:
            frame = pd.read_csv(io.BufferedReader(_Head(handle, READ_BYTES_PER_FILE)), **options)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise TableUnavailable(f"{path.rsplit('/', 1)[-1]} cannot be read as a delimited file: {exc}")
    if header == "no_header" and names is None:
        frame.columns = [f"Column{i + 1}" for i in range(len(frame.columns))]
    return frame


def _nullable_integers() -> dict:
    """Arrow integer types -> pandas' nullable integers, so an integer column with nulls stays integer
    (numpy would make it float and show 3 as 3.0)."""
    import pyarrow as pa

    types = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
    return {t: pd.api.types.pandas_dtype(str(t).replace("u", "U").replace("int", "Int")) for t in types}


_NULLABLE_INTEGERS = _nullable_integers()


def _read_parquet(storage, path: str, rows: int) -> pd.DataFrame:
    import pyarrow.parquet as pq

    with storage.open(path, "rb") as handle:
        try:
            parquet = pq.ParquetFile(handle)
            for batch in parquet.iter_batches(batch_size=max(rows, 1)):
                return batch.to_pandas(types_mapper=_NULLABLE_INTEGERS.get).head(rows)
            return parquet.schema_arrow.empty_table().to_pandas(types_mapper=_NULLABLE_INTEGERS.get)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for damaged files
            raise TableUnavailable(f"{path.rsplit('/', 1)[-1]} cannot be read as Parquet: {exc}")


def _read_json_lines(storage, path: str, rows: int, *, encoding="utf8") -> pd.DataFrame:
    with storage.open(path, "rb") as handle:
        text = io.TextIOWrapper(io.BufferedReader(_Head(handle, READ_BYTES_PER_FILE)), ENCODINGS.get(encoding, "utf-8"))
        lines = []
        for line in text:
            if line.strip():
                lines.append(line)
            if len(lines) >= rows:
                break
    if not lines:
        return pd.DataFrame()
    try:
        return pd.read_json(io.StringIO("".join(lines)), lines=True)
    except ValueError as exc:
        raise TableUnavailable(f"{path.rsplit('/', 1)[-1]} cannot be read as JSON Lines: {exc}")


def _read_file(storage, path: str, rows: int, *, as_written: bool) -> pd.DataFrame:
    suffix = _suffix(path)
    if suffix in DELIMITED:
        return _read_delimited(storage, path, rows, sep=DELIMITED[suffix], as_written=as_written)
    if suffix in PARQUET:
        return _read_parquet(storage, path, rows)
    if suffix in JSON_LINES:
        return _read_json_lines(storage, path, rows)
    raise TableUnavailable("Explore and Profile show CSV, TSV, Parquet and JSON Lines files, and MLTable assets.")


# MLTable ---------------------------------------------------------------------------------------


def _table_files(asset: DataAsset, spec: MLTableSpec) -> list[tuple[object, str]]:
    """(storage, path) of every file the MLTable's paths name, in order."""
    found = []
    for table_path in spec.paths:
        if table_path.datastore:
            datastore = datastore_by_name(workspace=asset.workspace, name=table_path.datastore)
            if datastore is None:
                raise TableUnavailable(f"The MLTable names a datastore that does not exist: {table_path.datastore}.")
            storage, path = datastore_storage(datastore), table_path.path
        else:
            storage, path = datastore_storage(asset.datastore), join(asset.path, table_path.path)
        if table_path.kind == "file":
            found.append((storage, path))
        elif table_path.kind == "folder":
            found += [(storage, p) for p in sorted(walk_files(storage, path))]
        else:
            base = path.split("*", 1)[0].rsplit("/", 1)[0] if "*" in path else path.rsplit("/", 1)[0]
            found += [(storage, p) for p in sorted(walk_files(storage, base)) if fnmatch.fnmatch(p, path)]
        if len(found) > MAX_TABLE_FILES:
            raise TableUnavailable(f"The MLTable names more than {MAX_TABLE_FILES} files; the preview stops there.")
    return found


def _read_mltable(asset: DataAsset, rows: int, *, as_written: bool) -> Table:
    storage = datastore_storage(asset.datastore)
    try:
        with storage.open(join(asset.path, MLTABLE_FILE), "rb") as handle:
            text = handle.read(256 * 1024).decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise TableUnavailable(f"The folder has no {MLTABLE_FILE} file.")
    try:
        spec = parse_mltable(text)
    except ValidationError as exc:
        raise TableUnavailable("; ".join(exc.messages))
    except yaml.YAMLError as exc:
        raise TableUnavailable(f"The MLTable file cannot be parsed: {exc}")
    notes = []
    if spec.reader not in SUPPORTED_READERS:
        raise TableUnavailable(f"{spec.reader} is not supported by this studio's preview.")
    files = _table_files(asset, spec)
    if not files:
        raise TableUnavailable("The MLTable's paths match no files.")
    skipped = sum(arg for name, arg in spec.steps if name == "skip")
    budget = rows + skipped
    options = spec.reader_options
    frames, names = [], None
    for index, (file_storage, path) in enumerate(files):
        if budget <= 0:
            break
        if spec.reader == "read_delimited":
            frame = _read_delimited(
                file_storage,
                path,
                budget,
                sep=str(options.get("delimiter", ",")),
                header=options.get("header", "all_files_same_headers"),
                encoding=options.get("encoding", "utf8"),
                empty_as_string=bool(options.get("empty_as_string", False)),
                names=names,
                as_written=as_written,
            )
            if options.get("header") == "from_first_file" and index == 0:
                names = list(frame.columns)
        elif spec.reader == "read_parquet":
            frame = _read_parquet(file_storage, path, budget)
        else:
            frame = _read_json_lines(file_storage, path, budget, encoding=options.get("encoding", "utf8"))
        if options.get("include_path_column"):
            frame.insert(0, "Path", path)
        frames.append(frame)
        budget -= len(frame)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for name, argument in spec.steps:
        if name == "take":
            frame = frame.head(argument)
        elif name == "skip":
            frame = frame.iloc[argument:]
        elif name == "drop_columns":
            frame = frame.drop(columns=[c for c in argument if c in frame.columns])
        elif name == "keep_columns":
            frame = frame[[c for c in argument if c in frame.columns]]
        if name not in SUPPORTED_STEPS:
            notes.append(f"The transformation {name} is not applied in this preview.")
    return Table(frame=frame.head(rows).reset_index(drop=True), files=len(files), notes=notes)


def read_table(asset: DataAsset, *, rows: int = EXPLORE_ROWS, as_written: bool = False) -> Table:
    """The first `rows` rows of the asset; TableUnavailable says why there are none. `as_written`:
    delimited files' cells as the text they hold (Explore), not parsed into numbers (Profile)."""
    if asset.type == DataType.MLTABLE:
        return _read_mltable(asset, rows, as_written=as_written)
    if asset.type == DataType.URI_FOLDER:
        raise TableUnavailable(
            "A uri_folder is a set of files, not one table: open a file from the Files tab, "
            "or describe the table with an MLTable file (type mltable)."
        )
    storage = datastore_storage(asset.datastore)
    if is_folder(storage, asset.path) or not storage.exists(asset.path):
        raise TableUnavailable(f"Nothing at {asset.path} in {asset.datastore.name}.")
    return Table(frame=_read_file(storage, asset.path, rows, as_written=as_written))


# Display ---------------------------------------------------------------------------------------


def cell_text(value) -> str | None:
    """A cell as text; None for a missing value. A float keeps a decimal point (3.0, not 3), so a
    float column stays recognisable."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        text = f"{value:.6g}"
        return text if any(c in text for c in ".eni") else text + ".0"
    return str(value)


def rows_of(frame: pd.DataFrame) -> list[list[str | None]]:
    return [[cell_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]


@dataclass
class ColumnProfile:
    name: str
    type: str
    count: int
    missing: int
    distinct: int
    missing_percent: str = "0.0%"
    min: str | None = None
    max: str | None = None
    mean: str | None = None


def _type_name(series: pd.Series) -> str:
    kind = series.dtype.kind
    return {"i": "Integer", "u": "Integer", "f": "Decimal", "b": "Boolean", "M": "Date", "m": "Duration"}.get(
        kind, "String"
    )


def profile(frame: pd.DataFrame) -> list[ColumnProfile]:
    """Per column: type, count of values, missing, distinct, and min/max/mean where they mean something."""
    columns = []
    for name in frame.columns:
        series = frame[name]
        values = series.dropna()
        column = ColumnProfile(
            name=str(name),
            type=_type_name(series),
            count=int(values.size),
            missing=int(series.size - values.size),
            distinct=int(values.astype(str).nunique()),
        )
        if series.size:
            column.missing_percent = f"{100 * column.missing / series.size:.1f}%"
        if values.size and series.dtype.kind in "iufM":
            column.min, column.max = cell_text(values.min()), cell_text(values.max())
            if series.dtype.kind in "iuf":
                column.mean = cell_text(float(values.mean()))
        elif values.size and series.dtype.kind == "b":
            column.mean = cell_text(float(values.mean()))
        columns.append(column)
    return columns
