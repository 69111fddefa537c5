"""`studio data`'s chunked upload against an in-memory stand-in for the upload API: it resumes
after lost connections from where the studio says it stands, and gives up after too many."""

import json
import re

import httpx
import pytest

from assets.data.selectors import data_asset_files
from cli.client import StudioClient
from cli.data import upload_file
from cli.errors import ApiError, CliError
from cli.main import main

UPLOADS = "workspaces/ws/data/uploads"


class FakeUploads:
    """POST/GET/PUT of the upload API, with connections that fail on the PUTs listed in `fail_puts`."""

    def __init__(self, *, chunk_size=4, fail_puts=(), partial=False):
        self.chunk_size, self.fail_puts, self.partial = chunk_size, set(fail_puts), partial
        self.puts, self.data, self.size, self.received = 0, bytearray(), 0, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            self.size = body["size"]
            self.data = bytearray(self.size)
            return httpx.Response(201, json={"id": "u1", "received": 0, "chunk_size": self.chunk_size})
        if request.method == "GET":
            return httpx.Response(200, json={"received": self.received})
        self.puts += 1
        start, end, _ = map(int, re.match(r"bytes (\d+)-(\d+)/(\d+)", request.headers["Content-Range"]).groups())
        if self.puts in self.fail_puts:
            if self.partial:  # the chunk arrived, the answer was lost
                self.data[start : end + 1] = request.content
                self.received = end + 1
            raise httpx.ConnectError("connection reset by peer")
        if start != self.received:
            return httpx.Response(409, json={"error": {"code": "Conflict", "message": "no"}, "received": self.received})
        self.data[start : end + 1] = request.content
        self.received = end + 1
        return httpx.Response(200, json={"received": self.received})


def client_for(fake) -> StudioClient:
    return StudioClient("http://studio.test", "stu_x", transport=httpx.MockTransport(fake))


@pytest.fixture
def payload(tmp_path):
    path = tmp_path / "payload.bin"
    path.write_bytes(bytes(range(23)))
    return path


def test_upload_sends_every_chunk_in_order(payload):
    fake = FakeUploads()
    seen = []
    assert upload_file(client_for(fake), UPLOADS, payload, "payload.bin", on_bytes=seen.append) == "u1"
    assert bytes(fake.data) == payload.read_bytes()
    assert seen == [4, 8, 12, 16, 20, 23]


@pytest.mark.parametrize("partial", [False, True], ids=["chunk-lost", "answer-lost"])
def test_upload_resumes_after_lost_connections_with_identical_bytes(payload, partial):
    fake = FakeUploads(fail_puts={2, 3, 5}, partial=partial)
    sleeps = []
    upload_file(client_for(fake), UPLOADS, payload, "payload.bin", sleep=sleeps.append)
    assert bytes(fake.data) == payload.read_bytes()
    assert sleeps == [1.0, 2.0, 1.0]  # backs off while failures follow each other, resets after a success


def test_upload_gives_up_after_too_many_failures_in_a_row(payload):
    fake = FakeUploads(fail_puts=set(range(2, 100)))
    with pytest.raises(CliError, match="failed 4 times in a row"):
        upload_file(client_for(fake), UPLOADS, payload, "payload.bin", retries=3, sleep=lambda s: None)


def test_an_error_answer_is_not_retried(payload):
    def refuse(request):
        if request.method == "POST":
            return httpx.Response(201, json={"id": "u1", "received": 0, "chunk_size": 4})
        return httpx.Response(403, json={"error": {"code": "AuthorizationFailed", "message": "Reader"}})

    with pytest.raises(ApiError, match="Reader"):
        upload_file(client_for(refuse), UPLOADS, payload, "payload.bin", sleep=lambda s: pytest.fail("retried"))


def test_create_without_file_or_name_and_path_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.setenv("STUDIO_URL", "http://studio.test")
    monkeypatch.setenv("STUDIO_TOKEN", "stu_x")
    monkeypatch.setenv("STUDIO_WORKSPACE", "ws")
    with pytest.raises(SystemExit) as exc:
        main(["data", "create", "--name", "x"])
    assert exc.value.code == 2
    assert "give --file FILE, or --name and --path" in capsys.readouterr().err


@pytest.mark.django_db
def test_the_file_listing_stops_at_its_limit(workspace, owner):
    from assets.data import services

    from .data_support import put_file

    for i in range(3):
        put_file(workspace, f"many/{i}.csv", b"x")
    asset = services.data_asset_create(
        workspace=workspace, user=owner, spec=services.DataAssetSpec(name="many", type="uri_folder", path="many")
    )
    files, truncated = data_asset_files(asset=asset, limit=2)
    assert (len(files), truncated) == (2, True)
    assert data_asset_files(asset=asset, limit=3)[1] is False


class FakeParallelUploads:
    """The upload API for a parallel upload: chunks at any offset; a chunk over bytes it already
    holds is a 409. PUTs listed in `fail_puts` lose their connection (after the chunk arrived, when
    `partial`)."""

    def __init__(self, *, chunk_size=4, fail_puts=(), partial=False):
        import threading

        self.chunk_size, self.fail_puts, self.partial = chunk_size, set(fail_puts), partial
        self.puts, self.data, self.held, self.ranges = 0, bytearray(), set(), []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            assert body["parallel"] is True
            self.data = bytearray(body["size"])
            return httpx.Response(
                201,
                json={"id": "u1", "received": 0, "chunk_size": self.chunk_size, "size": body["size"], "parallel": True},
            )
        start, end, _ = map(int, re.match(r"bytes (\d+)-(\d+)/(\d+)", request.headers["Content-Range"]).groups())
        with self.lock:
            self.puts += 1
            failing = self.puts in self.fail_puts
            if failing and not self.partial:
                raise httpx.ConnectError("connection reset by peer")
            if self.held & set(range(start, end + 1)):
                return httpx.Response(409, json={"error": {"code": "Conflict", "message": "held"}, "received": 0})
            self.data[start : end + 1] = request.content
            self.held |= set(range(start, end + 1))
            self.ranges.append((start, end))
        if failing:
            raise httpx.ConnectError("connection reset by peer")
        return httpx.Response(200, json={"received": 0})


def test_a_parallel_upload_sends_every_chunk_once(payload):
    fake = FakeParallelUploads()
    seen = []
    assert upload_file(client_for(fake), UPLOADS, payload, "payload.bin", on_bytes=seen.append, connections=3) == "u1"
    assert bytes(fake.data) == payload.read_bytes()
    assert sorted(fake.ranges) == [(0, 3), (4, 7), (8, 11), (12, 15), (16, 19), (20, 22)]
    assert seen == sorted(seen) and seen[-1] == 23


@pytest.mark.parametrize("partial", [False, True], ids=["chunk-lost", "answer-lost"])
def test_a_parallel_upload_retries_lost_chunks_with_identical_bytes(payload, partial):
    fake = FakeParallelUploads(fail_puts={2, 3, 5}, partial=partial)
    upload_file(client_for(fake), UPLOADS, payload, "payload.bin", sleep=lambda s: None, connections=3)
    assert bytes(fake.data) == payload.read_bytes()
    assert fake.held == set(range(23))


def test_a_parallel_upload_gives_up_after_too_many_failures_in_a_row(payload):
    fake = FakeParallelUploads(fail_puts=set(range(1, 100)))
    with pytest.raises(CliError, match="failed 4 times in a row"):
        upload_file(client_for(fake), UPLOADS, payload, "payload.bin", retries=3, sleep=lambda s: None, connections=3)


def test_a_studio_without_parallel_uploads_gets_the_chunks_in_order(payload):
    fake = FakeUploads()
    upload_file(client_for(fake), UPLOADS, payload, "payload.bin", connections=4)
    assert bytes(fake.data) == payload.read_bytes()
