"""Azure ML command component YAML (`az ml component create -f component.yml`), validated with the
official `azure.ai.ml.load_component` (offline); every error names the field and its YAML line.

    $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
    type: command
    name: train_model
    version: 1                          # optional: the next number
    display_name: Train a model
    inputs:
      training_data: {type: uri_folder}
      max_epochs: {type: integer, default: 10, min: 1, max: 100}
      learning_rate: {type: number, default: 0.01, optional: true}
    outputs:
      model_output: {type: mlflow_model}
    code: ./src                          # a local folder, uploaded with the YAML
    environment: azureml:sklearn-env:1   # or name@latest, a curated one, or inline image + conda_file
    command: >-
      python train.py --data ${{inputs.training_data}} $[[--lr ${{inputs.learning_rate}}]]
      --out ${{outputs.model_output}}
"""

import ast
import copy
import io
import json
import re
import tempfile
from dataclasses import dataclass

import yaml
from django.core.exceptions import ValidationError

from assets.yaml_errors import compose, compose_spec, field_error, line_of, loader_error, node_at

from .command import BINDING, binding_problems

SCHEMA_URL = "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json"
MAX_CONDA_BYTES = 64 * 1024
_JSON_START = re.compile(r"failed:\s*", re.IGNORECASE)
_NOT_IN_SET = re.compile(r"^Value '(?P<value>.*)' passed is not in set \[(?P<choices>.*)\]$", re.DOTALL)
_PROBE = {"name": "probe", "version": "1", "type": "command", "command": "echo", "environment": "azureml:probe:1"}


@dataclass
class ComponentSpec:
    name: str
    version: str | None
    display_name: str
    description: str
    tags: dict
    data: dict  # the YAML as a dict (inline conda file resolved); `code` is replaced when stored
    code: str | None  # the local folder the YAML names, if any
    environment: str | dict
    node: object  # the composed YAML, for lines

    def line(self, path: list[str]) -> int:
        return line_of(self.node, path)


def is_local_path(path: str) -> bool:
    return "://" not in path and not path.startswith(("azureml:", "git+", "http:", "https:"))


def parse_component_yaml(text: str, *, conda_file: str | None = None, field_name: str = "yaml") -> ComponentSpec:
    """Validate `text` as a command component. `conda_file` is the text of the file an inline
    environment's `conda_file` names (uploaded beside the YAML)."""
    node = compose_spec(text, field=field_name)
    data = yaml.safe_load(text)
    kind = data.get("type", "command")
    if kind != "command":
        raise field_error(
            node, ["type"], f"Unknown component type {kind!r}; the studio registers command components (type: command)"
        )
    code = data.get("code")
    if code is not None:
        if not isinstance(code, str) or not code.strip():
            raise field_error(node, ["code"], "Give the code folder as a path, e.g. code: ./src")
        if not is_local_path(code):
            raise field_error(node, ["code"], "Give a local folder (code: ./src), uploaded with the YAML")
    loader_data = copy.deepcopy(data)
    environment = data.get("environment")
    if isinstance(environment, dict) and isinstance(environment.get("conda_file"), str):
        if conda_file is None:
            raise field_error(
                node,
                ["environment", "conda_file"],
                f"Upload the conda file {environment['conda_file']!r} with the YAML (or reference a registered environment)",
            )
        conda = _conda(conda_file)
        data["environment"]["conda_file"] = conda
        loader_data["environment"]["conda_file"] = conda
    _load_and_check(loader_data, node)
    return ComponentSpec(
        name=str(data.get("name") or ""),
        version=None if data.get("version") is None else str(data["version"]),
        display_name=str(data.get("display_name") or ""),
        description=str(data.get("description") or ""),
        tags={str(k): "" if v is None else str(v) for k, v in (data.get("tags") or {}).items()},
        data=data,
        code=code,
        environment=data.get("environment"),
        node=node,
    )


def _conda(text: str) -> dict:
    if len(text.encode()) > MAX_CONDA_BYTES:
        raise ValidationError({"conda_file": f"The conda file is larger than {MAX_CONDA_BYTES // 1024} KB."})
    compose(text, field="conda_file")  # a syntax error names the line
    conda = yaml.safe_load(text)
    if not isinstance(conda.get("dependencies", []), list):
        raise ValidationError({"conda_file": "dependencies must be a list (line 1)."})
    return conda


def _load_and_check(data: dict, node) -> None:
    """load_component on `data`, then the bindings and the SDK's own checks. A local `code` points
    at an (empty) folder that exists meanwhile: the loader checks everything but the files, which
    arrive separately."""
    from azure.ai.ml import load_component  # slow to import; only needed here

    with tempfile.TemporaryDirectory(prefix="component-") as folder:
        if data.get("code") is not None:
            data = {**data, "code": folder}
        try:
            entity = load_component(source=io.StringIO(yaml.safe_dump(data, sort_keys=False)))
        except Exception as exc:  # noqa: BLE001 - the loader raises marshmallow, azure and plain errors
            raise _loader_error(exc, node, data) from exc
        _check_bindings(data, node)
        _check_rest(entity, node)


# The loader's errors -----------------------------------------------------------------------------


def _loader_error(exc: Exception, node, data: dict) -> ValidationError:
    text = str(exc)
    start = _JSON_START.search(text)
    if start and "{" in text[start.end() :]:
        try:
            parsed, _ = json.JSONDecoder().raw_decode(text[text.index("{", start.end()) :])
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("errors"), list):
            # Component loaders: {"result": "Failed", "errors": [{"path": "inputs.x", "message": ...}]}
            return _located({e.get("path") or "": _explain(str(e.get("message", ""))) for e in parsed["errors"]}, node)
    if "Unsupported component type" in text:
        return field_error(node, ["type"], text.split("\n")[0])
    if not getattr(exc, "messages", None):  # a plain error without a field: find the input or output
        found = _locate_io_problem(data)
        if found:
            path, message = found
            return field_error(node, path, f"{message}", field=".".join(path))
    return loader_error(exc, node)


def _located(errors: dict, node) -> ValidationError:
    out: dict[str, list[str]] = {}
    for base, explained in errors.items():
        for sub, message in explained:
            path = [p for p in f"{base}.{sub}".split(".") if p and p != "_schema"]
            key = ".".join(path) or "yaml"
            line = line_of(node, path) if path else 1
            out.setdefault(key, []).append(f"{message.rstrip('.')} (line {line}).")
    return ValidationError(out)


def _flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list):
        out = []
        for item in value:
            out += _flatten(item, prefix)
        return out
    return [(prefix, str(value))]


def _explain(message: str) -> list[tuple[str, str]]:
    """[(sub-path, message)] for a loader message. A field that may take several shapes (an input is
    a primitive or an asset) reports each shape's complaints as a dict's repr, joined by '; ': keep
    the shapes with the fewest complaints, and merge "not in set" lists."""
    pieces = re.split(r";\s(?=\{)", message.strip())
    alternatives = []
    for piece in pieces:
        try:
            value = ast.literal_eval(piece)
        except (ValueError, SyntaxError):
            return [("", message)]
        if not isinstance(value, dict):
            return [("", message)]
        alternatives.append(_flatten(value))
    fewest = min(len(a) for a in alternatives)
    best = [a for a in alternatives if len(a) == fewest]
    merged: dict[str, list[str]] = {}
    for alternative in best:
        for sub, text in alternative:
            if text not in merged.setdefault(sub, []):
                merged[sub].append(text)
    result = []
    for sub, texts in merged.items():
        sets = [_NOT_IN_SET.match(t) for t in texts]
        if all(sets):
            choices = []
            for match in sets:
                choices += [c.strip().strip("'\"") for c in match["choices"].split(",") if c.strip()]
            result.append((sub, f"{sets[0]['value']!r} is not one of: {', '.join(dict.fromkeys(choices))}"))
        else:
            result.append((sub, "; ".join(texts)))
    return result


def _locate_io_problem(data: dict) -> tuple[list[str], str] | None:
    """([field path], message) for the input or output (and the key in it) that makes the loader fail
    without naming a field, e.g. `default: ten` on an integer input."""
    from azure.ai.ml import load_component

    def fails(kind: str, name: str, spec) -> str | None:
        probe = {**_PROBE, kind: {name: spec}}
        try:
            load_component(source=io.StringIO(yaml.safe_dump(probe)))
        except Exception as exc:  # noqa: BLE001
            return str(exc).split("\n")[0]
        return None

    for kind in ("inputs", "outputs"):
        for name, spec in (data.get(kind) or {}).items():
            problem = fails(kind, name, spec)
            if problem is None:
                continue
            if isinstance(spec, dict):
                for key in spec:
                    if key != "type" and fails(kind, name, {k: v for k, v in spec.items() if k != key}) is None:
                        return [kind, str(name), str(key)], problem
            return [kind, str(name)], problem
    return None


# Checks of our own -------------------------------------------------------------------------------


def _check_bindings(data: dict, node) -> None:
    command = data.get("command")
    if not isinstance(command, str):
        return
    problems = binding_problems(command, inputs=data.get("inputs") or {}, outputs=data.get("outputs") or {})
    if not problems:
        return
    command_node, found = node_at(node, ["command"])
    value_node = dict(node.value).get(command_node) if found else None
    messages = []
    for problem in problems:
        line = _line_in_node(value_node, problem.binding, node.start_mark.buffer) or line_of(node, ["command"])
        messages.append(f"{problem.message} (line {line}).")
    raise ValidationError({"command": messages})


def _line_in_node(value_node, needle: str, buffer: str | None) -> int | None:
    """The line of `needle` as written inside a scalar node (block scalars keep it verbatim)."""
    if value_node is None or not buffer:
        return None
    start, end = value_node.start_mark.index, value_node.end_mark.index
    position = buffer.find(needle, start, end)
    if position == -1:
        match = BINDING.search(buffer, start, end)
        return None if match is None else buffer.count("\n", 0, match.start()) + 1
    return buffer.count("\n", 0, position) + 1


def _check_rest(entity, node) -> None:
    """The SDK's own checks beyond the schema (names of inputs and outputs, early-available outputs)."""
    result = entity._validate()  # noqa: SLF001 - the SDK's validation entry point, as `create_or_update` uses
    if result.passed:
        return
    errors = {}
    for path, message in result.error_messages.items():
        parts = [p for p in str(path).split(".") if p]
        errors.setdefault(".".join(parts) or "yaml", []).append(f"{message.rstrip('.')} (line {line_of(node, parts)}).")
    raise ValidationError(errors)
