"""Storage backends behind datastores (django-storages), and the few operations the studio needs
on top of Django's Storage API: listing a folder, walking a tree, deleting a folder.

A folder on the server is read only inside itself: a symbolic link leading out of it is left out of
listings and refused when named (SECURITY.md 36). A registered S3 or Azure datastore reaches only
the endpoint it was registered with and signs its requests only with its own credentials; without
any it is used anonymously, never with the studio's own (SECURITY.md 33, 34).
"""

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.module_loading import import_string

from . import credentials
from .datastore_endpoints import AZURE_DEFAULT_SUFFIX, EndpointRefused, check_datastore_endpoints, is_url
from .models import Datastore, DatastoreKind
from .paths import join

PARTIAL_PREFIX = ".upload-"


class DatastoreUnavailable(Exception):
    """The datastore's backend cannot be reached or is not supported here."""


class OutsideDatastore(SuspiciousFileOperation):
    """A name inside a datastore whose real path, symbolic links followed, is outside it (400)."""


def _within(real_path: str, root: str) -> bool:
    return real_path == root or real_path.startswith(root.rstrip(os.sep) + os.sep)


class AtomicFileSystemStorage(FileSystemStorage):
    """A local folder where a file appears whole or not at all, and a new upload replaces the old.

    Writes go to a hidden temporary file beside the target and are renamed into place. Every name
    is resolved to its real path, and one outside the folder is refused: a symbolic link may lead
    to a file or folder inside it, never out of it.
    """

    def path(self, name):
        real = os.path.realpath(super().path(name))
        if not _within(real, os.path.realpath(self.location)):
            raise OutsideDatastore(f"{name!r} leads outside the datastore through a symbolic link.")
        return real

    def _open(self, name, mode="rb"):
        file = super()._open(name, mode)
        try:  # the file actually opened, in case a link changed since the name was resolved
            opened = os.readlink(f"/proc/self/fd/{file.fileno()}")
        except OSError:
            return file
        if not _within(opened, os.path.realpath(self.location)):
            file.close()
            raise OutsideDatastore(f"{name!r} leads outside the datastore through a symbolic link.")
        return file

    def listdir(self, path):
        folders, files = _listing(self, path)
        return folders, [name for name, _, _ in files]

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


def _s3_client_config(*, signed: bool, custom_endpoint: bool):
    """Unsigned requests without keys of its own (botocore would otherwise sign with the studio's
    environment, ~/.aws or instance metadata); path-style addressing on a custom endpoint, so the
    bucket's name never becomes part of the host; no endpoint taken from the environment."""
    import botocore
    from botocore.config import Config

    return Config(
        signature_version=None if signed else botocore.UNSIGNED,
        s3={"addressing_style": "path" if custom_endpoint else "auto"},
        ignore_configured_endpoint_urls=True,
    )


def _registered_backend(datastore: Datastore) -> Storage:
    secret = credentials.decrypt(datastore.credentials_encrypted)
    if datastore.kind == DatastoreKind.LOCAL:
        return AtomicFileSystemStorage(location=datastore.root)
    try:  # again at each use: a name may resolve elsewhere since it was registered
        check_datastore_endpoints(
            kind=datastore.kind, account_name=datastore.account_name, endpoint=datastore.endpoint, secret=secret
        )
    except EndpointRefused as exc:
        raise DatastoreUnavailable(str(exc)) from exc
    if datastore.kind == DatastoreKind.S3:
        from storages.backends.s3 import S3Storage

        access_key, secret_key = secret.get("access_key_id"), secret.get("secret_access_key")
        return S3Storage(
            bucket_name=datastore.container_name,
            endpoint_url=datastore.endpoint or None,
            access_key=access_key or None,
            secret_key=secret_key or None,
            security_token=None,
            session_profile=None,
            client_config=_s3_client_config(
                signed=bool(access_key and secret_key), custom_endpoint=bool(datastore.endpoint)
            ),
            location=datastore.root,
            file_overwrite=True,
            default_acl=None,
        )
    if datastore.kind == DatastoreKind.AZURE_BLOB:
        from .azure_blob import RegisteredAzureStorage

        endpoint = datastore.endpoint
        return RegisteredAzureStorage(
            account_name=datastore.account_name or None,
            account_key=secret.get("account_key") or None,
            sas_token=secret.get("sas_token") or None,
            connection_string=secret.get("connection_string") or None,
            token_credential=None,
            account_url=endpoint if is_url(endpoint) else None,
            azure_container=datastore.container_name,
            endpoint_suffix=(not is_url(endpoint) and endpoint) or AZURE_DEFAULT_SUFFIX,
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
        root = os.path.realpath(storage.location)
        try:
            with os.scandir(storage.path(path)) as it:
                for item in it:
                    if item.is_symlink() and not _within(os.path.realpath(item.path), root):
                        continue  # a link leading out of the datastore is no part of it
                    try:
                        if item.is_dir():
                            folders.append(item.name)
                            continue
                        stat = item.stat()
                    except OSError:  # a link to nothing
                        continue
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


def walk_files(storage: Storage, path: str, _seen: set[str] | None = None):
    """Every file path below `path` (recursively); a linked folder is walked once."""
    if isinstance(storage, FileSystemStorage):
        _seen = set() if _seen is None else _seen
        real = os.path.realpath(storage.path(path))
        if real in _seen:  # a link to a folder above it would make the walk endless
            return
        _seen.add(real)
    folders, files = _listing(storage, path)
    for name, _, _ in files:
        if not name.startswith(PARTIAL_PREFIX):
            yield join(path, name)
    for folder in folders:
        yield from walk_files(storage, join(path, folder), _seen)


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
