"""A component's interface and environment as the detail page shows them."""

import json

import yaml
from django.core.exceptions import ValidationError

from assets.models import Component, Environment

from .services import resolve_environment


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _in_yaml_order(component: Component, kind: str) -> list[tuple[str, object]]:
    """The spec's inputs or outputs in the order the YAML lists them (PostgreSQL's jsonb keeps
    its own key order, so the stored spec cannot say)."""
    stored = component.spec.get(kind) or {}
    try:
        written = list((yaml.safe_load(component.yaml) or {}).get(kind) or {})
    except (yaml.YAMLError, AttributeError):
        written = []
    names = [n for n in written if n in stored] + sorted(n for n in stored if n not in written)
    return [(name, stored[name]) for name in names]


def input_rows(component: Component) -> list[dict]:
    rows = []
    for name, spec in _in_yaml_order(component, "inputs"):
        spec = spec if isinstance(spec, dict) else {"type": _text(spec)}
        rows.append(
            {
                "name": name,
                "type": _text(spec.get("type")),
                "default": _text(spec.get("default")) if "default" in spec else "",
                "has_default": "default" in spec,
                "optional": bool(spec.get("optional")),
                "enum": [_text(v) for v in spec.get("enum") or []],
                "min": _text(spec.get("min")),
                "max": _text(spec.get("max")),
                "description": _text(spec.get("description")),
            }
        )
    return rows


def output_rows(component: Component) -> list[dict]:
    rows = []
    for name, spec in _in_yaml_order(component, "outputs"):
        spec = spec if isinstance(spec, dict) else {"type": _text(spec)}
        rows.append(
            {
                "name": name,
                "type": _text(spec.get("type")),
                "mode": _text(spec.get("mode")),
                "description": _text(spec.get("description")),
            }
        )
    return rows


def environment_of(component: Component) -> tuple[Environment | None, str | dict]:
    """(the registered or curated environment it names, or None, and the reference as written)."""
    value = component.spec.get("environment")
    try:
        return resolve_environment(workspace=component.workspace, environment=value), value
    except ValidationError:
        return None, value  # removed or archived since the component was registered
