"""MLflow's proxied artifact service, `/api/2.0/mlflow-artifacts/artifacts/...`, over the workspace's datastores.

The client resolves an artifact URI `mlflow-artifacts:/<datastore>/<path>` to
`<tracking URI>/api/2.0/mlflow-artifacts/artifacts/<datastore>/<path>` and calls:

    GET    artifacts?path=<datastore>/<folder>   list a folder: {"files": [{path, is_dir, file_size}]}
    GET    artifacts/<datastore>/<path>          download a file (always an attachment)
    PUT    artifacts/<datastore>/<path>          upload a file; the body is the file's bytes
    DELETE artifacts/<datastore>/<path>          delete a file or a folder

Every path goes through `locations.resolve_artifact_path`: traversal in any encoding, absolute and
drive paths, backslashes, '#' and NUL are INVALID_PARAMETER_VALUE before storage is touched.

Multipart uploads (`mpu/...`) and presigned downloads are not offered: the client asks
`/api/3.0/mlflow/server-info` whether they are, gets no such capability, and sends every file
through the plain PUT and GET above.
"""

import errno
import os
import tempfile

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

from workspaces.downloads import file_response
from workspaces.roles import Perm
from workspaces.storage import DatastoreUnavailable, datastore_storage, delete_tree, is_folder, list_folder
from workspaces.write_guards import check_writable

from .http import Call, by_method, endpoint, invalid, not_found
from .locations import resolve_artifact_path

CHUNK_SIZE = 1024 * 1024


def _storage(datastore):
    try:
        return datastore_storage(datastore)
    except DatastoreUnavailable as exc:
        raise invalid(str(exc)) from None


def _file_path(call: Call, artifact_path: str, *, write: bool = False):
    """(storage, path) of a file or folder below a datastore's root; the root itself is refused,
    and so is a write to a path no route may change (a job's code snapshot)."""
    datastore, path = resolve_artifact_path(call.workspace, artifact_path)
    if not path:
        raise invalid(f"Name a path inside the datastore {datastore.name}, not its root.")
    if write:
        try:
            check_writable(datastore, path, call.access)
        except PermissionDenied as exc:
            raise MlflowException(str(exc), PERMISSION_DENIED) from None
    return _storage(datastore), path


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def list_artifacts(call: Call):
    """The entries directly inside `path`, named relative to it; [] for a file or a missing path.

    Without `path`, the workspace's datastores are listed as folders.
    """
    raw = call.get("path")
    if raw in (None, ""):
        names = call.workspace.datastores.order_by("name").values_list("name", flat=True)
        return {"files": [{"path": name, "is_dir": True} for name in names]}
    datastore, path = resolve_artifact_path(call.workspace, raw)
    storage = _storage(datastore)
    if not is_folder(storage, path):
        return {"files": []}
    files = []
    for entry in list_folder(storage, path):
        item = {"path": entry.name, "is_dir": entry.is_folder}
        if not entry.is_folder and entry.size is not None:
            item["file_size"] = entry.size
        files.append(item)
    return {"files": files}


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def download_artifact(call: Call, artifact_path: str):
    """The file's bytes, streamed, as `application/octet-stream` attachment with `nosniff`."""
    storage, path = _file_path(call, artifact_path)
    if is_folder(storage, path) or not storage.exists(path):
        raise not_found(f"No artifact at {artifact_path[:200]!r}.")
    return file_response(storage, path)


def _receive(request) -> tempfile.NamedTemporaryFile:
    """The request body copied, a chunk at a time, into a temporary file (memory stays flat).

    A body shorter than its Content-Length (the client went away) is refused.
    """
    spool = tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR, prefix="mlflow-artifact-")
    try:
        received = 0
        while chunk := request.read(CHUNK_SIZE):
            spool.write(chunk)
            received += len(chunk)
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) != received:
            raise invalid(f"The upload is incomplete: {received} of {declared} bytes arrived.")
        spool.flush()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


@endpoint(methods=("PUT",), perm=Perm.DATA_WRITE, raw_body=True)
def upload_artifact(call: Call, artifact_path: str):
    """Store the body as the file at `artifact_path`, replacing one already there.

    The body is spooled to a temporary file first and saved only once complete, so a failed
    upload leaves nothing behind (storage writes are atomic: a rename, or one object PUT).
    """
    storage, path = _file_path(call, artifact_path, write=True)
    if is_folder(storage, path):
        raise invalid(f"{artifact_path[:200]!r} is a folder; upload to a file path inside it.")
    with _receive(call.request) as spool:
        try:
            storage.save(path, File(spool, name=os.path.basename(path)))
        except (NotADirectoryError, FileExistsError, IsADirectoryError):
            raise invalid(f"Cannot write {artifact_path[:200]!r}: a file stands where a folder should be.") from None
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            raise invalid(f"Cannot write {artifact_path[:200]!r}: a name in the path is too long.") from None
    return {}


@endpoint(methods=("DELETE",), perm=Perm.DATA_WRITE, raw_body=True)
def delete_artifact(call: Call, artifact_path: str):
    """Delete the file, or the folder with everything in it; a missing path is no error."""
    storage, path = _file_path(call, artifact_path, write=True)
    if is_folder(storage, path) or storage.exists(path):
        delete_tree(storage, path)
    return {}


artifact = by_method(GET=download_artifact, PUT=upload_artifact, DELETE=delete_artifact)

ROUTES = [
    ("artifacts", list_artifacts, "root"),
    ("artifacts/<path:artifact_path>", artifact, "path"),
]
