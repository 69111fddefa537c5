import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from .roles import Perm, Role, role_allows

workspace_name_validator = RegexValidator(
    r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$",
    "Use 3 to 33 letters, digits, hyphens or underscores, starting with a letter or digit.",
)
datastore_name_validator = RegexValidator(r"^[a-zA-Z0-9_]{1,255}$", "Use letters, digits and underscores only.")


class Workspace(models.Model):
    name = models.CharField(max_length=33, unique=True, validators=[workspace_name_validator])
    guid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def title(self) -> str:
        return self.display_name or self.name


class StorageAccount(models.Model):
    """The storage account created with a workspace (a folder, or a prefix in a bucket/container)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="storage_account")
    name = models.CharField(max_length=24, unique=True)
    kind = models.CharField(max_length=10)  # local, s3 or azure, as configured when created
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class DatastoreKind(models.TextChoices):
    AZURE_BLOB = "azure_blob", "Azure Blob Storage"
    AZURE_FILE = "azure_file", "Azure File Share"
    S3 = "s3", "S3-compatible object storage"
    LOCAL = "local", "Local folder"


class Datastore(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="datastores")
    name = models.CharField(max_length=255, validators=[datastore_name_validator])
    kind = models.CharField(max_length=20, choices=DatastoreKind.choices)
    description = models.TextField(blank=True)
    # For the four datastores of the workspace: its storage account and the container or share.
    storage_account = models.ForeignKey(
        StorageAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="datastores"
    )
    account_name = models.CharField(max_length=255, blank=True)
    container_name = models.CharField(max_length=255, blank=True, help_text="Container, share or bucket")
    endpoint = models.CharField(max_length=255, blank=True)
    root = models.CharField(max_length=1024, blank=True, help_text="Folder or prefix inside it")
    is_default = models.BooleanField(default=False)
    credential_type = models.CharField(max_length=64, default="none")  # e.g. "access_key_id+secret_access_key"
    credentials_encrypted = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="datastore_unique_name"),
            models.UniqueConstraint(
                fields=["workspace"], condition=models.Q(is_default=True), name="one_default_datastore"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_workspace_managed(self) -> bool:
        return self.storage_account_id is not None

    @property
    def is_file_share(self) -> bool:
        return self.kind == DatastoreKind.AZURE_FILE

    def uri(self, path: str = "") -> str:
        return f"azureml://datastores/{self.name}/paths/{path}"


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} as {self.get_role_display()}"

    def allows(self, perm: Perm) -> bool:
        return role_allows(self.role, perm)
