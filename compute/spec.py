"""Azure ML compute cluster YAML (`az ml compute create --file cluster.yml`), validated offline with the
official `azure-ai-ml` loader; every error names the field and its line (assets/yaml_errors.py).

    $schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
    name: gpu-cluster
    type: amlcompute
    size: STANDARD_NC6s_v3
    min_instances: 0
    max_instances: 4
    idle_time_before_scale_down: 120
"""

import io
from dataclasses import asdict, dataclass, field

import yaml
from django.core.exceptions import ValidationError

from assets.yaml_errors import compose, field_error, line_of, loader_error

SCHEMA_SUFFIX = "/amlCompute.schema.json"
MAX_YAML_BYTES = 64 * 1024


@dataclass
class ClusterYaml:
    name: str
    size: str = "Standard_DS3_v2"
    min_instances: int = 0
    max_instances: int = 2
    idle_time_before_scale_down: int = 120
    description: str = ""
    tags: dict = field(default_factory=dict)
    node: yaml.Node | None = field(default=None, repr=False, compare=False)

    def fields(self) -> dict:
        """The keyword arguments of compute.services.cluster_create."""
        values = asdict(self)
        values.pop("node")
        return values

    def with_lines(self, exc: ValidationError) -> ValidationError:
        """The service's errors ({field: message}) with the YAML line of each field added."""
        if not hasattr(exc, "error_dict") or self.node is None:
            return exc
        errors = {
            name: [f"{message.rstrip('.')} (line {line_of(self.node, name.split('.'))})." for message in messages]
            for name, messages in exc.message_dict.items()
        }
        return type(exc)(errors)


def parse_cluster_yaml(text: str, *, field_name: str = "yaml") -> ClusterYaml:
    if len((text or "").encode()) > MAX_YAML_BYTES:
        raise ValidationError({field_name: f"The YAML is larger than {MAX_YAML_BYTES // 1024} KB."})
    node = compose(text, field=field_name)
    raw = yaml.safe_load(text)
    schema = str(raw.get("$schema") or "")
    if schema and not schema.endswith(SCHEMA_SUFFIX):
        raise field_error(node, ["$schema"], f"This is not a compute cluster spec (its schema is {schema})")
    kind = raw.get("type")
    if kind is None:
        raise field_error(node, [], "Give the compute's type: `type: amlcompute`", field="type")
    if str(kind).lower() != "amlcompute":
        raise field_error(
            node, ["type"], f"Compute type {kind!r} is not supported here; use type: amlcompute (a compute cluster)"
        )
    from azure.ai.ml import load_compute  # slow to import; only needed here

    try:
        load_compute(source=io.StringIO(text))
    except Exception as exc:  # noqa: BLE001 - the loader raises marshmallow and azure errors alike
        raise loader_error(exc, node, default_field=field_name) from exc
    if not str(raw.get("name") or "").strip():
        raise field_error(node, [], "Give the cluster a name", field="name")
    spec = ClusterYaml(name=str(raw["name"]).strip(), node=node)
    for key in ("size", "description"):
        if raw.get(key) is not None:
            setattr(spec, key, str(raw[key]))
    for key in ("min_instances", "max_instances", "idle_time_before_scale_down"):
        if raw.get(key) is not None:
            setattr(spec, key, raw[key])
    spec.tags = {str(k): str(v) for k, v in (raw.get("tags") or {}).items()}
    return spec
