"""Errors in Azure ML YAML specs, named by field and line (SECURITY.md 24).

The official `azure-ai-ml` loaders (`load_data`, `load_component`, ...) validate a spec offline and
name the failing fields by their path (`inputs.x.type`), but not the line. This module turns their
errors into a Django ValidationError `{field: "message (line N)"}`: it composes the YAML with PyYAML
(which keeps every node's position) and walks to the node the field path names.

    node = compose(text)                               # a syntax error names the line
    try:
        entity = load_data(source=io.StringIO(text))
    except Exception as exc:
        raise loader_error(exc, node) from exc
"""

import json
import re

import yaml
from django.core.exceptions import ValidationError

from core.errors import AlreadyExists

_JSON_START = re.compile(r"failed:\s*", re.IGNORECASE)


def _compose_unbounded(text: str, *, field: str = "yaml"):
    """The YAML's node tree (positions kept). A syntax error or a document that is not a mapping is
    a ValidationError naming `field` and the line."""
    if not (text or "").strip():
        raise ValidationError({field: "The YAML is empty."})
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ValidationError({field: f"The YAML cannot be parsed: {exc.problem or exc.context}{where}."})
    except yaml.YAMLError as exc:
        raise ValidationError({field: f"The YAML cannot be parsed: {exc}."})
    if not isinstance(node, yaml.MappingNode):
        raise ValidationError({field: "The YAML must be a mapping of fields (name: ..., type: ..., path: ...)."})
    return node


MAX_YAML_VALUES = 100_000
MAX_YAML_BYTES = 256 * 1024


def compose(text: str, *, field: str = "yaml"):
    """`compose`, refusing what would blow up once built: nesting too deep for the parser, and
    aliases that expand to more than MAX_YAML_VALUES values (a "billion laughs") or refer to
    themselves. The loaders and `yaml.safe_load` would build the whole expansion."""
    try:
        node = _compose_unbounded(text, field=field)
    except RecursionError:
        raise ValidationError({field: "The YAML is nested too deeply."})
    sizes: dict[int, int] = {}
    building: set[int] = set()

    def size(current) -> int:
        key = id(current)
        if key in sizes:
            return sizes[key]
        if key in building:
            raise ValidationError({field: f"The YAML refers to itself (line {current.start_mark.line + 1})."})
        building.add(key)
        if isinstance(current, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in current.value)
        elif isinstance(current, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in current.value)
        else:
            total = 1
        building.discard(key)
        if total > MAX_YAML_VALUES:
            raise ValidationError(
                {
                    field: f"The YAML expands to more than {MAX_YAML_VALUES:,} values (line {current.start_mark.line + 1})."
                }
            )
        sizes[key] = total
        return total

    try:
        size(node)
    except RecursionError:
        raise ValidationError({field: "The YAML is nested too deeply."})
    return node


def compose_spec(text: str, *, field: str = "yaml"):
    """An asset spec's YAML composed as `compose` does, after refusing one over MAX_YAML_BYTES."""
    if len((text or "").encode()) > MAX_YAML_BYTES:
        raise ValidationError({field: f"The YAML is larger than {MAX_YAML_BYTES // 1024} KB."})
    return compose(text, field=field)


def with_lines(exc: ValidationError, node) -> ValidationError:
    """The same errors, each naming the line of its field in the YAML `node` (when the field is
    there); a conflict (AlreadyExists, 409) stays as it is."""
    if node is None or not hasattr(exc, "error_dict") or isinstance(exc, AlreadyExists):
        return exc
    errors = {}
    for key, messages in exc.message_dict.items():
        path = [p for p in key.split(".") if p]
        if path and path[0] in {k.value for k, _ in node.value}:
            line = line_of(node, path)
            messages = [m if "(line " in m else f"{m.rstrip('.')} (line {line})." for m in messages]
        errors[key] = messages
    return ValidationError(errors)


def node_at(node, path: list[str]):
    """(the node `path` leads to, or the deepest node found on the way, and whether it was found).
    For a mapping entry, the node is its key (the line a person looks for)."""
    found_node = node
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    found_node, node = key, value
                    break
            else:
                return found_node, False
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = found_node = node.value[int(part)]
        else:
            return found_node, False
    return found_node, True


def line_of(node, path: list[str]) -> int:
    """The 1-based line of the field `path` (or of its nearest parent that exists)."""
    found, _ = node_at(node, path)
    return found.start_mark.line + 1


def _flatten(messages, prefix: str = "") -> list[tuple[str, str]]:
    """{"inputs": {"x": {"type": ["Must be ..."]}}} -> [("inputs.x.type", "Must be ...")]."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            key = str(key)
            field = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else key)
            out += _flatten(value, field)
        return out
    if isinstance(messages, list | tuple):
        out = []
        for item in messages:
            out += _flatten(item, prefix)
        return out
    return [(prefix, str(messages))]


def _loader_messages(exc: Exception):
    """The field-keyed messages inside an azure-ai-ml loader error (a marshmallow ValidationError
    whose message embeds them as JSON, or a ValidationException)."""
    messages = getattr(exc, "messages", None)
    if isinstance(messages, dict):
        return messages
    text = "\n".join(messages) if isinstance(messages, list) else str(getattr(exc, "message", "") or exc)
    start = _JSON_START.search(text)
    if start:
        brace = text.find("{", start.end())
        if brace != -1:
            try:
                parsed, _ = json.JSONDecoder().raw_decode(text[brace:])
                if isinstance(parsed, dict) and isinstance(parsed.get("errors"), list):
                    # The component loaders' shape: {"result": "Failed", "errors": [{"path", "message"}]}.
                    return {
                        str(e.get("path") or ""): [str(e.get("message") or "Invalid value.")]
                        for e in parsed["errors"]
                        if isinstance(e, dict)
                    }
                if isinstance(parsed, dict):
                    return parsed
            except ValueError:
                pass
    field = getattr(exc, "field_name", None) or ""
    first = text.strip().split("\n\n", 1)[0].strip()
    return {field if field != "_schema" else "": [first or type(exc).__name__]}


def loader_error(exc: Exception, node, *, prefix: str = "", default_field: str = "yaml") -> ValidationError:
    """A ValidationError {field: "message (line N)"} for an azure-ai-ml loader's exception.

    `prefix` goes before each field path (e.g. "yaml." when the YAML was one field of a request).
    """
    errors: dict[str, list[str]] = {}
    for field, message in _flatten(_loader_messages(exc)):
        path = [part for part in field.split(".") if part]
        line = line_of(node, path) if node is not None else None
        text = message.rstrip(".") + (f" (line {line})." if line else ".")
        errors.setdefault(f"{prefix}{field}" if field else default_field, []).append(text)
    return ValidationError(errors)


def field_error(node, path: list[str], message: str, *, field: str | None = None) -> ValidationError:
    """A ValidationError for a check of our own on the field `path`, with its line."""
    name = field or ".".join(path)
    return ValidationError({name: f"{message.rstrip('.')} (line {line_of(node, path)})."})
