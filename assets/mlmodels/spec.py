"""Azure ML model YAML (`az ml model create -f model.yml`), validated with the official loader.

$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
name: credit-defaults
version: 1                 # optional: the next number
type: mlflow_model         # custom_model (default) | mlflow_model | triton_model
path: ./model              # a local file or folder (uploaded with the YAML), or
                           # azureml://datastores/<name>/paths/<path>
description: A **markdown** description.
tags: {team: risk}
properties: {auc: "0.91"}
"""

import io
from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError

from assets.yaml_errors import compose_spec, line_of, loader_error, with_lines

SCHEMA_URL = "https://azuremlschemas.azureedge.net/latest/model.schema.json"


@dataclass
class ModelYaml:
    name: str
    version: str | None
    type: str
    path: str
    description: str = ""
    tags: dict = field(default_factory=dict)
    properties: dict = field(default_factory=dict)
    node: object = None  # the composed YAML, for the line of a field

    @property
    def is_local_path(self) -> bool:
        return is_local_path(self.path)

    def with_lines(self, exc: ValidationError) -> ValidationError:
        """The same errors, each naming the line of its field in this YAML (when the field is there)."""
        return with_lines(exc, self.node)


def is_local_path(path: str) -> bool:
    """A path on the user's machine (the CLI or the browser uploads it), not a URI the studio resolves."""
    return bool(path) and "://" not in path and not path.startswith(("azureml:", "runs:", "models:"))


def _text(value) -> str:
    return "" if value is None else str(value)


def _string_map(value) -> dict:
    return {str(k): _text(v) for k, v in (value or {}).items()}


def parse_model_yaml(text: str, *, field_name: str = "yaml") -> ModelYaml:
    """Validate `text` as an Azure ML model spec; errors name the field and its line."""
    node = compose_spec(text, field=field_name)
    from azure.ai.ml import load_model  # slow to import; only needed here

    try:
        # A stream, not a file: the loader must not look at the studio's own disk for local paths.
        load_model(source=io.StringIO(text))
    except Exception as exc:  # noqa: BLE001 - the loader raises marshmallow and azure errors alike
        raise loader_error(exc, node, default_field=field_name) from exc
    raw = yaml.safe_load(text)
    spec = ModelYaml(
        name=_text(raw.get("name")),
        version=_text(raw.get("version")) or None,
        type=_text(raw.get("type") or "custom_model"),
        path=_text(raw.get("path")),
        description=_text(raw.get("description")),
        tags=_string_map(raw.get("tags")),
        properties=_string_map(raw.get("properties")),
        node=node,
    )
    if not spec.path:
        raise ValidationError({"path": f"Give the model's path (line {line_of(node, ['path'])})."})
    return spec
