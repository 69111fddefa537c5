"""The web server stopped in the middle of an upload (SECURITY.md 25, the upload part): nothing is
left behind, not even a hidden partial file, and the same upload goes through once the studio is
back on the same data directory."""

import os
import threading
from pathlib import Path

import httpx
import pytest

from tests.studio_process import StudioProcess
from tests.workspaces.multipart import CONTENT_TYPE, end, file_part

pytestmark = pytest.mark.e2e

FILES_URL = "/api/v1/workspaces/my-workspace/datastores/workspaceblobstore/files"
CONTENT_URL = FILES_URL + "/content"
CHUNK = 256 * 1024
PAYLOAD = os.urandom(3 * 1024 * 1024 + 17)


def upload_body(*, pause_after_first_chunk: threading.Event | None = None, first_chunk_sent=None):
    """A multipart body for `restart.bin` in chunks; optionally waits after the first chunk."""
    yield file_part("files", "restart.bin", b"")[:-2]
    for offset in range(0, len(PAYLOAD), CHUNK):
        yield PAYLOAD[offset : offset + CHUNK]
        if offset == 0 and pause_after_first_chunk is not None:
            first_chunk_sent.set()
            pause_after_first_chunk.wait(timeout=60)
    yield b"\r\n" + end()


def leftovers(data_dir: Path) -> list[str]:
    """Files in the storage and upload temp folders, and hidden partial uploads anywhere."""
    found = [p for folder in ("storage", "tmp") for p in (data_dir / folder).rglob("*") if p.is_file()]
    found += list(data_dir.rglob(".upload-*"))
    return sorted({str(p.relative_to(data_dir)) for p in found})


@pytest.fixture
def studio_to_restart(tmp_path):
    process = StudioProcess(tmp_path / "data", args=("--no-worker",))
    try:
        process.start()
        yield process
    finally:
        process.close()


def restart(process: StudioProcess) -> None:
    # StudioProcess.start() creates its PostgreSQL database whenever it has no process, so keep it
    # from creating the same one twice.
    database, process.database = process.database, None
    try:
        process.start()
    finally:
        process.database = database


def test_upload_interrupted_by_a_restart_leaves_nothing_and_can_be_retried(studio_to_restart):
    studio = studio_to_restart
    token = studio.token()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPE}
    first_chunk_sent, server_stopped = threading.Event(), threading.Event()
    outcome = {}

    def interrupted_upload():
        try:
            body = upload_body(pause_after_first_chunk=server_stopped, first_chunk_sent=first_chunk_sent)
            outcome["response"] = httpx.post(studio.url + FILES_URL, content=body, headers=headers, timeout=60)
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    uploader = threading.Thread(target=interrupted_upload, daemon=True)
    uploader.start()
    assert first_chunk_sent.wait(timeout=30), "the upload never started"
    assert leftovers(studio.data_dir) == []  # mid-body: nothing stored yet
    studio.stop()
    server_stopped.set()
    uploader.join(timeout=60)
    assert not uploader.is_alive()

    assert "response" not in outcome, f"the interrupted upload was answered: {outcome['response'].status_code}"
    assert leftovers(studio.data_dir) == []

    restart(studio)
    retried = httpx.post(studio.url + FILES_URL, content=upload_body(), headers=headers, timeout=60)
    assert retried.status_code == 201, retried.text
    assert retried.json() == {"uploaded": ["restart.bin"]}

    downloaded = httpx.get(
        studio.url + CONTENT_URL, params={"path": "restart.bin"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert downloaded.status_code == 200
    assert downloaded.content == PAYLOAD
    assert [p for p in leftovers(studio.data_dir) if ".upload-" in p or p.startswith("tmp/")] == []
