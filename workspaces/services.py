"""Every write to workspaces, their storage, datastores and members."""

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from core import sandbox
from core.errors import AlreadyExists

from . import credentials, hooks
from .datastore_endpoints import EndpointRefused, azure_account_name, check_datastore_endpoints
from .models import Datastore, DatastoreKind, Membership, StorageAccount, Workspace, datastore_name_validator
from .paths import clean_path, join
from .roles import Role
from .storage import datastore_storage, delete_tree, path_exists
from .write_guards import check_writable

WORKSPACE_DATASTORES = (
    # name, kind, container or share, default
    ("workspaceblobstore", DatastoreKind.AZURE_BLOB, "azureml-blobstore-{guid}", True),
    ("workspaceartifactstore", DatastoreKind.AZURE_BLOB, "azureml", False),
    ("workspaceworkingdirectory", DatastoreKind.AZURE_FILE, "code-{guid}", False),
    ("workspacefilestore", DatastoreKind.AZURE_FILE, "azureml-filestore-{guid}", False),
)
RESERVED_DATASTORE_NAMES = {name for name, *_ in WORKSPACE_DATASTORES}


def _storage_account_name(workspace_name: str) -> str:
    stem = "".join(ch for ch in workspace_name.lower() if ch.isalnum())[:12] or "ws"
    return f"{stem}{secrets.token_hex(6)}"[:24]


def _validate_workspace_fields(*, name: str, display_name: str, description: str) -> None:
    errors = {}
    if not name:
        errors["name"] = "Enter a workspace name."
    elif len(name) > 33:
        errors["name"] = f"At most 33 characters (this one has {len(name)})."
    else:
        try:
            Workspace._meta.get_field("name").run_validators(name)
        except ValidationError as exc:
            errors["name"] = exc.messages[0]
    if len(display_name) > 100:
        errors["display_name"] = "At most 100 characters."
    if len(description) > 10_000:
        errors["description"] = "At most 10,000 characters."
    if errors:
        raise ValidationError(errors)


def workspace_create(*, user, name: str, display_name: str = "", description: str = "") -> Workspace:
    """A workspace with its storage account, the four datastores, and `user` as its Owner."""
    name = (name or "").strip()
    display_name = (display_name or "").strip()
    description = description or ""
    _validate_workspace_fields(name=name, display_name=display_name, description=description)
    if Workspace.objects.filter(name__iexact=name).exists():
        raise AlreadyExists({"name": f"A workspace named {name!r} already exists."})
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(
                name=name, display_name=display_name, description=description, created_by=user
            )
            account = StorageAccount.objects.create(
                workspace=workspace, name=_storage_account_name(name), kind=settings.STUDIO_STORAGE_KIND
            )
            for ds_name, kind, container, is_default in WORKSPACE_DATASTORES:
                Datastore.objects.create(
                    workspace=workspace,
                    name=ds_name,
                    kind=kind,
                    storage_account=account,
                    account_name=account.name,
                    container_name=container.format(guid=workspace.guid),
                    is_default=is_default,
                    credential_type="account_key",
                    created_by=user,
                )
            Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
            hooks.workspace_created(workspace=workspace, user=user)
            for datastore in workspace.datastores.all():
                storage = datastore_storage(datastore)
                if isinstance(storage, FileSystemStorage):
                    Path(storage.location).mkdir(parents=True, exist_ok=True)
    except IntegrityError as exc:
        raise AlreadyExists({"name": f"A workspace named {name!r} already exists."}) from exc
    return workspace


def workspace_update(*, workspace: Workspace, display_name: str, description: str) -> Workspace:
    display_name = (display_name or "").strip()
    _validate_workspace_fields(name=workspace.name, display_name=display_name, description=description or "")
    workspace.display_name = display_name
    workspace.description = description or ""
    workspace.save(update_fields=["display_name", "description"])
    return workspace


# Members ----------------------------------------------------------------------------------------


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."})


def _ensure_an_owner_remains(membership: Membership) -> None:
    if (
        membership.role == Role.OWNER
        and not Membership.objects.filter(workspace=membership.workspace, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise ValidationError({"role": "A workspace must keep at least one Owner."})


@transaction.atomic
def membership_add(*, workspace: Workspace, username: str, role: str) -> Membership:
    _check_role(role)
    user = get_user_model().objects.filter(username=(username or "").strip(), is_active=True).first()
    if user is None:
        raise ValidationError({"username": f"No active user named {username!r}."})
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationError({"username": f"{user.username} is already a member of {workspace.name}."})
    if refusal := sandbox.single_user_refusal():
        raise ValidationError({"username": refusal})
    return Membership.objects.create(workspace=workspace, user=user, role=role)


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    _check_role(role)
    if role != Role.OWNER:
        _ensure_an_owner_remains(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    _ensure_an_owner_remains(membership)
    membership.delete()


# Datastores -------------------------------------------------------------------------------------

CREDENTIAL_FIELDS = {
    DatastoreKind.AZURE_BLOB: ("account_key", "sas_token", "connection_string"),
    DatastoreKind.AZURE_FILE: ("account_key", "sas_token"),
    DatastoreKind.S3: ("access_key_id", "secret_access_key"),
    DatastoreKind.LOCAL: (),
}


@dataclass
class DatastoreSpec:
    name: str
    kind: str
    account_name: str = ""
    container_name: str = ""
    endpoint: str = ""
    root: str = ""
    description: str = ""
    credentials: dict | None = None


def _overlap(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def _local_root(raw: str, *, workspace: Workspace) -> str:
    """The real path of a local datastore's folder: inside an allowed root, clear of the studio's
    own folders (but for the data directory's `shared` folder) and of other workspaces' datastores."""
    if not raw:
        raise ValidationError({"root": "Give the folder this datastore points to."})
    root = Path(raw).expanduser().resolve()
    allowed = [Path(p).resolve() for p in settings.STUDIO_LOCAL_DATASTORE_ROOTS]
    if not any(root == base or base in root.parents for base in allowed):
        raise ValidationError(
            {
                "root": f"A local datastore must be inside {', '.join(map(str, allowed))} "
                "(set STUDIO_LOCAL_DATASTORE_ROOTS to allow other folders)."
            }
        )
    data_dir = Path(settings.STUDIO_DATA_DIR).resolve()
    studio_folders = [data_dir]
    workspace_storage = settings.STORAGES["workspaces"]
    if issubclass(import_string(workspace_storage["BACKEND"]), FileSystemStorage):
        studio_folders.append(Path(workspace_storage.get("OPTIONS", {}).get("location") or data_dir).resolve())
    shared = data_dir / "shared"
    if not (root == shared or shared in root.parents) and any(_overlap(root, f) for f in studio_folders):
        raise ValidationError(
            {"root": f"A local datastore cannot use the studio's data directory, only folders in {shared}."}
        )
    others = Datastore.objects.filter(kind=DatastoreKind.LOCAL).exclude(workspace=workspace)
    if any(_overlap(root, Path(other).resolve()) for other in others.values_list("root", flat=True)):
        raise ValidationError(
            {"root": "This folder is, holds or lies inside the folder of a datastore of another workspace."}
        )
    return str(root)


def _studio_storage_error(*, kind: str, account_name: str, container: str, secret: dict) -> dict[str, str]:
    """An error naming `container_name` when it is the studio's own bucket or container."""
    options = settings.STORAGES["workspaces"].get("OPTIONS", {})
    container = container.strip().lower()
    if not container:
        return {}
    refused = {"container_name": "This is the studio's own storage; it cannot be registered as a datastore."}
    if settings.STUDIO_STORAGE_KIND == "s3" and kind == DatastoreKind.S3:
        # A bucket's name is unique across its cloud: the same name is the same bucket.
        return refused if container == (options.get("bucket_name") or "").lower() else {}
    if settings.STUDIO_STORAGE_KIND == "azure" and kind == DatastoreKind.AZURE_BLOB:
        if container != (options.get("azure_container") or "").lower():
            return {}
        studio_account = azure_account_name(
            account_name=options.get("account_name") or "", connection_string=options.get("connection_string") or ""
        )
        account = azure_account_name(account_name=account_name, connection_string=secret.get("connection_string", ""))
        return refused if not studio_account or account == studio_account else {}
    return {}


def datastore_register(*, workspace: Workspace, user, spec: DatastoreSpec) -> Datastore:
    errors: dict[str, str] = {}
    name = (spec.name or "").strip()
    try:
        datastore_name_validator(name)
    except ValidationError as exc:
        errors["name"] = exc.messages[0] if name else "Enter a datastore name."
    if spec.kind not in DatastoreKind.values:
        errors["kind"] = f"Unknown kind {spec.kind!r}; choose one of {', '.join(DatastoreKind.values)}."
    if errors:
        raise ValidationError(errors)
    if spec.kind == DatastoreKind.LOCAL and not user.is_superuser:
        raise PermissionDenied(
            "Only studio administrators can register a local datastore: it reads and writes a folder on the server."
        )
    if name in RESERVED_DATASTORE_NAMES or Datastore.objects.filter(workspace=workspace, name=name).exists():
        raise AlreadyExists({"name": f"A datastore named {name!r} already exists in {workspace.name}."})

    secret = {k: v for k, v in (spec.credentials or {}).items() if v}
    unknown = set(secret) - set(CREDENTIAL_FIELDS[spec.kind])
    if unknown:
        raise ValidationError(
            {"credentials": f"Not a credential of a {spec.kind} datastore: {', '.join(sorted(unknown))}."}
        )
    root = spec.root.strip()
    if spec.kind == DatastoreKind.LOCAL:
        root = _local_root(root, workspace=workspace)
    else:
        if (
            spec.kind in (DatastoreKind.AZURE_BLOB, DatastoreKind.AZURE_FILE)
            and not spec.account_name
            and "connection_string" not in secret
        ):
            errors["account_name"] = "Give the storage account name."
        if not spec.container_name:
            errors["container_name"] = {
                DatastoreKind.AZURE_BLOB: "Give the blob container name.",
                DatastoreKind.AZURE_FILE: "Give the file share name.",
                DatastoreKind.S3: "Give the bucket name.",
            }[spec.kind]
        if root:
            root = clean_path(root, field="root")
        errors |= _studio_storage_error(
            kind=spec.kind, account_name=spec.account_name, container=spec.container_name, secret=secret
        )
        try:
            check_datastore_endpoints(
                kind=spec.kind,
                account_name=spec.account_name,
                endpoint=spec.endpoint,
                secret=secret,
                unresolved_ok=True,
            )
        except EndpointRefused as exc:
            errors.setdefault(exc.field, str(exc))
        if errors:
            raise ValidationError(errors)
    credential_type = "+".join(sorted(secret)) if secret else "none"
    with transaction.atomic():
        datastore = Datastore.objects.create(
            workspace=workspace,
            name=name,
            kind=spec.kind,
            account_name=spec.account_name.strip(),
            container_name=spec.container_name.strip(),
            endpoint=spec.endpoint.strip(),
            root=root,
            description=spec.description or "",
            credential_type=credential_type,
            credentials_encrypted=credentials.encrypt(secret),
            created_by=user,
        )
    if spec.kind == DatastoreKind.LOCAL:
        Path(root).mkdir(parents=True, exist_ok=True)
    return datastore


def datastore_unregister(*, datastore: Datastore) -> None:
    """Remove a registered datastore (its data stays where it is)."""
    if datastore.is_workspace_managed:
        raise ValidationError({"name": f"{datastore.name} belongs to the workspace and cannot be removed."})
    datastore.delete()


# Files in a datastore ---------------------------------------------------------------------------


def datastore_upload_files(
    *,
    datastore: Datastore,
    folder: str,
    files: list[tuple[str, object]],
    names_field: str = "files",
    access=None,
) -> list[str]:
    """Store uploaded files under `folder`; each name may hold sub-folders (a folder upload).

    Every path is checked before anything is written (also against the paths `access` may not
    write), and if any write fails the files already written by this call are removed again.
    `names_field` is the form field a bad name is reported under: "files" for the uploads' own
    names, "relative_paths" when the client sent those.
    """
    folder = clean_path(folder, field="path")
    if not files:
        raise ValidationError({"files": "Choose at least one file to upload."})
    targets = []
    for relative_name, upload in files:
        relative = clean_path(relative_name, field=names_field, allow_root=False)
        targets.append((join(folder, relative), upload))
        check_writable(datastore, targets[-1][0], access)
    storage = datastore_storage(datastore)
    written: list[str] = []
    try:
        for path, upload in targets:
            if hasattr(upload, "seek"):
                upload.seek(0)
            try:
                written.append(storage.save(path, upload))
            except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
                raise ValidationError(
                    {"files": f"{path!r} collides with an existing folder or file of the same name."}
                ) from exc
    except BaseException:
        for path in written:
            storage.delete(path)
        raise
    return written


def datastore_delete_path(*, datastore: Datastore, path: str, access=None) -> int:
    """Delete a file or a whole folder; returns how many files were removed."""
    path = clean_path(path, field="path", allow_root=False)
    check_writable(datastore, path, access)
    storage = datastore_storage(datastore)
    if not path_exists(storage, path):
        raise ValidationError({"path": f"Nothing at {path!r} in {datastore.name}."})
    return delete_tree(storage, path)
