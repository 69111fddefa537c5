"""What the studio reads from an MLflow model folder: the `MLmodel` file (YAML) at its root, with its
flavors, its signature (inputs, outputs and params, each a JSON string inside the YAML) and the input
example the file names (`saved_input_example_info`).

Only YAML and JSON are read; mlflow itself is never imported and the model is never loaded.

    flavors:
      python_function: {loader_module: mlflow.sklearn, python_version: 3.11.7, ...}
      sklearn: {sklearn_version: 1.5.1, ...}
    signature:
      inputs: '[{"type": "double", "name": "sepal length (cm)", "required": true}, ...]'
      outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
      params: null
    saved_input_example_info: {artifact_path: input_example.json, type: dataframe, pandas_orient: split}
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import yaml
from django.core.exceptions import ValidationError

from assets.yaml_errors import compose
from workspaces.paths import clean_path, join

MLMODEL = "MLmodel"
MAX_MLMODEL_BYTES = 1024 * 1024
MAX_EXAMPLE_BYTES = 1024 * 1024
MAX_EXAMPLE_ROWS = 50
MAX_EXAMPLE_COLUMNS = 100
MAX_CELL_CHARS = 500

# read(path relative to the model folder) -> the file's first `limit` bytes + 1, or None if absent.
Reader = Callable[[str, int], bytes | None]


@dataclass(frozen=True)
class MlflowModel:
    flavors: dict
    signature: dict
    input_example: dict | None


def _fail(problem: str, field: str) -> ValidationError:
    return ValidationError({field: problem})


def _finite(value):
    """JSON that PostgreSQL's jsonb accepts: NaN and infinities become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _json_list(raw, what: str, field: str) -> list:
    if raw in (None, ""):
        return []
    if isinstance(raw, list):
        return raw
    try:
        value = json.loads(raw)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _fail(f"The MLmodel file's signature {what} is not valid JSON ({exc}).", field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(f"The MLmodel file's signature {what} must be a JSON list.", field)
    return value


def read_mlmodel(read: Reader, *, model_type_field: str = "path") -> MlflowModel:
    """Parse the MLmodel file and its input example; ValidationError naming `model_type_field` when the
    file is missing, too large or malformed."""
    field = model_type_field
    content = read(MLMODEL, MAX_MLMODEL_BYTES)
    if content is None:
        raise _fail(
            "An mlflow_model needs an MLmodel file at the root of its folder, and there is none. "
            "Save the model with mlflow (e.g. mlflow.sklearn.save_model) or register it as custom_model.",
            field,
        )
    if len(content) > MAX_MLMODEL_BYTES:
        raise _fail(f"The MLmodel file is larger than {MAX_MLMODEL_BYTES // 1024} KB.", field)
    try:
        text = content.decode("utf-8")
        compose(text, field=field)  # no alias bombs, no runaway nesting
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise _fail(f"The MLmodel file is not UTF-8 text: {exc}", field)
    except ValidationError as exc:
        raise _fail(f"The MLmodel file is not usable YAML: {exc.message_dict[field][0]}", field)
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict) or not data["flavors"]:
        raise _fail("The MLmodel file names no flavors (expected e.g. flavors: {python_function: ...}).", field)
    signature = data.get("signature") or {}
    if not isinstance(signature, dict):
        raise _fail("The MLmodel file's signature must be a mapping of inputs, outputs and params.", field)
    parsed_signature = {
        part: _json_list(signature.get(part), part, field)
        for part in ("inputs", "outputs", "params")
        if signature.get(part) not in (None, "")
    }
    example = None
    info = data.get("saved_input_example_info")
    if isinstance(info, dict) and info.get("artifact_path"):
        example = _read_example(read, info, field)
    return MlflowModel(
        flavors=_finite(data["flavors"]), signature=_finite(parsed_signature), input_example=_finite(example)
    )


def _read_example(read: Reader, info: dict, field: str) -> dict | None:
    try:
        path = clean_path(str(info["artifact_path"]), field=field, allow_root=False)
    except ValidationError:
        raise _fail(
            f"The MLmodel file's input example {str(info['artifact_path'])[:100]!r} is not a path inside the model folder.",
            field,
        )
    content = read(path, MAX_EXAMPLE_BYTES)
    if content is None:
        return None  # MLflow names it, the folder lacks it: show no example rather than refuse the model
    example_type = str(info.get("type") or "")
    if len(content) > MAX_EXAMPLE_BYTES:
        return {"type": example_type, "path": path, "too_large": True}
    try:
        value = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {"type": example_type, "path": path, "unreadable": True}
    table = example_table(value, orient=str(info.get("pandas_orient") or ""))
    if table is None:
        text = json.dumps(value, indent=2)
        return {"type": example_type, "path": path, "json": text[:20_000], "truncated": len(text) > 20_000}
    columns, rows, truncated = table
    return {"type": example_type, "path": path, "columns": columns, "data": rows, "truncated": truncated}


def _cell(value):
    if isinstance(value, dict | list):
        value = json.dumps(value)
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[:MAX_CELL_CHARS] + "…"
    return value


def example_table(value, *, orient: str = "") -> tuple[list[str], list[list], bool] | None:
    """(columns, rows, truncated) for an input example in pandas split or records form, or a list of
    rows / a dict of columns as MLflow writes ndarray examples; None for anything else."""
    if isinstance(value, dict) and "dataframe_split" in value:
        value = value["dataframe_split"]
    elif isinstance(value, dict) and "dataframe_records" in value:
        value = value["dataframe_records"]
    elif isinstance(value, dict) and set(value) == {"inputs"}:
        value = value["inputs"]
    if isinstance(value, dict) and "data" in value and isinstance(value["data"], list):  # split
        data = value["data"]
        columns = [str(c) for c in value.get("columns") or []]
        if not columns:
            width = max((len(r) for r in data if isinstance(r, list)), default=1)
            columns = [str(i) for i in range(width)]
        rows = [r if isinstance(r, list) else [r] for r in data]
    elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value):  # records
        columns = []
        for record in value[:MAX_EXAMPLE_ROWS]:
            columns += [str(k) for k in record if str(k) not in columns]
        rows = [[record.get(c) for c in columns] for record in value]
    elif isinstance(value, list) and value and all(isinstance(r, list) for r in value):  # 2-d array
        width = max(len(r) for r in value)
        columns = [str(i) for i in range(width)]
        rows = value
    elif isinstance(value, list) and value and all(not isinstance(r, dict | list) for r in value):  # 1-d
        columns, rows = ["0"], [[r] for r in value]
    elif isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):  # columns
        columns = [str(k) for k in value]
        length = max(len(v) for v in value.values())
        rows = [[v[i] if i < len(v) else None for v in value.values()] for i in range(length)]
    else:
        return None
    truncated = len(rows) > MAX_EXAMPLE_ROWS or len(columns) > MAX_EXAMPLE_COLUMNS
    columns = columns[:MAX_EXAMPLE_COLUMNS]
    rows = [[_cell(c) for c in row[:MAX_EXAMPLE_COLUMNS]] for row in rows[:MAX_EXAMPLE_ROWS]]
    return columns, rows, truncated


# Display ----------------------------------------------------------------------------------------


def _type_text(spec: dict) -> str:
    kind = str(spec.get("type", ""))
    if kind == "tensor":
        tensor = spec.get("tensor-spec") or {}
        return f"tensor ({tensor.get('dtype', '?')})"
    if kind == "array":
        items = spec.get("items") or {}
        return f"array<{_type_text(items) if isinstance(items, dict) else items}>"
    if kind == "map":
        values = spec.get("values") or {}
        return f"map<string, {_type_text(values) if isinstance(values, dict) else values}>"
    if kind == "object":
        props = spec.get("properties") or {}
        inner = ", ".join(f"{k}: {_type_text(v) if isinstance(v, dict) else v}" for k, v in props.items())
        return f"object{{{inner}}}"
    return kind


def signature_rows(specs: list) -> list[dict]:
    """One row per column, tensor or param, for a table: name, type, shape, required, default."""
    rows = []
    for index, spec in enumerate(specs or []):
        if not isinstance(spec, dict):
            rows.append({"name": str(index), "type": str(spec), "shape": "", "required": None, "default": None})
            continue
        shape = (spec.get("tensor-spec") or {}).get("shape") if spec.get("type") == "tensor" else spec.get("shape")
        rows.append(
            {
                "name": str(spec.get("name") or ("—" if spec.get("type") == "tensor" else index)),
                "type": _type_text(spec),
                "shape": f"({', '.join(str(d) for d in shape)})" if isinstance(shape, list) else "",
                "required": spec.get("required", None if spec.get("type") == "tensor" else True),
                "default": json.dumps(spec["default"]) if "default" in spec else None,
            }
        )
    return rows


def signature_table(specs: list) -> dict:
    """{rows, has_shape}: a signature part ready for a table (the Shape column only for tensors)."""
    rows = signature_rows(specs)
    return {"rows": rows, "has_shape": any(r["shape"] for r in rows)}


def flavor_rows(flavors: dict) -> list[dict]:
    """[{name, properties: [(key, text)]}] with the flavor's scalar settings (python_version, ...)."""
    rows = []
    ordered = sorted((flavors or {}).items(), key=lambda item: (item[0] != "python_function", item[0]))
    for name, settings in ordered:
        props = []
        if isinstance(settings, dict):
            for key, value in sorted(settings.items()):
                if value is None or value == {} or value == []:
                    continue
                props.append((str(key), value if isinstance(value, str | int | float | bool) else json.dumps(value)))
        rows.append({"name": str(name), "properties": props})
    return rows


def model_file_reader(read_bytes: Callable[[str, int], bytes | None], root: str) -> Reader:
    """A Reader for files below `root` (a folder inside some storage)."""
    return lambda relative, limit: read_bytes(join(root, relative), limit)
