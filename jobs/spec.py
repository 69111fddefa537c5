"""Azure ML CLI v2 command job YAML, validated by the official `azure-ai-ml` loader.

`parse_command_job(text)` returns a `CommandJobSpec`: plain values, nothing resolved yet. Every
error is a ValidationError naming the field and the YAML line (SECURITY.md 24).
"""

import io
import json
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from assets.yaml_errors import compose, field_error, line_of, loader_error

BINDING = re.compile(r"\$\{\{\s*(?P<kind>inputs|outputs)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
ANY_BINDING = re.compile(r"\$\{\{(?P<expr>.*?)\}\}")
OPTIONAL_BLOCK = re.compile(r"\$\[\[(?P<body>.*?)\]\]", re.DOTALL)
DATA_TYPES = {"uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model"}
INPUT_MODES = {"ro_mount", "download", "direct", "eval_mount", "eval_download"}
OUTPUT_MODES = {"rw_mount", "upload", "direct"}
SUPPORTED_TYPES = {"command"}
MAX_TIMEOUT = 2_147_483_647  # seconds: the largest the database keeps (a PositiveIntegerField)


@dataclass
class DataBinding:
    type: str
    path: str | None = None
    mode: str | None = None


@dataclass
class CommandJobSpec:
    command: str
    environment: str | dict | None
    compute: str | None
    code: str | None = None
    name: str | None = None
    display_name: str = ""
    experiment_name: str | None = None
    description: str = ""
    tags: dict = field(default_factory=dict)
    environment_variables: dict = field(default_factory=dict)
    literal_inputs: dict = field(default_factory=dict)
    data_inputs: dict[str, DataBinding] = field(default_factory=dict)
    outputs: dict[str, DataBinding] = field(default_factory=dict)
    timeout: int | None = None
    raw: dict = field(default_factory=dict)


def _messages_of(exc: Exception):
    """azure-ai-ml nests the job schema's errors as JSON inside a message inside JSON; unwrap them."""
    text = str(exc)
    start = text.find("{")
    try:
        outer, _ = json.JSONDecoder().raw_decode(text[start:]) if start != -1 else (None, 0)
    except ValueError:
        outer = None
    if isinstance(outer, dict) and isinstance(outer.get("errors"), list):
        merged: dict = {}
        for error in outer["errors"]:
            inner = str(error.get("message", ""))
            brace = inner.find("{")
            try:
                parsed, _ = json.JSONDecoder().raw_decode(inner[brace:]) if brace != -1 else (None, 0)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                merged.update(parsed)
            else:
                path = str(error.get("path") or "")
                merged.setdefault("" if path == "*" else path, []).append(inner.split("\n\n")[0])
        return merged
    return None


class _Unwrapped(Exception):
    def __init__(self, messages):
        super().__init__(str(messages))
        self.messages = messages


def _literal_errors(messages: dict) -> dict:
    """Keep the most useful alternative when marshmallow tried every input type in turn."""
    inputs = messages.get("inputs")
    if isinstance(inputs, dict):
        for name, value in list(inputs.items()):
            if isinstance(value, dict) and isinstance(value.get("value"), list):
                alternatives = [a for a in value["value"] if isinstance(a, dict)]
                typed = [a for a in alternatives if "type" in a and "path" not in a]
                inputs[name] = typed[0] if typed else (alternatives[0] if alternatives else value)
    return messages


def parse_command_job(text: str, *, field_name: str = "yaml") -> CommandJobSpec:
    node = compose(text, field=field_name)
    import yaml

    raw = yaml.safe_load(text)
    job_type = raw.get("type", "command")
    if job_type not in SUPPORTED_TYPES:
        where = f" (line {line_of(node, ['type'])})"
        raise ValidationError({"type": f"Job type {job_type!r} is not supported here; use type: command{where}."})
    for required in ("command",):
        if not raw.get(required):
            raise ValidationError({required: f"A command job needs `{required}` (line {line_of(node, [])})."})

    from azure.ai.ml import load_job

    # The code folder and local input paths arrive beside the spec (uploaded), not on this disk: the
    # loader must not look for them.
    checked = {k: v for k, v in raw.items() if k != "code"}
    checked["inputs"] = {
        name: (dict(value, path=PLACEHOLDER_URI) if isinstance(value, dict) and _is_local(value.get("path")) else value)
        for name, value in (raw.get("inputs") or {}).items()
    } or None
    if checked["inputs"] is None:
        del checked["inputs"]
    environment = raw.get("environment")
    if isinstance(environment, dict) and isinstance(environment.get("conda_file"), str):
        # A local conda file arrives beside the spec too; the loader would open the path on this disk.
        checked["environment"] = dict(environment, conda_file={"dependencies": []})
    try:
        job = load_job(source=io.StringIO(yaml.safe_dump(checked)))
    except Exception as exc:  # noqa: BLE001 - the loader raises several kinds; all are the user's YAML
        messages = _messages_of(exc)
        if messages is not None:
            raise loader_error(_Unwrapped(_literal_errors(messages)), node) from exc
        raise loader_error(exc, node) from exc

    spec = CommandJobSpec(
        command=str(raw.get("command") or "").strip(),
        environment=raw.get("environment"),
        compute=_strip_azureml(raw.get("compute")),
        code=raw.get("code"),
        name=raw.get("name"),
        display_name=str(raw.get("display_name") or ""),
        experiment_name=raw.get("experiment_name"),
        description=str(raw.get("description") or ""),
        tags={str(k): str(v) for k, v in (raw.get("tags") or {}).items()},
        environment_variables={str(k): str(v) for k, v in (raw.get("environment_variables") or {}).items()},
        timeout=getattr(getattr(job, "limits", None), "timeout", None),
        raw=raw,
    )
    for name, value in (raw.get("inputs") or {}).items():
        if isinstance(value, dict) and "type" in value and value["type"] in DATA_TYPES:
            spec.data_inputs[name] = DataBinding(type=value["type"], path=value.get("path"), mode=value.get("mode"))
            if not value.get("path"):
                raise field_error(node, ["inputs", name], "A data input needs a `path`", field=f"inputs.{name}.path")
        elif isinstance(value, dict):
            spec.literal_inputs[name] = value.get("value", value.get("default"))
        else:
            spec.literal_inputs[name] = value
    for name, value in (raw.get("outputs") or {}).items():
        value = value or {}
        spec.outputs[name] = DataBinding(
            type=value.get("type", "uri_folder"), path=value.get("path"), mode=value.get("mode", "rw_mount")
        )
    if not spec.environment:
        raise ValidationError({"environment": f"A command job needs an `environment` (line {line_of(node, [])})."})
    if spec.timeout is not None and not 1 <= spec.timeout <= MAX_TIMEOUT:
        raise field_error(
            node, ["limits", "timeout"], f"limits.timeout must be from 1 to {MAX_TIMEOUT} seconds, not {spec.timeout}"
        )
    _check_bindings(spec, node)
    return spec


PLACEHOLDER_URI = "azureml://datastores/workspaceblobstore/paths/placeholder"


def _is_local(path) -> bool:
    """A path on the submitter's disk (uploaded with the job), not a URI or an asset reference."""
    return isinstance(path, str) and not re.match(r"^(azureml:|https?://|wasbs?://|abfss?://|s3://)", path)


def _strip_azureml(value):
    if isinstance(value, str) and value.startswith("azureml:"):
        return value[len("azureml:") :]
    return value


def _check_bindings(spec: CommandJobSpec, node) -> None:
    """Every ${{inputs.x}} / ${{outputs.y}} must name a declared input or output (inside $[[...]]
    an input may be left out: the block is then dropped)."""
    declared = {"inputs": set(spec.literal_inputs) | set(spec.data_inputs), "outputs": set(spec.outputs)}
    for match in ANY_BINDING.finditer(spec.command):
        binding = BINDING.fullmatch(match.group(0))
        if binding is None:
            raise field_error(
                node,
                ["command"],
                f"{match.group(0)} is not a binding; use ${{{{inputs.<name>}}}} or ${{{{outputs.<name>}}}}",
                field="command",
            )
        optional = any(b.start() <= match.start() < b.end() for b in OPTIONAL_BLOCK.finditer(spec.command))
        if binding["name"] not in declared[binding["kind"]] and not (optional and binding["kind"] == "inputs"):
            raise field_error(
                node,
                ["command"],
                f"{match.group(0)} names no declared {binding['kind'][:-1]} "
                f"(declared: {', '.join(sorted(declared[binding['kind']])) or 'none'})",
                field="command",
            )


def render_command(command: str, values: dict[str, str], outputs: dict[str, str]) -> str:
    """Substitute bindings; a $[[...]] block whose inputs are not all given is dropped."""

    def optional(block: re.Match) -> str:
        body = block["body"]
        names = [m["name"] for m in BINDING.finditer(body) if m["kind"] == "inputs"]
        return body if all(n in values and values[n] is not None for n in names) else ""

    command = OPTIONAL_BLOCK.sub(optional, command)

    def binding(match: re.Match) -> str:
        table = values if match["kind"] == "inputs" else outputs
        return str(table[match["name"]])

    return BINDING.sub(binding, command)
