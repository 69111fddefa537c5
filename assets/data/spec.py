"""Azure ML data YAML (`az ml data create -f data.yml`), validated with the official loader.

$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
name: titanic
version: 1
type: uri_file            # uri_file | uri_folder | mltable
path: ./titanic.csv       # or azureml://datastores/<name>/paths/<path>
description: Passengers of the Titanic.
tags: {source: kaggle}
"""

import io
from dataclasses import dataclass, field

import yaml

from assets.yaml_errors import compose, compose_spec, field_error, loader_error

SCHEMA_URL = "https://azuremlschemas.azureedge.net/latest/data.schema.json"


@dataclass
class DataYaml:
    name: str
    version: str | None
    type: str
    path: str
    description: str = ""
    tags: dict = field(default_factory=dict)

    @property
    def is_local_path(self) -> bool:
        return is_local_path(self.path)


def is_local_path(path: str) -> bool:
    """A path on the user's machine (the CLI uploads it), not a URI the studio resolves."""
    return "://" not in path and not path.startswith("azureml:")


def _text(value) -> str:
    return "" if value is None else str(value)


def parse_data_yaml(text: str, *, field_name: str = "yaml") -> DataYaml:
    """Validate `text` as an Azure ML data spec; errors name the field and its line."""
    node = compose_spec(text, field=field_name)
    from azure.ai.ml import load_data  # slow to import; only needed here

    try:
        # A stream, not a file: the loader must not look at the studio's own disk for local paths.
        load_data(source=io.StringIO(text))
    except Exception as exc:  # noqa: BLE001 - the loader raises marshmallow and azure errors alike
        raise loader_error(exc, node, default_field=field_name) from exc
    raw = yaml.safe_load(text)
    if not raw.get("name"):
        raise field_error(node, ["name"], "Give the data asset a name", field="name")
    tags = raw.get("tags") or {}
    return DataYaml(
        name=_text(raw["name"]),
        version=_text(raw.get("version")) or None,
        type=_text(raw.get("type") or "uri_folder"),
        path=_text(raw.get("path")),
        description=_text(raw.get("description")),
        tags={str(k): _text(v) for k, v in tags.items()},
    )


def data_yaml_line(text: str, path: list[str]) -> int:
    """The line of a field in a data YAML (for errors found after loading, e.g. a bad path)."""
    from assets.yaml_errors import line_of

    return line_of(compose(text), path)
