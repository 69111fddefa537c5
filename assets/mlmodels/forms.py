from django import forms
from django.core.exceptions import ValidationError

from assets.models import ModelType

TAGS_HELP = "One per line: key=value."


def parse_key_values(text: str, *, field: str = "tags") -> dict:
    """'team=risk\\nstage: dev' -> {"team": "risk", "stage": "dev"}."""
    result = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        sep = "=" if "=" in line else (":" if ":" in line else None)
        if sep is None:
            raise ValidationError({field: f"Line {number}: write key=value (got {line[:60]!r})."})
        key, value = (part.strip() for part in line.split(sep, 1))
        if not key:
            raise ValidationError({field: f"Line {number}: the key is empty."})
        result[key] = value
    return result


class _ModelFieldsForm(forms.Form):
    name = forms.CharField(max_length=255, required=False, help_text="Letters, digits, '-', '_' and '.'.")
    version = forms.CharField(max_length=30, required=False, help_text="Leave empty for the next number.")
    type = forms.ChoiceField(choices=ModelType.choices, initial=ModelType.MLFLOW, label="Model type")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="Markdown is supported."
    )
    tags = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text=TAGS_HELP)
    properties = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text=TAGS_HELP)

    def clean_tags(self):
        try:
            return parse_key_values(self.cleaned_data["tags"], field="tags")
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["tags"])

    def clean_properties(self):
        try:
            return parse_key_values(self.cleaned_data["properties"], field="properties")
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["properties"])


class ModelUploadForm(_ModelFieldsForm):
    """From local files: the files themselves arrive as `files` + `relative_paths`."""


class ModelDatastoreForm(_ModelFieldsForm):
    datastore = forms.ChoiceField(choices=(), help_text="The datastore that holds the model's file or folder.")
    path = forms.CharField(
        max_length=1024,
        required=False,
        help_text="A path inside the datastore (models/iris), or azureml://datastores/<name>/paths/<path>.",
    )

    def __init__(self, *args, datastores=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["datastore"].choices = [(d.name, d.name) for d in datastores]
        default = next((d.name for d in datastores if d.is_default), None)
        if default:
            self.fields["datastore"].initial = default


class ModelYamlForm(forms.Form):
    yaml = forms.FileField(label="Model YAML", help_text="model.yml with $schema, name, version, type and path.")


class ModelEditForm(forms.Form):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    tags = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text=TAGS_HELP)

    def clean_tags(self):
        try:
            return parse_key_values(self.cleaned_data["tags"], field="tags")
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["tags"])
