"""The seed's four asset kinds: data, environments, models and components.

Each is versioned by name + version within a workspace and addressable as `azureml:name:version`
or `azureml:name@latest` (see assets/references.py).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from workspaces.models import Datastore, Workspace

asset_name_validator = RegexValidator(
    r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$",
    "Use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 255).",
)
asset_version_validator = RegexValidator(
    r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,29}$", "Use letters, digits, '-', '_' and '.' (at most 30)."
)


class VersionedAsset(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255, validators=[asset_name_validator])
    version = models.CharField(max_length=30, validators=[asset_version_validator])
    description = models.TextField(blank=True, help_text="Markdown")
    tags = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    is_archived = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    # Set by subclasses: the Azure ML name of the kind ("data", "environments", ...).
    kind = ""

    class Meta:
        abstract = True
        ordering = ["name", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def reference(self) -> str:
        return f"azureml:{self.name}:{self.version}"

    def check_changeable(self) -> None:
        """Raises ValidationError if this version may not be archived, restored or edited."""


class DataType(models.TextChoices):
    URI_FILE = "uri_file", "File (uri_file)"
    URI_FOLDER = "uri_folder", "Folder (uri_folder)"
    MLTABLE = "mltable", "Table (mltable)"


class DataAsset(VersionedAsset):
    kind = "data"
    type = models.CharField(max_length=20, choices=DataType.choices)
    datastore = models.ForeignKey(Datastore, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=1024, help_text="Path inside the datastore")
    original_name = models.CharField(max_length=255, blank=True, help_text="The uploaded file or folder's name")
    size = models.BigIntegerField(null=True, blank=True)
    file_count = models.IntegerField(null=True, blank=True)

    class Meta(VersionedAsset.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name", "version"], name="data_unique_version"),
        ]

    @property
    def uri(self) -> str:
        suffix = "/" if self.type != DataType.URI_FILE and self.path else ""
        return self.datastore.uri(self.path + suffix)


class BuildStatus(models.TextChoices):
    NOT_STARTED = "NotStarted", "Not started"
    BUILDING = "Building", "Building"
    SUCCEEDED = "Succeeded", "Succeeded"
    FAILED = "Failed", "Failed"


class EnvironmentBuild(models.Model):
    """One isolated virtualenv in the registry folder, shared by every environment whose resolved
    spec hashes the same (the seed's "image in the container registry")."""

    spec_hash = models.CharField(max_length=64, unique=True)
    spec = models.JSONField(help_text="The resolved spec: python version and pip requirements")
    status = models.CharField(max_length=20, choices=BuildStatus.choices, default=BuildStatus.NOT_STARTED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.spec_hash[:12]} ({self.status})"


class Environment(VersionedAsset):
    kind = "environments"
    # Curated environments ship with the studio and belong to no workspace.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    is_curated = models.BooleanField(default=False)
    image = models.CharField(max_length=500, blank=True)
    conda_file = models.TextField(blank=True, help_text="conda.yaml as given")
    pip_requirements = models.TextField(blank=True, help_text="requirements.txt as given")
    build = models.ForeignKey(
        EnvironmentBuild, on_delete=models.PROTECT, null=True, blank=True, related_name="environments"
    )

    class Meta(VersionedAsset.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name", "version"], name="environment_unique_version"),
            models.UniqueConstraint(
                fields=["name", "version"],
                condition=models.Q(workspace__isnull=True),
                name="curated_environment_unique_version",
            ),
        ]

    def check_changeable(self) -> None:
        if self.is_curated:
            raise ValidationError({"name": "Curated environments ship with the studio and cannot be changed."})


class ModelType(models.TextChoices):
    CUSTOM = "custom_model", "Custom (custom_model)"
    MLFLOW = "mlflow_model", "MLflow (mlflow_model)"
    TRITON = "triton_model", "Triton (triton_model)"


class Model(VersionedAsset):
    kind = "models"
    type = models.CharField(max_length=20, choices=ModelType.choices)
    datastore = models.ForeignKey(Datastore, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=1024)
    flavors = models.JSONField(default=dict, blank=True)
    signature = models.JSONField(default=dict, blank=True)
    input_example = models.JSONField(null=True, blank=True)
    # Lineage: the job that produced it (filled by jobs and by MLflow's register_model).
    job_name = models.CharField(max_length=255, blank=True)
    # MLflow model version fields: where it was registered from, and the logged model behind it.
    source = models.CharField(max_length=1024, blank=True)
    model_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, default="READY")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(VersionedAsset.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name", "version"], name="model_unique_version"),
        ]

    @property
    def uri(self) -> str:
        return self.datastore.uri(self.path)


class RegisteredModel(models.Model):
    """A model name in the registry: what MLflow calls a registered model. Its versions are the
    Model rows of that name; this row holds what belongs to the name (description, tags, aliases)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255, validators=[asset_name_validator])
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="registered_model_unique_name")]

    def __str__(self) -> str:
        return self.name


class ModelAlias(models.Model):
    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=255)
    version = models.CharField(max_length=30)

    class Meta:
        ordering = ["alias"]
        constraints = [models.UniqueConstraint(fields=["registered_model", "alias"], name="model_alias_unique")]

    def __str__(self) -> str:
        return f"{self.registered_model.name}@{self.alias}"


class Component(VersionedAsset):
    kind = "components"
    type = models.CharField(max_length=30, default="command")
    display_name = models.CharField(max_length=255, blank=True)
    spec = models.JSONField(help_text="The validated component spec as a dict")
    yaml = models.TextField(help_text="The YAML as given")
    datastore = models.ForeignKey(Datastore, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    code_path = models.CharField(max_length=1024, blank=True, help_text="The code snapshot inside the datastore")

    class Meta(VersionedAsset.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name", "version"], name="component_unique_version"),
        ]


class UploadSession(models.Model):
    """A resumable upload: chunks are written into a staging file until the upload completes.

    `received` is where the bytes received so far stop being contiguous from byte 0. A `parallel`
    upload also takes chunks at any offset, several at once; the runs it holds beyond `received`
    are its UploadRange rows.
    """

    id = models.UUIDField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    file_name = models.CharField(max_length=1024, help_text="Relative path as the user gave it (metadata only)")
    size = models.BigIntegerField()
    received = models.BigIntegerField(default=0, help_text="Bytes [0, received) are all in")
    parallel = models.BooleanField(default=False, help_text="Chunks may come in any order, several at once")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.file_name} ({self.received}/{self.size})"


class UploadRange(models.Model):
    """Bytes [start, end) of a parallel upload, received beyond its contiguous `received` prefix.

    An upload's ranges never overlap or touch one another, and all start after `received`: a chunk
    that joins two of them merges them into one row (assets/data/uploads.py chunk_commit).
    """

    upload = models.ForeignKey(UploadSession, on_delete=models.CASCADE, related_name="ranges")
    start = models.BigIntegerField()
    end = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["upload", "start"], name="upload_range_start")]

    def __str__(self) -> str:
        return f"{self.upload_id}: {self.start}-{self.end}"
