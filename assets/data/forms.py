from django import forms
from django.core.exceptions import ValidationError

from assets.models import DataType
from core.forms import TagsField

SOURCES = {
    "local": "From local files",
    "datastore": "From a datastore path",
    "uri": "From a URI",
    "yaml": "From a YAML file",
}


class DataBasicsForm(forms.Form):
    """Step 1 of the wizard, shared by every source but YAML (whose spec carries these)."""

    name = forms.CharField(max_length=1000, required=False, help_text="Letters, digits, '-', '_' and '.'.")
    version = forms.CharField(
        max_length=100, required=False, help_text="Leave empty for the next number (1 for a new name)."
    )
    type = forms.ChoiceField(
        choices=DataType.choices,
        initial=DataType.URI_FILE,
        help_text="File: one file. Folder: a folder of files. Table: a folder with an MLTable file.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="Markdown.")
    tags = TagsField()


class DatastorePathForm(DataBasicsForm):
    datastore = forms.ChoiceField(choices=())
    path = forms.CharField(
        max_length=5000, required=False, help_text="A file or folder inside the datastore, e.g. raw/2024/train.csv"
    )

    def __init__(self, *args, datastores=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["datastore"].choices = [(d.name, d.name) for d in datastores]


class UriForm(DataBasicsForm):
    path = forms.CharField(
        max_length=5000,
        required=False,
        label="URI",
        help_text="azureml://datastores/<name>/paths/<path>",
    )


class YamlForm(forms.Form):
    yaml_file = forms.FileField(required=False, label="YAML file", help_text="An Azure ML data YAML (data.yml).")
    yaml = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "mono"}),
        required=False,
        label="…or paste it",
        max_length=256 * 1024,
    )

    def clean(self):
        data = super().clean()
        upload = data.get("yaml_file")
        if upload:
            if upload.size > 256 * 1024:
                raise ValidationError({"yaml_file": "The YAML file is larger than 256 KB."})
            data["yaml"] = upload.read().decode("utf-8", errors="replace")
        if not (data.get("yaml") or "").strip():
            raise ValidationError({"yaml": "Choose a YAML file or paste its text."})
        return data


class DataEditForm(forms.Form):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False, max_length=200_000)
    tags = TagsField(rows=3)
