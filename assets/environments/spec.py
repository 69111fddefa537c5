"""Azure ML environment YAML (`az ml environment create -f env.yml`), validated with the official loader.

$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
name: sklearn-env
version: 1
image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
conda_file: conda.yml          # a file next to the YAML (sent along with it), or the conda spec inline
description: Training environment.
tags: {team: fraud}
"""

import io
from dataclasses import dataclass, field

import yaml

from assets.yaml_errors import compose_spec, field_error, loader_error

from .packages import load_conda_yaml

SCHEMA_URL = "https://azuremlschemas.azureedge.net/latest/environment.schema.json"


@dataclass
class EnvironmentYaml:
    name: str
    version: str | None
    image: str
    conda_file: str  # the conda environment as YAML text ("" for an image-only environment)
    description: str = ""
    tags: dict = field(default_factory=dict)


def _text(value) -> str:
    return "" if value is None else str(value)


def parse_environment_yaml(text: str, *, conda_file: str | None = None, field_name: str = "yaml") -> EnvironmentYaml:
    """Validate `text` as an Azure ML environment spec; errors name the field and its line.

    `conda_file` is the content of the file the YAML's `conda_file:` names (the CLI and the upload
    form send it along); the studio never reads a path from the YAML on its own disk.
    """
    node = compose_spec(text, field=field_name)
    raw = yaml.safe_load(text)
    schema = _text(raw.get("$schema"))
    if schema and not schema.endswith("/environment.schema.json"):
        raise field_error(
            node, ["$schema"], f"This is not an environment spec (its schema is {schema})", field="$schema"
        )
    if "build" in raw:
        raise field_error(
            node,
            ["build"],
            "Docker build contexts are not supported; give an image and a conda_file instead",
            field="build",
        )
    conda_value = raw.get("conda_file")
    conda: dict | None = None
    conda_text = ""
    if isinstance(conda_value, str):
        if conda_file is None:
            raise field_error(
                node,
                ["conda_file"],
                f"The conda file {conda_value!r} was not sent with the YAML; upload it too "
                "(`studio environment create --file` sends it for you)",
                field="conda_file",
            )
        conda_text = conda_file
        conda = load_conda_yaml(conda_text, field="conda_file")
    elif isinstance(conda_value, dict):
        conda = conda_value
        conda_text = yaml.safe_dump(conda_value, sort_keys=False)
    elif conda_value is not None:
        raise field_error(node, ["conda_file"], "Give a file name or the conda spec as a mapping", field="conda_file")
    from azure.ai.ml import load_environment  # slow to import; only needed here

    try:
        # A stream and an inline conda spec: the loader must not read files from the studio's disk.
        load_environment(source=io.StringIO(text), params_override=[{"conda_file": conda}] if conda else [])
    except Exception as exc:  # noqa: BLE001 - the loader raises marshmallow and azure errors alike
        raise loader_error(exc, node, default_field=field_name) from exc
    if not _text(raw.get("name")):
        raise field_error(node, ["name"], "Give the environment a name", field="name")
    if not _text(raw.get("image")):
        raise field_error(
            node, ["name"], "Give the Docker image the environment is based on (image: ...)", field="image"
        )
    tags = raw.get("tags") or {}
    return EnvironmentYaml(
        name=_text(raw["name"]),
        version=_text(raw.get("version")) or None,
        image=_text(raw["image"]),
        conda_file=conda_text,
        description=_text(raw.get("description")),
        tags={str(k): _text(v) for k, v in tags.items()},
    )
