"""The ASGI fast path for upload chunks (assets/data/asgi_chunks.py), driven as the web server
drives it: it streams a chunk it can vouch for into the staging file, and hands everything else,
untouched, to the Django route at the same URL."""

import asyncio
import errno
import mmap
import os

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from accounts.services import token_create
from assets.data import api as data_api
from assets.data import uploads
from assets.models import UploadSession
from tests.asgi_support import asgi_call

from .data_support import CSV, _fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def application(monkeypatch):
    from assets.data import asgi_chunks
    from core import body_limit
    from studio.asgi import application

    # The test runs inside a transaction, which closing "old" connections would end (Django's
    # test clients turn the same thing off for their requests).
    monkeypatch.setattr(asgi_chunks, "close_old_connections", lambda: None)
    monkeypatch.setattr(body_limit, "close_old_connections", lambda: None)
    return application


@pytest.fixture
def session(workspace, owner):
    return uploads.upload_session_create(workspace=workspace, user=owner, file_name="iris.csv", size=len(CSV))


@pytest.fixture
def django_route(monkeypatch):
    """Counts the requests that reach the Django view."""
    calls = []
    real = data_api.UploadApi.initial

    def counting(self, request, *args, **kwargs):
        calls.append(request.method)
        return real(self, request, *args, **kwargs)

    monkeypatch.setattr(data_api.UploadApi, "initial", counting)
    return calls


def token_for(user) -> str:
    return token_create(user=user, name="fast")[1]


def call(application, path, body_parts, headers, *, disconnect_after=None):
    return asgi_call(application, path, body_parts, headers, disconnect_after=disconnect_after)


def chunk_headers(token, start, end, total, **extra):
    return {
        "authorization": f"Bearer {token}",
        "content-type": "application/octet-stream",
        "content-range": f"bytes {start}-{end}/{total}",
        "content-length": str(end - start + 1),
        **extra,
    }


def url(session):
    return f"/api/v1/workspaces/team-ws/data/uploads/{session.pk}"


def test_a_chunk_from_a_token_client_is_streamed_without_django(application, session, owner, django_route):
    token = token_for(owner)
    parts = [CSV[:7], CSV[7:30], CSV[30:50]]
    status, body = call(application, url(session), parts, chunk_headers(token, 0, 49, len(CSV)))
    assert (status, body) == (200, {"received": 50})
    status, body = call(application, url(session), [CSV[50:]], chunk_headers(token, 50, len(CSV) - 1, len(CSV)))
    assert (status, body) == (200, {"received": len(CSV)})
    assert uploads.staging_path(session.pk).read_bytes() == CSV
    assert django_route == []


def test_a_dropped_connection_records_nothing_and_the_upload_resumes(application, session, owner):
    token = token_for(owner)
    call(application, url(session), [CSV[:10]], chunk_headers(token, 0, 9, len(CSV)))
    status, _ = call(
        application,
        url(session),
        [CSV[10:20], CSV[20:30], CSV[30:60]],
        chunk_headers(token, 10, 59, len(CSV)),
        disconnect_after=2,
    )
    assert status is None
    session.refresh_from_db()
    assert session.received == 10
    status, body = call(application, url(session), [CSV[10:]], chunk_headers(token, 10, len(CSV) - 1, len(CSV)))
    assert body == {"received": len(CSV)}
    assert uploads.staging_path(session.pk).read_bytes() == CSV


def test_a_body_longer_than_its_range_is_refused_and_nothing_spills_past_the_chunk(application, session, owner):
    token = token_for(owner)
    headers = chunk_headers(token, 0, 9, len(CSV))
    headers.pop("content-length")  # a chunked body: its length is only known at the end
    status, body = call(application, url(session), [CSV[:8], CSV[8:40]], headers)
    assert status == 400
    assert body["error"]["message"].startswith("Content-Range: ")
    assert UploadSession.objects.get().received == 0
    assert uploads.staging_path(session.pk).stat().st_size <= 10


def test_a_chunk_at_the_wrong_offset_is_answered_by_django_with_409(application, session, owner, django_route):
    status, body = call(application, url(session), [CSV[5:10]], chunk_headers(token_for(owner), 5, 9, len(CSV)))
    assert (status, body["received"]) == (409, 0)
    assert len(django_route) == 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"authorization": "Bearer stu_wrong"}, id="bad-token"),
        pytest.param({"content-type": "text/plain"}, id="text-plain"),
        pytest.param({"origin": "https://evil.test"}, id="foreign-origin"),
        pytest.param({"host": "evil.test"}, id="foreign-host"),
    ],
)
def test_a_request_it_cannot_vouch_for_goes_to_django_which_refuses_it(
    application, session, owner, django_route, change
):
    headers = {**chunk_headers(token_for(owner), 0, len(CSV) - 1, len(CSV)), **change}
    status, _ = call(application, url(session), [CSV], headers)
    assert status in (400, 401, 403, 415)
    assert UploadSession.objects.get().received == 0
    assert uploads.staging_path(session.pk).stat().st_size == 0


def test_a_reader_is_refused_by_django(application, session, reader, django_route):
    status, _ = call(application, url(session), [CSV], chunk_headers(token_for(reader), 0, len(CSV) - 1, len(CSV)))
    assert status == 403
    assert len(django_route) == 1


def test_a_signed_in_browser_with_its_csrf_token_takes_the_fast_path(application, session, owner, django_route, client):
    client.force_login(owner)
    client.get("/workspaces/team-ws/data/")  # sets the CSRF cookie
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}; {settings.CSRF_COOKIE_NAME}={csrf}"
    headers = chunk_headers("", 0, len(CSV) - 1, len(CSV), cookie=cookie, origin="http://localhost")
    headers.pop("authorization")
    status, _ = call(application, url(session), [CSV], {**headers, "x-csrftoken": "wrong" * 13})
    assert status == 403 and len(django_route) == 1
    status, body = call(application, url(session), [CSV], {**headers, "x-csrftoken": csrf})
    assert (status, body) == (200, {"received": len(CSV)})
    assert len(django_route) == 1


@pytest.fixture
def parallel_session(workspace, owner):
    return uploads.upload_session_create(
        workspace=workspace, user=owner, file_name="iris.csv", size=len(CSV), parallel=True
    )


def call_together(application, path, requests):
    """Several requests through the ASGI app at once, their bodies interleaved: -> [status, ...]."""

    async def one(body_parts, headers):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "PUT",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "localhost", **headers}.items()],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        parts, sent = list(body_parts), []

        async def receive():
            await asyncio.sleep(0.01)  # let the other requests take their turn
            part = parts.pop(0)
            return {"type": "http.request", "body": part, "more_body": bool(parts)}

        async def send(message):
            sent.append(message)

        await application(scope, receive, send)
        return next(m["status"] for m in sent if m["type"] == "http.response.start")

    async def together():
        return await asyncio.gather(*(one(parts, headers) for parts, headers in requests))

    return async_to_sync(together)()


def test_chunks_of_a_parallel_upload_stream_at_once_in_any_order(application, parallel_session, owner, django_route):
    token, size = token_for(owner), len(CSV)
    bounds = [(60, size), (0, 20), (40, 60), (20, 40)]
    requests = [
        ([CSV[start : start + 7], CSV[start + 7 : end]], chunk_headers(token, start, end - 1, size))
        for start, end in bounds
    ]
    assert call_together(application, url(parallel_session), requests) == [200, 200, 200, 200]
    assert uploads.staging_path(parallel_session.pk).read_bytes() == CSV
    parallel_session.refresh_from_db()
    assert parallel_session.received == size
    assert django_route == []


def test_a_parallel_chunk_over_received_bytes_is_answered_by_django_with_409(
    application, parallel_session, owner, django_route
):
    token, size = token_for(owner), len(CSV)
    assert call(application, url(parallel_session), [CSV[20:40]], chunk_headers(token, 20, 39, size))[0] == 200
    status, body = call(application, url(parallel_session), [CSV[30:50]], chunk_headers(token, 30, 49, size))
    assert (status, body["received"]) == (409, 0)
    assert body["missing"] == [{"start": 0, "end": 19}, {"start": 40, "end": size - 1}]
    assert len(django_route) == 1


# -- large chunks: direct I/O from aligned buffers -------------------------------------------------


def pieces_of(data: bytes, size: int) -> list[bytes]:
    return [data[at : at + size] for at in range(0, len(data), size)]


def test_large_chunks_in_odd_pieces_land_byte_for_byte_through_direct_io(
    application, workspace, owner, django_route, monkeypatch
):
    """Two chunks in parallel: one at a block-aligned offset (whole blocks written directly, the tail
    through the page cache), one at an odd offset (all through the page cache)."""
    from assets.data import asgi_chunks

    direct_writes = []
    real = uploads.write_direct

    def counting(direct_fd, fd, buffer, length, offset):
        direct_writes.append((direct_fd is not None, length, offset))
        return real(direct_fd, fd, buffer, length, offset)

    monkeypatch.setattr(uploads, "write_direct", counting)
    batch = asgi_chunks.DIRECT_BATCH
    data = os.urandom(2 * batch + 5000 + 777_777)
    first_end = 2 * batch + 5000  # the first chunk ends off a block boundary
    session = uploads.upload_session_create(
        workspace=workspace, user=owner, file_name="big.bin", size=len(data), parallel=True
    )
    token, size = token_for(owner), len(data)
    requests = [
        (pieces_of(data[first_end:], 65_537), chunk_headers(token, first_end, size - 1, size)),
        (pieces_of(data[:first_end], 65_537), chunk_headers(token, 0, first_end - 1, size)),
    ]
    assert call_together(application, url(session), requests) == [200, 200]
    assert uploads.staging_path(session.pk).read_bytes() == data
    assert django_route == []
    if uploads.open_direct(session.pk) is not None:  # the filesystem has direct I/O
        assert [(True, batch, 0), (True, batch, batch), (True, 5000, 2 * batch)] == [
            w for w in direct_writes if w[2] < first_end
        ]


def test_write_direct_puts_whole_blocks_through_the_direct_descriptor_and_the_rest_through_the_other(
    tmp_path, monkeypatch
):
    path = tmp_path / "staging.part"
    path.write_bytes(b"")
    fd = os.open(path, os.O_WRONLY)
    writes = []
    real = os.pwrite

    def pwrite(descriptor, data, offset):
        writes.append((descriptor, len(data), offset))
        return real(descriptor, data, offset)

    monkeypatch.setattr(uploads.os, "pwrite", pwrite)
    buffer = mmap.mmap(-1, 3 * uploads.DIRECT_ALIGN)
    payload = os.urandom(2 * uploads.DIRECT_ALIGN + 100)
    buffer[: len(payload)] = payload
    direct = os.dup(fd)  # stands for the O_DIRECT descriptor: only the split is checked here
    try:
        uploads.write_direct(direct, fd, buffer, len(payload), uploads.DIRECT_ALIGN)
        uploads.write_direct(direct, fd, buffer, 10, 7)  # an odd offset: nothing goes direct
    finally:
        os.close(direct)
        os.close(fd)
    align = uploads.DIRECT_ALIGN
    # The whole blocks in one direct write; the tail and the odd write go through `fd` (pwritev).
    assert [write for write in writes if write[0] == direct] == [(direct, 2 * align, align)]
    expected = bytearray(align + len(payload))
    expected[align:] = payload
    expected[7:17] = payload[:10]
    assert path.read_bytes() == bytes(expected)


def test_write_direct_falls_back_to_the_page_cache_when_direct_io_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "staging.part"
    path.write_bytes(b"")
    fd = os.open(path, os.O_WRONLY)
    real = os.pwrite

    def pwrite(descriptor, data, offset):
        if descriptor != fd:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(descriptor, data, offset)

    monkeypatch.setattr(uploads.os, "pwrite", pwrite)
    buffer = mmap.mmap(-1, 2 * uploads.DIRECT_ALIGN)
    payload = os.urandom(2 * uploads.DIRECT_ALIGN)
    buffer[:] = payload
    try:
        uploads.write_direct(fd + 1000, fd, buffer, len(payload), 0)
    finally:
        os.close(fd)
    assert path.read_bytes() == payload


def test_a_cancelled_chunk_closes_its_descriptors_only_once_the_write_in_flight_is_done(tmp_path, monkeypatch):
    """Closing a descriptor a thread still writes through could hand its number to another file."""
    import threading

    from assets.data import asgi_chunks

    release, started = threading.Event(), threading.Event()

    def slow_write(*_args):
        started.set()
        release.wait(10)

    monkeypatch.setattr(uploads, "write_at", slow_write)
    path = tmp_path / "staging.part"
    path.write_bytes(b"")
    fd = os.open(path, os.O_WRONLY)
    descriptors = asgi_chunks._Descriptors(fd)
    chunk = uploads.Chunk(start=0, length=2 * asgi_chunks.WRITE_AT_LEAST)

    async def receive():
        return {"type": "http.request", "body": b"x" * asgi_chunks.WRITE_AT_LEAST, "more_body": True}

    async def scenario():
        task = asyncio.ensure_future(asgi_chunks._stream_into(fd, None, chunk, receive, threading.Lock(), descriptors))
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()  # the chunk waits for its write in flight on its way out ...
        await asyncio.sleep(0.05)
        assert not task.done()
        task.cancel()  # ... and is cancelled again meanwhile (a server shutting down)
        with pytest.raises(asyncio.CancelledError):
            await task
        descriptors.close()  # what the request does on its way out: nothing is left to close now
        os.fstat(fd)  # still open: the write thread holds it
        release.set()
        for _ in range(200):
            await asyncio.sleep(0.01)
            try:
                os.fstat(fd)
            except OSError:
                return True
        return False

    try:
        assert asyncio.run(scenario()) is True
    finally:
        release.set()
