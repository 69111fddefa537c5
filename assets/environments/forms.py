from django import forms
from django.core.exceptions import ValidationError

from assets.yaml_errors import MAX_YAML_BYTES
from core.forms import TagsField

from .packages import STUDIO_PYTHON
from .services import DEFAULT_IMAGE

SOURCES = [
    ("conda", "Conda file"),
    ("pip", "pip requirements"),
    ("yaml", "Azure ML environment YAML (upload)"),
]
CONDA_EXAMPLE = f"""name: my-env
channels:
  - conda-forge
dependencies:
  - python={STUDIO_PYTHON}
  - pip
  - scikit-learn=1.5.2
  - pip:
    - mlflow-skinny
"""


def _read_upload(upload, field: str) -> str:
    if upload.size > MAX_YAML_BYTES:
        raise ValidationError({field: f"The file is larger than {MAX_YAML_BYTES // 1024} KB."})
    try:
        return upload.read().decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError({field: "The file is not UTF-8 text."})


class EnvironmentForm(forms.Form):
    source = forms.ChoiceField(choices=SOURCES, initial="conda", widget=forms.RadioSelect, label="Environment source")
    name = forms.CharField(max_length=255, required=False, help_text="Letters, digits, '-', '_' and '.'.")
    version = forms.CharField(max_length=30, required=False, help_text="Leave empty for the next number.")
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Markdown is supported."
    )
    tags = TagsField()
    image = forms.CharField(
        max_length=500,
        initial=DEFAULT_IMAGE,
        required=False,
        help_text=f"Recorded as the environment's base image; builds run on the studio's Python {STUDIO_PYTHON}.",
    )
    conda_file = forms.CharField(
        required=False,
        strip=False,
        label="Conda file",
        initial=CONDA_EXAMPLE,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "mono"}),
        help_text="conda packages are installed from PyPI under their PyPI names (pytorch becomes torch).",
    )
    pip_requirements = forms.CharField(
        required=False,
        strip=False,
        label="pip requirements",
        widget=forms.Textarea(
            attrs={"rows": 10, "spellcheck": "false", "class": "mono", "placeholder": "pandas>=2\nscikit-learn==1.5.2"}
        ),
        help_text="As in requirements.txt: one package per line; comments are ignored.",
    )
    python = forms.ChoiceField(
        choices=[(STUDIO_PYTHON, f"Python {STUDIO_PYTHON}")], initial=STUDIO_PYTHON, required=False
    )
    yaml_file = forms.FileField(
        required=False, label="Environment YAML", help_text="env.yml with image and conda_file."
    )
    yaml_conda_file = forms.FileField(
        required=False,
        label="Conda file named by the YAML",
        help_text="Needed when the YAML's conda_file names a file.",
    )

    def clean(self):
        data = super().clean()
        source = data.get("source")
        if source == "yaml":
            upload = data.get("yaml_file")
            if not upload:
                self.add_error("yaml_file", "Choose the environment YAML to upload.")
                return data
            try:
                data["yaml_text"] = _read_upload(upload, "yaml_file")
                conda = data.get("yaml_conda_file")
                data["yaml_conda_text"] = _read_upload(conda, "yaml_conda_file") if conda else None
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    self.add_error(field, messages)
            return data
        if not data.get("name"):
            self.add_error("name", "Give the environment a name.")
        if source == "conda" and not data.get("conda_file", "").strip():
            self.add_error("conda_file", "Paste the conda file.")
        if source == "pip" and not data.get("pip_requirements", "").strip():
            self.add_error("pip_requirements", "List at least one package.")
        return data

    def service_fields(self) -> dict:
        """The arguments for environment_create, from the chosen source only."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "version": data.get("version") or None,
            "description": data.get("description", ""),
            "tags": data.get("tags") or {},
            "image": data.get("image") or DEFAULT_IMAGE,
            "conda_file": data.get("conda_file", "") if data["source"] == "conda" else "",
            "pip_requirements": data.get("pip_requirements", "") if data["source"] == "pip" else "",
            "python": data.get("python") or "" if data["source"] == "pip" else "",
        }
