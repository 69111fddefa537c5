"""Every write to data assets: create (from uploads, a datastore path, a URI or YAML), edit,
delete (archive and restore: assets/versioning.py)."""

import contextlib
import os
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.db.models import Q

from assets.models import DataAsset, DataType, UploadSession
from assets.versioning import DuplicateVersion, validate_name_and_version
from assets.yaml_errors import compose, with_lines
from workspaces.paths import clean_path, join, parse_datastore_uri
from workspaces.selectors import datastore_by_name, default_datastore
from workspaces.storage import DatastoreUnavailable, datastore_storage, delete_tree, is_folder, walk_files

from . import uploads as upload_sessions
from .mltable_file import MLTABLE_FILE, parse_mltable
from .spec import is_local_path, parse_data_yaml

UPLOAD_PREFIX = "LocalUpload"
MAX_DESCRIPTION = 100_000
MAX_TAGS = 50
MAX_UPLOAD_FILES = 10_000
MAX_WALK_FILES = 100_000


@dataclass
class UploadedFile:
    """A completed upload and its path inside the asset (e.g. `data/train.csv` for a folder)."""

    upload_id: str
    path: str = ""


@dataclass
class DataAssetSpec:
    name: str
    version: str | None = None
    type: str = DataType.URI_FOLDER
    description: str = ""
    tags: dict = field(default_factory=dict)
    # One of: an azureml://datastores/<name>/paths/<path> URI; `datastore` + a path inside it;
    # or `uploads` (then `path` is only the local name the user gave, kept as metadata).
    path: str = ""
    datastore: str = ""
    uploads: list[UploadedFile] = field(default_factory=list)


# Page names under /workspaces/<ws>/data/ that an asset name would hide.
RESERVED_DATA_NAMES = {"uploads", "create"}


def _validate_fields(spec: DataAssetSpec) -> dict:
    errors = {}
    try:
        validate_name_and_version(model=DataAsset, name=spec.name, version=spec.version)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if spec.name in RESERVED_DATA_NAMES:
        errors["name"] = [f"{spec.name!r} is reserved by the studio's pages; choose another name."]
    if spec.type not in DataType.values:
        errors["type"] = [f"Unknown type {spec.type!r}; use one of {', '.join(DataType.values)}."]
    if len(spec.description or "") > MAX_DESCRIPTION:
        errors["description"] = [f"At most {MAX_DESCRIPTION} characters."]
    errors.update(_tag_errors(spec.tags))
    return errors


def _tag_errors(tags) -> dict:
    if not isinstance(tags, dict):
        return {"tags": ["Give tags as a mapping of names to values."]}
    if len(tags) > MAX_TAGS:
        return {"tags": [f"At most {MAX_TAGS} tags."]}
    for key, value in tags.items():
        if not str(key).strip() or len(str(key)) > 255 or len(str(value)) > 1000:
            return {"tags": [f"Tag names are 1 to 255 characters and values at most 1000 (check {str(key)[:50]!r})."]}
    return {}


def _check_new_version(workspace, spec: DataAssetSpec) -> None:
    if spec.version and DataAsset.objects.filter(workspace=workspace, name=spec.name, version=spec.version).exists():
        raise DuplicateVersion(f"data asset {spec.name}:{spec.version} already exists in {workspace.name}.")


def _resolve_datastore_path(workspace, spec: DataAssetSpec):
    """(datastore, cleaned path) for a URI or a datastore + path; the path must exist and fit the type."""
    if not spec.path and not spec.datastore:
        raise ValidationError({"path": "Give a path: upload files, or name a datastore path or azureml:// URI."})
    if spec.path.startswith("azureml://"):
        name, path = parse_datastore_uri(spec.path, field="path")
        if spec.datastore and spec.datastore != name:
            raise ValidationError({"datastore": f"The path names datastore {name!r}, not {spec.datastore!r}."})
    elif "://" in spec.path or spec.path.startswith("azureml:"):
        raise ValidationError(
            {"path": "Use azureml://datastores/<name>/paths/<path>, or a path inside the chosen datastore."}
        )
    else:
        name = spec.datastore or default_datastore(workspace=workspace).name
        path = clean_path(spec.path, field="path", allow_root=spec.type != DataType.URI_FILE)
    datastore = datastore_by_name(workspace=workspace, name=name)
    if datastore is None:
        field_name = "datastore" if spec.datastore and not spec.path.startswith("azureml://") else "path"
        raise ValidationError({field_name: f"No datastore named {name!r} in {workspace.name}."})
    try:
        storage = datastore_storage(datastore)
        folder = is_folder(storage, path)
        exists = folder or storage.exists(path)
    except DatastoreUnavailable as exc:
        raise ValidationError({"path": str(exc)})
    if not exists:
        raise ValidationError({"path": f"Nothing at {path!r} in {datastore.name}."})
    if spec.type == DataType.URI_FILE and folder:
        raise ValidationError({"path": f"{path!r} is a folder; a uri_file asset needs a file (or use uri_folder)."})
    if spec.type != DataType.URI_FILE and not folder:
        raise ValidationError({"path": f"{path!r} is a file; a {spec.type} asset needs a folder."})
    if spec.type == DataType.MLTABLE:
        try:
            with storage.open(join(path, MLTABLE_FILE), "rb") as handle:
                parse_mltable(handle.read(256 * 1024).decode("utf-8", errors="replace"))
        except FileNotFoundError:
            raise ValidationError({"path": f"An mltable asset needs an {MLTABLE_FILE} file in {path!r}."})
    return datastore, storage, path, folder


def _measure(storage, path: str, folder: bool) -> tuple[int | None, int | None]:
    if not folder:
        return storage.size(path), 1
    size = count = 0
    for file_path in walk_files(storage, path):
        count += 1
        if count > MAX_WALK_FILES:
            return None, None
        size += storage.size(file_path)
    return size, count


@dataclass
class _Placed:
    session: UploadSession
    relative: str


def _upload_layout(*, workspace, user, spec: DataAssetSpec) -> tuple[list[_Placed], str, str]:
    """(the uploads with their paths inside the asset, the asset's path below the upload folder, its
    original name). Checks every upload is the user's, complete, and named safely."""
    if len(spec.uploads) > MAX_UPLOAD_FILES:
        raise ValidationError({"uploads": f"At most {MAX_UPLOAD_FILES} files per data asset."})
    ids = []
    for item in spec.uploads:
        try:
            ids.append(uuid.UUID(str(item.upload_id)))
        except ValueError:
            raise ValidationError({"uploads": f"{str(item.upload_id)[:50]!r} is not an upload id."})
    sessions = {s.pk: s for s in UploadSession.objects.filter(pk__in=ids, workspace=workspace, created_by=user)}
    placed, seen = [], set()
    for item, upload_id in zip(spec.uploads, ids, strict=True):
        session = sessions.get(upload_id)
        if session is None:
            raise ValidationError({"uploads": f"No upload {upload_id} of yours in {workspace.name}."})
        if session.received != session.size:
            missing = upload_sessions.describe_ranges(upload_sessions.missing_ranges(session))
            raise ValidationError(
                {
                    "uploads": f"Upload {upload_id} ({session.file_name}) has {session.received} of {session.size}"
                    f" bytes; missing: {missing}."
                }
            )
        staged = upload_sessions.staging_path(session.pk)
        if not staged.is_file() or staged.stat().st_size != session.size:
            raise ValidationError({"uploads": f"Upload {upload_id} ({session.file_name}) is damaged; upload it again."})
        if not upload_sessions.staging_idle(session.pk):
            raise ValidationError(
                {"uploads": f"Upload {upload_id} ({session.file_name}) is still receiving a chunk; try again."}
            )
        relative = clean_path(item.path or session.file_name, field="uploads", allow_root=False)
        if relative in seen:
            raise ValidationError({"uploads": f"Two uploads are both named {relative!r}."})
        seen.add(relative)
        placed.append(_Placed(session, relative))
    if spec.type == DataType.URI_FILE:
        if len(placed) != 1:
            raise ValidationError({"uploads": "A uri_file asset is one file: upload exactly one."})
        name = placed[0].relative.rsplit("/", 1)[-1]
        return placed, name, name
    tops = {p.relative.split("/", 1)[0] for p in placed}
    shared_top = len(tops) == 1 and all("/" in p.relative for p in placed)
    folder = tops.pop() if shared_top else ""
    if spec.type == DataType.MLTABLE and join(folder, MLTABLE_FILE) not in seen:
        raise ValidationError({"uploads": f"An mltable asset needs an {MLTABLE_FILE} file at the top of its folder."})
    if spec.type == DataType.MLTABLE:
        mltable = next(p for p in placed if p.relative == join(folder, MLTABLE_FILE))
        with open(upload_sessions.staging_path(mltable.session.pk), "rb") as handle:
            parse_mltable(handle.read(256 * 1024).decode("utf-8", errors="replace"))
    return placed, folder, folder or (spec.path.rstrip("/").rsplit("/", 1)[-1] if spec.path else "")


def _place(storage, source, target: str) -> None:
    """Put a staged file at `target` in the datastore: a hard link on the same local disk (instant,
    and the staged file stays until the asset exists), a streamed copy otherwise."""
    if isinstance(storage, FileSystemStorage):
        full = storage.path(target)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        try:
            os.link(source, full)
            return
        except OSError:
            pass
    with open(source, "rb") as handle:
        storage.save(target, File(handle))


def _create_from_uploads(*, workspace, user, spec: DataAssetSpec) -> DataAsset:
    placed, inner, original_name = _upload_layout(workspace=workspace, user=user, spec=spec)
    datastore = default_datastore(workspace=workspace)
    storage = datastore_storage(datastore)
    base = f"{UPLOAD_PREFIX}/{uuid.uuid4().hex}"
    try:
        for item in placed:
            _place(storage, upload_sessions.staging_path(item.session.pk), join(base, item.relative))
        asset = _insert(
            workspace=workspace,
            user=user,
            spec=spec,
            datastore=datastore,
            path=join(base, inner),
            original_name=original_name,
            size=sum(item.session.size for item in placed),
            file_count=len(placed),
        )
    except BaseException:
        with contextlib.suppress(Exception):
            delete_tree(storage, base)
        raise
    for item in placed:
        upload_sessions.upload_session_discard(session=item.session)
    return asset


def _insert(*, workspace, user, spec: DataAssetSpec, **fields) -> DataAsset:
    from assets.versioning import create_version

    with transaction.atomic():
        return create_version(
            model=DataAsset,
            workspace=workspace,
            name=spec.name,
            version=spec.version or None,
            type=spec.type,
            description=spec.description or "",
            tags={str(k): str(v) for k, v in (spec.tags or {}).items()},
            created_by=user,
            **fields,
        )


def data_asset_create(*, workspace, user, spec: DataAssetSpec) -> DataAsset:
    """A new version of a data asset; everything is checked before any file moves, and a failure
    part-way removes the files already placed."""
    spec.name = (spec.name or "").strip()
    spec.version = (str(spec.version).strip() if spec.version is not None else "") or None
    errors = _validate_fields(spec)
    if errors:
        raise ValidationError(errors)
    _check_new_version(workspace, spec)
    if spec.uploads:
        return _create_from_uploads(workspace=workspace, user=user, spec=spec)
    datastore, storage, path, folder = _resolve_datastore_path(workspace, spec)
    size, count = _measure(storage, path, folder)
    return _insert(
        workspace=workspace,
        user=user,
        spec=spec,
        datastore=datastore,
        path=path,
        original_name=path.rsplit("/", 1)[-1],
        size=size,
        file_count=count,
    )


def data_asset_create_from_yaml(
    *, workspace, user, text: str, uploads: list[UploadedFile] = (), name: str = "", version: str = ""
) -> DataAsset:
    """`az ml data create -f data.yml`: the YAML validated by azure-ai-ml; a local `path:` must come
    with its uploaded files. `name`/`version` override the YAML's, as `--name`/`--version` do."""
    data = parse_data_yaml(text)
    spec = DataAssetSpec(
        name=name or data.name,
        version=version or data.version,
        type=data.type,
        description=data.description,
        tags=data.tags,
        path=data.path,
        uploads=list(uploads),
    )
    try:
        if is_local_path(data.path) and not uploads:
            raise ValidationError(
                {"path": f"{data.path!r} is a local path: upload its files with it (`studio data create --file`)."}
            )
        return data_asset_create(workspace=workspace, user=user, spec=spec)
    except ValidationError as exc:
        raise with_lines(exc, compose(text)) from exc


def data_asset_update(*, asset: DataAsset, description: str | None = None, tags: dict | None = None) -> DataAsset:
    errors = {}
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors["description"] = f"At most {MAX_DESCRIPTION} characters."
    if tags is not None:
        errors.update(_tag_errors(tags))
    if errors:
        raise ValidationError(errors)
    if description is not None:
        asset.description = description
    if tags is not None:
        asset.tags = {str(k).strip(): str(v) for k, v in tags.items()}
    asset.save(update_fields=["description", "tags"])
    return asset


def data_asset_delete(*, asset: DataAsset) -> None:
    """Remove the version; files the studio uploaded for it (LocalUpload/<id>/) go too, data that
    was registered from a datastore path stays where it is."""
    upload_folder = ""
    parts = asset.path.split("/")
    if len(parts) >= 2 and parts[0] == UPLOAD_PREFIX and asset.datastore.is_default:
        upload_folder = join(*parts[:2])
    with transaction.atomic():
        asset.delete()
        still_used = (
            upload_folder
            and DataAsset.objects.filter(
                Q(path=upload_folder) | Q(path__startswith=upload_folder + "/"), workspace=asset.workspace
            ).exists()
        )
    if upload_folder and not still_used:
        delete_tree(datastore_storage(asset.datastore), upload_folder)
