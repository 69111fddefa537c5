"""The upload limit on the real server (uvicorn + the ASGI guard), where Django's middleware alone
would be too late: a declared Content-Length over the limit and a chunked body that grows past it
are both refused with 413, and nothing reaches the storage folder (SECURITY.md 3)."""

import time
from pathlib import Path

import httpx
import pytest

from tests.studio_process import StudioProcess

from .multipart import CONTENT_TYPE, end, file_part, multipart

pytestmark = pytest.mark.e2e

LIMIT = 1_000_000  # STUDIO_MAX_UPLOAD_SIZE=1MB
FILES_URL = "/api/v1/workspaces/my-workspace/datastores/workspaceblobstore/files"


@pytest.fixture(scope="module")
def small_limit_studio(tmp_path_factory):
    process = StudioProcess(
        tmp_path_factory.mktemp("small-limit"), extra_env={"STUDIO_MAX_UPLOAD_SIZE": "1MB"}, args=("--no-worker",)
    )
    try:
        process.start()
        yield process
    finally:
        process.close()


@pytest.fixture(scope="module")
def client(small_limit_studio):
    with small_limit_studio.client() as client:
        yield client


def stored_files(studio: StudioProcess) -> list[Path]:
    """Every file under the instance's storage folder, hidden partial uploads included."""
    return sorted(p for p in (studio.data_dir / "storage").rglob("*") if p.is_file())


def test_body_with_content_length_over_the_limit_gets_413(small_limit_studio, client):
    before = stored_files(small_limit_studio)
    body = multipart(files=[("big.bin", b"x" * (LIMIT + 1))])
    response = client.post(FILES_URL, content=body, headers={"Content-Type": CONTENT_TYPE})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "RequestEntityTooLarge"
    assert stored_files(small_limit_studio) == before


def test_chunked_body_growing_over_the_limit_gets_413(small_limit_studio, client):
    before = stored_files(small_limit_studio)
    chunk = b"x" * 64 * 1024
    chunks_sent = 0

    def body():
        nonlocal chunks_sent
        yield file_part("files", "big.bin", b"")[:-2]  # headers of the part, then its content in chunks
        for _ in range(2 * LIMIT // len(chunk)):
            chunks_sent += 1
            yield chunk
        yield b"\r\n" + end()

    try:
        response = client.post(FILES_URL, content=body(), headers={"Content-Type": CONTENT_TYPE})
    except httpx.WriteError:
        pytest.fail("The server closed the connection without answering 413")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "RequestEntityTooLarge"
    assert stored_files(small_limit_studio) == before


def test_upload_under_the_limit_goes_through_both_ways(small_limit_studio, client):
    content = b"y" * (LIMIT // 2)
    response = client.post(
        FILES_URL, content=multipart(files=[("half.bin", content)]), headers={"Content-Type": CONTENT_TYPE}
    )
    assert response.status_code == 201, response.text

    def body():
        yield multipart(fields=[("path", "chunked")], files=[("half.bin", content)])

    response = client.post(FILES_URL, content=body(), headers={"Content-Type": CONTENT_TYPE})
    assert response.status_code == 201, response.text
    [stored] = [p for p in stored_files(small_limit_studio) if p.parent.name == "chunked"]
    assert stored.read_bytes() == content


def test_server_keeps_serving_after_refusing_large_bodies(small_limit_studio, client):
    client.post(FILES_URL, content=b"x" * (LIMIT + 10), headers={"Content-Type": CONTENT_TYPE})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if httpx.get(small_limit_studio.url + "/healthz", timeout=2).status_code == 200:
            return
        time.sleep(0.2)
    pytest.fail("The studio stopped answering after a refused upload")
