"""A job's code snapshot digest: recorded when the job is submitted, checked by the node before the
code runs, so a snapshot changed in between (by any means) never runs under the job's name.

The digest is SHA-256 over the sorted list of `<relative path>\\0<SHA-256 of the content>\\n`.
"""

import hashlib
import re
from pathlib import Path

from django.core.files.storage import Storage

from workspaces.storage import walk_files

CHUNK = 1024 * 1024
ARTIFACT_STORE = "workspaceartifactstore"
# ExperimentRun/dcid.<job>/code and everything below it; deleting a folder that holds it is refused too.
_SNAPSHOT = re.compile(r"^ExperimentRun/dcid\.[^/]+/code(/.*)?$")
_HOLDS_SNAPSHOTS = re.compile(r"^(ExperimentRun(/dcid\.[^/]+)?)?$")


_JOB_FOLDER = re.compile(r"^ExperimentRun/dcid\.([^/]+)(/|$)")


def snapshot_guard(datastore, path: str, access=None) -> str:
    """Why `path` may not be written or deleted through any route ('' if it may): a job's code
    snapshot is fixed when the job is submitted, and a job's own token writes no other job's folder."""
    if getattr(datastore, "name", "") != ARTIFACT_STORE or not getattr(datastore, "is_workspace_managed", True):
        return ""
    path = path.strip("/")
    if _SNAPSHOT.match(path) or _HOLDS_SNAPSHOTS.match(path):
        return (
            f"{path or 'The datastore root'} holds job code snapshots, which cannot be changed after "
            "submission: submit a new job with the new code."
        )
    if getattr(access, "job", "") and not _own_folder(access, path):
        return f"A job's token writes only its own run's folders in {ARTIFACT_STORE}, not {path[:200]}."
    return ""


def _own_folder(access, path: str) -> bool:
    from .models import Job
    from .selectors import started_by_the_job

    match = _JOB_FOLDER.match(path)
    if not match:
        return False
    job = Job.objects.filter(workspace=access.workspace, name=match[1]).only("pk", "parent_id").first()
    return job is not None and started_by_the_job(access, job)


def _file_digest(handle) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _combine(entries: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(entries):
        digest.update(f"{path}\0{entries[path]}\n".encode())
    return digest.hexdigest()


def storage_digest(storage: Storage, prefix: str) -> str:
    """The digest of every file below `prefix` in a datastore."""
    entries = {}
    start = len(prefix.rstrip("/")) + 1
    for path in walk_files(storage, prefix):
        with storage.open(path, "rb") as handle:
            entries[path[start:]] = _file_digest(handle)
    return _combine(entries)


def folder_digest(folder: Path) -> str:
    """The digest of every regular file below a local folder (symlinks are not part of a snapshot)."""
    entries = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                entries[path.relative_to(folder).as_posix()] = _file_digest(handle)
    return _combine(entries)
