"""Helpers shared by the data asset tests (tests/assets/test_data_*.py)."""

from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from assets.data import uploads
from workspaces.storage import datastore_storage

API = "/api/v1/workspaces/team-ws/data"


def blob(workspace):
    return workspace.datastores.get(name="workspaceblobstore")


def blob_root(workspace) -> Path:
    return Path(datastore_storage(blob(workspace)).location)


def stored_files(workspace) -> set[str]:
    root = blob_root(workspace)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def put_file(workspace, path: str, content: bytes) -> None:
    datastore_storage(blob(workspace)).save(path, ContentFile(content))


def staged_upload(*, workspace, user, name: str, content: bytes, chunk: int = 5):
    """A finished upload session (sent in `chunk`-byte pieces through the services)."""
    import io

    session = uploads.upload_session_create(workspace=workspace, user=user, file_name=name, size=len(content))
    stream = io.BytesIO(content)
    start = 0
    while start < len(content):
        piece = stream.read(chunk)
        end = start + len(piece) - 1
        uploads.upload_chunk_put(
            session=session,
            content_range=f"bytes {start}-{end}/{len(content)}",
            content_length=str(len(piece)),
            read=io.BytesIO(piece).read,
        )
        start = end + 1
    return session


def api_upload(client, name: str, content: bytes, *, chunk: int = 4, base: str = API) -> str:
    """Upload `content` through the REST API in `chunk`-byte chunks; returns the upload id."""
    created = client.post(f"{base}/uploads", {"file_name": name, "size": len(content)}, format="json")
    assert created.status_code == 201, created.content
    upload_id = created.json()["id"]
    for start in range(0, len(content), chunk):
        piece = content[start : start + chunk]
        response = client.generic(
            "PUT",
            f"{base}/uploads/{upload_id}",
            piece,
            content_type="application/octet-stream",
            HTTP_CONTENT_RANGE=f"bytes {start}-{start + len(piece) - 1}/{len(content)}",
        )
        assert response.status_code == 200, response.content
    return upload_id


CSV = b"id,species,length,width\n1,setosa,5.1,3.5\n2,versicolor,7.0,\n3,virginica,6.3,3.3\n4,setosa,,3.0\n"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Import this into a test module: the production hasher would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
