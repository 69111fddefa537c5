"""Storage backends behind datastores (django-storages), and the few operations the studio needs
on top of Django's Storage API: listing a folder, walking a tree, deleting a folder."""

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.module_loading import import_string

from . import credentials
from .models import Datastore, DatastoreKind
from .paths import join

PARTIAL_PREFIX = ".upload-"


class DatastoreUnavailable(Exception):
    """The datastore's backend cannot be reached or is not supported here."""


class AtomicFileSystemStorage(FileSystemStorage):
    """A local folder where a file appears whole or not at all, and a new upload replaces the old.

    Writes go to a hidden temporary file beside the target and are renamed into place.
    """

    def get_available_name(self, name, max_length=None):
        return name

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=PARTIAL_PREFIX, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                if hasattr(content, "chunks"):
                    for chunk in content.chunks():
                        out.write(chunk)
                else:
                    out.write(content.read())
            os.chmod(tmp_path, 0o644)
            os.replace(tmp_path, full_path)
        except BaseException:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)
            raise
        return name.replace("\\", "/")


def _workspace_backend(datastore: Datastore) -> Storage:
    config = settings.STORAGES["workspaces"]
    backend = import_string(config["BACKEND"])
    options = dict(config.get("OPTIONS", {}))
    prefix = join(datastore.storage_account.name, datastore.container_name)
    if issubclass(backend, FileSystemStorage):
        base = Path(options.get("location") or settings.STUDIO_DATA_DIR / "storage")
        options["location"] = str(base / prefix)
        options.pop("base_url", None)
    else:
        options["location"] = join(options.get("location", ""), prefix)
    return backend(**options)


def _registered_backend(datastore: Datastore) -> Storage:
    secret = credentials.decrypt(datastore.credentials_encrypted)
    if datastore.kind == DatastoreKind.LOCAL:
        return AtomicFileSystemStorage(location=datastore.root)
    if datastore.kind == DatastoreKind.S3:
        from storages.backends.s3 import S3Storage

        return S3Storage(
            bucket_name=datastore.container_name,
            endpoint_url=datastore.endpoint or None,
            access_key=secret.get("access_key_id") or None,
            secret_key=secret.get("secret_access_key") or None,
            location=datastore.root,
            file_overwrite=True,
            default_acl=None,
        )
    if datastore.kind == DatastoreKind.AZURE_BLOB:
        from storages.backends.azure_storage import AzureStorage

        return AzureStorage(
            account_name=datastore.account_name or None,
            account_key=secret.get("account_key") or None,
            sas_token=secret.get("sas_token") or None,
            connection_string=secret.get("connection_string") or None,
            azure_container=datastore.container_name,
            endpoint_suffix=datastore.endpoint or "core.windows.net",
            location=datastore.root,
            overwrite_files=True,
        )
    raise DatastoreUnavailable(
        f"Browsing a registered {datastore.get_kind_display()} is not supported by this studio yet."
    )


def datastore_storage(datastore: Datastore) -> Storage:
    if datastore.is_workspace_managed:
        return _workspace_backend(datastore)
    return _registered_backend(datastore)


@dataclass(frozen=True)
class Entry:
    name: str
    path: str
    is_folder: bool
    size: int | None = None
    modified: datetime | None = None


def _object_prefix(storage: Storage, path: str) -> str:
    """The key prefix of a folder in an object store (location included), ending with '/'."""
    location = (getattr(storage, "location", "") or "").strip("/")
    prefix = join(location, path)
    return prefix + "/" if prefix else ""


def _listing(storage: Storage, path: str) -> tuple[list[str], list[tuple[str, int | None, datetime | None]]]:
    """(folder names, [(file name, size, modified)]) directly inside `path`; one round trip per
    page on object stores rather than one per file."""
    from storages.backends.azure_storage import AzureStorage
    from storages.backends.s3 import S3Storage

    if isinstance(storage, FileSystemStorage):
        folders, files = [], []
        try:
            with os.scandir(storage.path(path) if path else storage.location) as it:
                for item in it:
                    if item.is_dir():
                        folders.append(item.name)
                    else:
                        stat = item.stat()
                        files.append((item.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=UTC)))
        except (FileNotFoundError, NotADirectoryError):
            pass
        return folders, files
    prefix = _object_prefix(storage, path)
    if isinstance(storage, S3Storage):
        folders, files = [], []
        paginator = storage.connection.meta.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=prefix, Delimiter="/"):
            folders += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
            files += [
                (o["Key"][len(prefix) :], o["Size"], o["LastModified"])
                for o in page.get("Contents", [])
                if o["Key"] != prefix
            ]
        return folders, files
    if isinstance(storage, AzureStorage):
        folders, files = [], []
        for item in storage.client.walk_blobs(name_starts_with=prefix or None, delimiter="/"):
            name = item.name[len(prefix) :]
            if name.endswith("/"):
                folders.append(name.rstrip("/"))
            elif name:
                files.append((name, item.size, item.last_modified))
        return folders, files
    try:
        folders, names = storage.listdir(path or "")
    except FileNotFoundError:
        return [], []
    return list(folders), [(n, storage.size(join(path, n)), None) for n in names]


def list_folder(storage: Storage, path: str) -> list[Entry]:
    """Folders first, then files, both by name; hidden partial uploads are left out."""
    folders, files = _listing(storage, path)
    entries = [Entry(name=f, path=join(path, f), is_folder=True) for f in sorted(folders)]
    entries += [
        Entry(name=name, path=join(path, name), is_folder=False, size=size, modified=modified)
        for name, size, modified in sorted(files)
        if not name.startswith(PARTIAL_PREFIX)
    ]
    return entries


def walk_files(storage: Storage, path: str):
    """Every file path below `path` (recursively)."""
    folders, files = _listing(storage, path)
    for name, _, _ in files:
        if not name.startswith(PARTIAL_PREFIX):
            yield join(path, name)
    for folder in folders:
        yield from walk_files(storage, join(path, folder))


def is_folder(storage: Storage, path: str) -> bool:
    if not path:
        return True
    if isinstance(storage, FileSystemStorage):
        return os.path.isdir(storage.path(path))
    if storage.exists(path):
        return False
    folders, files = _listing(storage, path)
    return bool(folders or files)


def path_exists(storage: Storage, path: str) -> bool:
    return storage.exists(path) or is_folder(storage, path)


def delete_tree(storage: Storage, path: str) -> int:
    """Delete a file, or a folder with everything in it; returns how many files went."""
    if not is_folder(storage, path):
        storage.delete(path)
        return 1
    count = 0
    for file_path in list(walk_files(storage, path)):
        storage.delete(file_path)
        count += 1
    if isinstance(storage, FileSystemStorage) and path:
        for root, dirs, _ in os.walk(storage.path(path), topdown=False):
            for d in dirs:
                try:
                    os.rmdir(os.path.join(root, d))
                except OSError:
                    pass
        try:
            os.rmdir(storage.path(path))
        except OSError:
            pass
    return count
