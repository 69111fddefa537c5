"""The "Submit job" form: its fields become an Azure ML command job YAML, validated by job_submit as
any YAML is, so the browser and the CLI accept and refuse the same jobs."""

import re
import tempfile
import zipfile
from dataclasses import dataclass

import yaml
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from assets.models import BuildStatus
from core.forms import parse_tags

SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json"
LITERAL_TYPES = ["string", "integer", "number", "boolean"]
DATA_TYPES = ["uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model"]
INPUT_MODES = ["", "ro_mount", "download", "direct"]
OUTPUT_TYPES = ["uri_folder", "uri_file", "mlflow_model", "custom_model"]
OUTPUT_MODES = ["", "rw_mount", "upload"]
MAX_ROWS = 50
ROWS_MESSAGE = "An input or output needs a fix: see below."
UPLOAD, COMPONENT, JOB, NO_CODE = "upload", "component", "job", "none"
SOURCES = [
    (UPLOAD, "Upload a code folder"),
    (COMPONENT, "A registered component"),
    (JOB, "The code of the job it is cloned from"),
    (NO_CODE, "No code (the command only)"),
]
SYSTEM_TAG_PREFIX = "mlflow."
_MLFLOW = re.compile(r"(?im)^[\s\-]*mlflow(-skinny)?\b")


@dataclass
class Row:
    """One input or output row of the form."""

    name: str = ""
    type: str = ""
    value: str = ""
    mode: str = ""
    error: str = ""

    @property
    def is_data(self) -> bool:
        return self.type not in LITERAL_TYPES


def _rows(data, prefix: str) -> list[Row]:
    columns = [data.getlist(f"{prefix}_{part}") for part in ("name", "type", "value", "mode")]
    count = min(max((len(c) for c in columns), default=0), MAX_ROWS)
    rows = []
    for i in range(count):
        name, type_, value, mode = (c[i].strip() if i < len(c) else "" for c in columns)
        if name or value:
            rows.append(Row(name=name, type=type_, value=value, mode=mode))
    return rows


def _literal(row: Row):
    """A literal input's value as YAML wants it (integer 3, number 0.5, boolean true)."""
    try:
        if row.type == "integer":
            return int(row.value)
        if row.type == "number":
            return float(row.value)
    except ValueError:
        raise ValidationError(f"{row.value!r} is not a {row.type}.") from None
    if row.type == "boolean":
        if row.value.lower() not in ("true", "false"):
            raise ValidationError("Write true or false.")
        return row.value.lower() == "true"
    return row.value


def _declared_inputs(declared: dict) -> dict:
    """A component's inputs that have a default, as a job gives them (the form's rows override them)."""
    inputs = {}
    for name, decl in declared.items():
        if not isinstance(decl, dict) or "default" not in decl:
            continue  # required ones come from the rows; optional ones may be left out
        if decl.get("type") in LITERAL_TYPES or decl.get("type") not in DATA_TYPES:
            inputs[name] = decl["default"]
        else:
            inputs[name] = {"type": decl["type"], "path": decl["default"]}
    return inputs


def _key_values(text: str) -> dict:
    try:
        return parse_tags(text)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None


def _has_mlflow(environment) -> bool:
    return bool(_MLFLOW.search(f"{environment.conda_file}\n{environment.pip_requirements}"))


def environment_choices(*, custom, curated, also=None) -> tuple[list, dict[str, str]]:
    """The environment select's groups, and {reference: why it cannot be picked} for environments
    whose build failed. `also`: an environment to offer although it is in neither list (a clone's)."""
    unavailable: dict[str, str] = {}

    def choice(environment) -> tuple[str, str]:
        label = f"{environment.name}:{environment.version}"
        if _has_mlflow(environment):
            label += " · with mlflow"
        build = environment.build
        if build is not None and build.status == BuildStatus.FAILED:
            first_line = (build.error or "see its page").strip().splitlines()[0][:200]
            unavailable[environment.reference] = f"{label} failed to build: {first_line}"
            label += " · build failed"
        return environment.reference, label

    groups = [
        ("Custom environments", [choice(e) for e in custom]),
        ("Curated environments", [choice(e) for e in curated]),
    ]
    listed = {value for _, options in groups for value, _ in options}
    if also is not None and also.reference not in listed:
        groups.insert(0, ("This job's environment", [choice(also)]))
    return [group for group in groups if group[1]], unavailable


def _literal_row(name: str, value) -> Row:
    if isinstance(value, bool):
        return Row(name=name, type="boolean", value="true" if value else "false")
    if isinstance(value, int):
        return Row(name=name, type="integer", value=str(value))
    if isinstance(value, float):
        return Row(name=name, type="number", value=repr(value))
    return Row(name=name, type="string", value=str(value))


def _lines(mapping: dict) -> str:
    return "\n".join(f"{key}={value}" for key, value in mapping.items())


def initial_from_job(job, *, components=()) -> tuple[dict, list[Row], list[Row]]:
    """The submit form's fields and rows for a new job like `job` (Clone): the same command,
    environment, compute, inputs, outputs, names and tags, and its code (its component, or its snapshot)."""
    spec = job.spec or {}
    component = spec.get("component", "")
    if component and component in {f"{c.name}:{c.version}" for c in components}:
        source = COMPONENT
    else:
        component, source = "", JOB if job.code_path else NO_CODE
    initial = {
        "code_source": source,
        "component": component,
        "source_job": job.name if source == JOB else "",
        "command": job.command,
        "environment": spec.get("environment", ""),
        "compute": spec.get("compute") or (job.compute.name if job.compute else ""),
        "experiment_name": job.experiment.name,
        "display_name": job.display_name,
        "description": job.description,
        "tags": _lines({k: v for k, v in (job.tags or {}).items() if not k.startswith(SYSTEM_TAG_PREFIX)}),
        "environment_variables": _lines(spec.get("environment_variables") or {}),
        "timeout": job.timeout,
    }
    inputs = [_literal_row(name, value) for name, value in (spec.get("literal_inputs") or {}).items()]
    for name, binding in (spec.get("data_inputs") or {}).items():
        inputs.append(
            Row(name=name, type=binding["type"], value=binding.get("asset") or binding["uri"], mode=binding["mode"])
        )
    outputs = []
    for name, binding in (spec.get("outputs") or {}).items():
        default = binding.get("datastore") == "workspaceblobstore" and binding["path"] == f"azureml/{job.name}/{name}"
        mode = "" if binding.get("mode") == "rw_mount" else binding.get("mode", "")
        outputs.append(Row(name=name, type=binding["type"], value="" if default else binding["uri"], mode=mode))
    return initial, inputs, outputs


class EnvironmentSelect(forms.Select):
    """A select whose options in `unavailable` are shown but cannot be picked."""

    unavailable: dict[str, str] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if value in self.unavailable:
            option["attrs"]["disabled"] = True
            option["attrs"]["title"] = self.unavailable[value]
        return option


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FolderField(forms.FileField):
    """The files of a folder (an empty __init__.py is a file like any other)."""

    def __init__(self, **kwargs):
        super().__init__(allow_empty_file=True, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(FolderField, self).clean(item, initial) for item in data]
        return super().clean(data, initial)


class JobSubmitForm(forms.Form):
    code_source = forms.ChoiceField(
        choices=SOURCES, initial="upload", widget=forms.RadioSelect, label="Code", required=False
    )
    code_files = FolderField(
        required=False,
        label="Code folder",
        widget=MultipleFileInput(attrs={"webkitdirectory": True, "directory": True}),
        help_text="The folder becomes the job's working directory (its snapshot is kept with the job).",
    )
    component = forms.ChoiceField(
        required=False,
        help_text="Its code, command, environment and interface; a command or environment given here replaces its own.",
    )
    command = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "class": "mono",
                "spellcheck": "false",
                "placeholder": "python train.py --data ${{inputs.training_data}} --out ${{outputs.model}}",
            }
        ),
        help_text="Runs with bash in the code folder. Use ${{inputs.name}} and ${{outputs.name}} for bindings.",
    )
    environment = forms.ChoiceField(
        required=False,
        widget=EnvironmentSelect,
        help_text="The Python packages the command runs with; “with mlflow” ones log metrics out of the box.",
    )
    compute = forms.ChoiceField(help_text="The cluster whose nodes run the job.")
    experiment_name = forms.CharField(
        max_length=255, required=False, help_text="Jobs are grouped by experiment; defaults to the code folder's name."
    )
    display_name = forms.CharField(max_length=255, required=False)
    name = forms.CharField(max_length=255, required=False, label="Job name", help_text="Leave empty for a new name.")
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Markdown is supported."
    )
    tags = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "team=fraud"}),
        help_text="One name=value per line.",
    )
    environment_variables = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "EPOCHS=10", "class": "mono"}),
        help_text="One NAME=value per line.",
    )
    timeout = forms.IntegerField(
        required=False,
        min_value=1,
        label="Timeout (seconds)",
        help_text="limits.timeout: the job is canceled after it.",
    )

    source_job = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)

    def __init__(
        self,
        data=None,
        files=None,
        *,
        environments=(),
        unavailable_environments=None,
        computes=(),
        components=(),
        clone_of=None,
        **kwargs,
    ):
        super().__init__(data, files, **kwargs)
        self.components = {f"{c.name}:{c.version}": c for c in components}
        self.fields["component"].choices = [("", "Select a component")] + [(key, key) for key in self.components]
        if not self.components:
            self.fields["code_source"].choices = [c for c in SOURCES if c[0] != COMPONENT]
        self.fields["code_files"].widget.attrs["data-max-files"] = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        self.fields["environment"].choices = [("", "Select an environment")] + list(environments)
        self.unavailable_environments = unavailable_environments or {}
        self.fields["environment"].widget.unavailable = self.unavailable_environments
        self.fields["compute"].choices = [(c, c) for c in computes]
        if computes and "cpu-cluster" in computes:
            self.fields["compute"].initial = "cpu-cluster"
        self.input_rows = _rows(data, "input") if data is not None else []
        self.output_rows = _rows(data, "output") if data is not None else []
        self.code_paths = data.getlist("code_paths") if data is not None else []
        self.uploads = files.getlist("code_files") if files is not None else []
        # A folder kept on the server from an earlier try of this form (jobs.services.code_stage).
        self.staged_code = data.get("staged_code", "") if data is not None else ""
        self.staged_code_name = data.get("staged_code_name", "") if data is not None else ""
        self.staged_code_folder = data.get("staged_code_folder", "") if data is not None else ""
        self.yaml_text = ""
        self.clone_of = clone_of
        if data is None and clone_of is not None:
            initial, self.input_rows, self.output_rows = initial_from_job(clone_of, components=components)
            self.initial.update(initial)
        if not (data.get("source_job") if data is not None else self.initial.get("source_job")):
            self.fields["code_source"].choices = [c for c in self.fields["code_source"].choices if c[0] != JOB]

    # -- checks that belong to the form (the rest is job_submit's) ------------------------------------

    def clean_tags(self):
        return _key_values(self.cleaned_data.get("tags", ""))

    def clean_environment_variables(self):
        return _key_values(self.cleaned_data.get("environment_variables", ""))

    def clean_environment(self):
        environment = self.cleaned_data.get("environment", "")
        if environment in self.unavailable_environments:
            raise ValidationError(self.unavailable_environments[environment] + " Choose another environment.")
        return environment

    @property
    def component_object(self):
        """The chosen component (a assets.models.Component), when the code comes from one."""
        if getattr(self, "cleaned_data", {}).get("code_source") != COMPONENT:
            return None
        return self.components.get(self.cleaned_data.get("component") or "")

    def clean(self):
        data = super().clean()
        source = data.get("code_source")
        if source == UPLOAD and not self.uploads and not self.staged_code:
            self.add_error("code_files", "Choose the folder with your code (or pick “No code”).")
        if source == JOB and not data.get("source_job"):
            self.add_error("code_source", "Choose where the code comes from.")
        if source == COMPONENT and not data.get("component"):
            self.add_error("component", "Choose the component to run.")
        component_spec = self.component_object.spec if self.component_object else {}
        if not data.get("command") and not component_spec.get("command"):
            self.add_error("command", "Give the command to run.")
        if not data.get("environment") and not component_spec.get("environment"):
            self.add_error("environment", "Choose an environment.")
        for kind, rows in (("input", self.input_rows), ("output", self.output_rows)):
            seen = set()
            for row in rows:
                if not row.name:
                    row.error = f"Give the {kind} a name."
                elif row.name in seen:
                    row.error = f"Two {kind}s are named {row.name!r}."
                seen.add(row.name)
                if kind == "input" and not row.error and not row.is_data:
                    try:
                        _literal(row)
                    except ValidationError as exc:
                        row.error = exc.messages[0]
                if kind == "input" and row.is_data and not row.value and not row.error:
                    row.error = "Give the data's path (azureml://datastores/... or azureml:name:version)."
        if self.rows_have_errors:
            self.add_error(None, ROWS_MESSAGE)
        return data

    @property
    def rows_have_errors(self) -> bool:
        return any(row.error for row in self.input_rows + self.output_rows)

    # -- what job_submit takes ---------------------------------------------------------------------------

    def code_folder_name(self) -> str:
        if not self.uploads and self.staged_code_folder:
            return self.staged_code_folder
        first = next((p for p in self.code_paths if p), "")
        return first.split("/", 1)[0] if "/" in first else "src"

    def spec(self) -> dict:
        """The command job YAML, as a dict in the order people write it."""
        data = self.cleaned_data
        spec: dict = {"$schema": SCHEMA, "type": "command"}
        if data.get("name"):
            spec["name"] = data["name"]
        if data.get("display_name"):
            spec["display_name"] = data["display_name"]
        if data.get("experiment_name"):
            spec["experiment_name"] = data["experiment_name"]
        if data.get("description"):
            spec["description"] = data["description"]
        component = self.component_object
        declared = component.spec if component else {}
        if data.get("code_source") == UPLOAD:
            spec["code"] = f"./{self.code_folder_name()}"
        elif data.get("code_source") == JOB:
            spec["code"] = f"./{data['source_job']}"
        elif component and component.code_path:
            spec["code"] = f"./{component.code_path.rstrip('/').rsplit('/', 1)[-1]}"
        spec["command"] = data.get("command") or declared.get("command")
        spec["environment"] = data.get("environment") or declared.get("environment")
        spec["compute"] = f"azureml:{data['compute']}"
        inputs = _declared_inputs(declared.get("inputs") or {})
        for row in self.input_rows:
            if row.is_data:
                binding = {"type": row.type, "path": row.value}
                if row.mode:
                    binding["mode"] = row.mode
                inputs[row.name] = binding
            else:
                inputs[row.name] = _literal(row)
        if inputs:
            spec["inputs"] = inputs
        outputs = {
            name: {"type": (d.get("type") if isinstance(d, dict) else None) or "uri_folder"}
            for name, d in (declared.get("outputs") or {}).items()
        }
        for row in self.output_rows:
            binding = {"type": row.type or "uri_folder"}
            if row.value:
                binding["path"] = row.value
            if row.mode:
                binding["mode"] = row.mode
            outputs[row.name] = binding
        if outputs:
            spec["outputs"] = outputs
        if data.get("environment_variables"):
            spec["environment_variables"] = data["environment_variables"]
        if data.get("timeout"):
            spec["limits"] = {"timeout": data["timeout"]}
        if data.get("tags"):
            spec["tags"] = data["tags"]
        return spec

    def build_yaml(self) -> str:
        self.yaml_text = yaml.safe_dump(self.spec(), sort_keys=False, allow_unicode=True, width=120)
        return self.yaml_text

    def code_archive(self):
        """The uploaded folder as a zip of its contents (paths relative to the folder), or None.
        A spooled file: a large folder goes to disk, not to memory."""
        if self.cleaned_data.get("code_source") != UPLOAD or not self.uploads:
            return None
        names = self.code_paths if len(self.code_paths) == len(self.uploads) else [u.name for u in self.uploads]
        spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - handed to job_submit
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, upload in zip(names, self.uploads, strict=True):
                relative = name.split("/", 1)[1] if "/" in name else name
                with archive.open(relative or upload.name, "w", force_zip64=True) as target:
                    for chunk in upload.chunks():
                        target.write(chunk)
        spool.seek(0)
        return spool

    # -- job_submit's errors on the fields they name --------------------------------------------------

    FIELD_FOR = {
        "code": "code_files",
        "component": "component",
        "command": "command",
        "environment": "environment",
        "compute": "compute",
        "experiment_name": "experiment_name",
        "display_name": "display_name",
        "name": "name",
        "description": "description",
        "tags": "tags",
        "environment_variables": "environment_variables",
        "limits": "timeout",
    }

    def add_submit_errors(self, exc: ValidationError) -> None:
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        for key, errors in messages.items():
            head, _, rest = key.partition(".")
            if head in ("inputs", "outputs") and rest:
                row_name = rest.split(".", 1)[0]
                rows = self.input_rows if head == "inputs" else self.output_rows
                row = next((r for r in rows if r.name == row_name), None)
                if row is not None:
                    row.error = " ".join(errors)
                    if ROWS_MESSAGE not in self.non_field_errors():
                        self.add_error(None, ROWS_MESSAGE)
                    continue
            field = self.FIELD_FOR.get(head)
            prefix = "" if field or key in ("", "__all__") else f"{key}: "
            self.add_error(field, [prefix + error for error in errors])


class JobFilterForm(forms.Form):
    """The jobs list's filters, from the query string; anything malformed is ignored."""

    search = forms.CharField(required=False, max_length=255)
    status = forms.MultipleChoiceField(required=False)
    experiment = forms.CharField(required=False, max_length=255)
    compute = forms.CharField(required=False, max_length=255)
    tag = forms.CharField(required=False, max_length=255)
    created_after = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_before = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    include_archived = forms.BooleanField(required=False)

    def __init__(self, data=None, *, statuses=()):
        super().__init__(data)
        self.fields["status"].choices = [(s, s) for s in statuses]

    def selector_arguments(self) -> dict:
        """Keyword arguments of jobs.selectors.jobs_for_workspace."""
        from datetime import datetime, time, timedelta

        from django.utils import timezone

        self.is_valid()
        data = {k: v for k, v in self.cleaned_data.items() if v}

        def start_of(day):
            return timezone.make_aware(datetime.combine(day, time.min))

        return {
            "search": data.get("search"),
            "status": data.get("status") or None,
            "experiment": data.get("experiment"),
            "compute": data.get("compute"),
            "tag": data.get("tag"),
            "created_after": start_of(data["created_after"]) if "created_after" in data else None,
            # "before" a day includes that day, as a person reads a date range
            "created_before": start_of(data["created_before"] + timedelta(days=1))
            if "created_before" in data
            else None,
            "include_archived": bool(data.get("include_archived")),
        }

    @property
    def active(self) -> bool:
        return any(self.cleaned_data.get(k) for k in self.fields) if hasattr(self, "cleaned_data") else False
