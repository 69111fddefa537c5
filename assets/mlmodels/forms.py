from django import forms

from assets.models import ModelType
from core.forms import TagsField


class _ModelFieldsForm(forms.Form):
    name = forms.CharField(max_length=255, required=False, help_text="Letters, digits, '-', '_' and '.'.")
    version = forms.CharField(max_length=30, required=False, help_text="Leave empty for the next number.")
    type = forms.ChoiceField(choices=ModelType.choices, initial=ModelType.MLFLOW, label="Model type")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="Markdown is supported."
    )
    tags = TagsField()
    properties = TagsField()


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
    tags = TagsField(rows=3)
