"""Form helpers shared by every app's pages."""

from django import forms
from django.core.exceptions import ValidationError


def errors_text(form) -> str:
    """A form's errors as one message for the page, each named by its field's label
    ("Tags: Line 2: write tags as name=value.")."""
    parts = []
    for field, errors in form.errors.items():
        label = form.fields[field].label or field.replace("_", " ").capitalize() if field in form.fields else ""
        parts += [f"{label}: {error}" if label else error for error in errors]
    return " ".join(parts)


def add_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form fields it names."""
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)


TAGS_HELP = "One name=value per line."
TAGS_PLACEHOLDER = "team=fraud"


def parse_tags(text: str, *, label: str = "tags") -> dict:
    """One `name=value` (or `name: value`, as Azure shows tags) per line -> {"name": "value"}.
    The separator is the first `=` or `:` of the line; raises ValidationError naming the lines."""
    tags, errors = {}, []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        key, value = (line[:cut].strip(), line[cut + 1 :].strip()) if cut >= 0 else ("", "")
        if not key:
            errors.append(f"Line {number}: write {label} as name=value (got {line[:60]!r}).")
            continue
        tags[key] = value
    if errors:
        raise ValidationError(errors)
    return tags


def tags_text(tags: dict) -> str:
    """The text a TagsField shows for `tags`: one name=value per line."""
    return "\n".join(f"{k}={v}" for k, v in (tags or {}).items())


class TagsField(forms.CharField):
    """Tags (or properties) on every form alike: a textarea of name=value lines -> a dict."""

    def __init__(self, *, rows: int = 2, help_text: str = TAGS_HELP, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20_000)
        widget = forms.Textarea(attrs={"rows": rows, "placeholder": TAGS_PLACEHOLDER, "spellcheck": "false"})
        super().__init__(widget=widget, help_text=help_text, **kwargs)

    def prepare_value(self, value):
        return tags_text(value) if isinstance(value, dict) else value

    def to_python(self, value):
        return parse_tags(super().to_python(value))
