"""A pure-ASGI fast path for `PUT /api/v1/workspaces/<ws>/data/uploads/<id>` (one upload chunk).

Django's ASGI handler spools a whole request body (to memory, then to a temporary file) before a
view runs, so through the Django route every chunk is written to disk twice. Here the body is
streamed from `receive()` straight into the staging file at its offset, once, a piece at a time;
the writes run in threads, so one web process takes several chunks of a parallel upload at once.

The fast path only takes a request it can fully vouch for *before* reading the body: signed in
(API token, or a session with a valid CSRF token), a member whose role allows Perm.DATA_WRITE,
the user's own upload, an octet-stream body and a Content-Range that fits the upload as it stands
with its staging file locked (assets/data/uploads.py open_for_chunk). Anything else goes to
the Django route at the same URL (assets/data/api.py UploadApi.put), which answers it with the
same checks and error bodies; the body has not been touched, so Django reads it as usual.
"""

import asyncio
import io
import json
import mmap
import os
import re
import threading

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connections

from accounts.authentication import authenticate, origin_allowed
from workspaces.roles import Perm
from workspaces.selectors import workspace_access

from . import selectors, uploads

ROUTE = re.compile(r"^/api/v1/workspaces/(?P<workspace>[^/]+)/data/uploads/(?P<upload_id>[0-9a-fA-F-]{32,36})$")
WRITE_AT_LEAST = 1024 * 1024  # bytes gathered before each write through the page cache
DIRECT_BATCH = 4 * 1024 * 1024  # the size of each direct-I/O buffer (two per chunk being received)
MAX_PIECES = 512  # and at most this many pieces (pwritev takes at most IOV_MAX)


def close_old_connections() -> None:
    """Django's rule for database connections between requests, except that a connection with no
    CONN_MAX_AGE (SQLite's default here) is kept for the next chunk rather than closed: the chunks
    of an upload come several a second, and opening a connection costs more than a chunk's own
    queries. The next request Django handles closes it as usual."""
    for conn in connections.all(initialized_only=True):
        close_at = conn.close_at
        if not conn.settings_dict["CONN_MAX_AGE"]:
            conn.close_at = None
        try:
            conn.close_if_unusable_or_obsolete()
        finally:
            conn.close_at = close_at


def _request_principal(request):
    """Who the request is, by the same rules as the REST API (a token from an allowed origin, or a
    session with its CSRF token); None if unsure, and Django's route answers."""
    if request.META.get("HTTP_AUTHORIZATION") and not origin_allowed(request):
        return None
    return authenticate(request, csrf=True)


def _prepare(scope, workspace: str, upload_id: str):
    """(session, chunk, fd) when the fast path may take this request, else None. `fd` is the
    staging file, shared-locked (uploads.open_for_chunk), and the chunk fits the upload as it
    stood once the lock was held."""
    close_old_connections()
    try:
        request = ASGIRequest(scope, io.BytesIO())
        request.get_host()  # ALLOWED_HOSTS
        if request.content_type != "application/octet-stream":
            return None
        principal = _request_principal(request)
        if principal is None or not principal.user.is_active:
            return None
        user = principal.user
        access = workspace_access(user=user, name=workspace, scope=principal.scope)
        if access is None or not access.allows(Perm.DATA_WRITE):
            return None
        # The lock comes first, so the upload's state read next is one no completion can overtake.
        fd = uploads.open_for_chunk(upload_id)
        try:
            session = selectors.upload_session(workspace=access.workspace, user=user, upload_id=upload_id)
            if session is None:
                raise LookupError(upload_id)
            chunk = uploads.chunk_check(
                session=session,
                content_range=request.headers.get("Content-Range"),
                content_length=request.headers.get("Content-Length"),
            )
        except BaseException:
            os.close(fd)
            raise
        return session, chunk, fd
    except Exception:  # noqa: BLE001 - whatever is wrong, the Django route reports it properly
        return None


def _commit(session, chunk):
    try:
        return 200, {"received": uploads.chunk_commit(session=session, chunk=chunk)}
    except uploads.ChunkConflict as exc:
        return 409, exc.body()
    except uploads.UploadGone as exc:
        return 404, {"error": {"code": "NotFound", "message": str(exc.detail)}}
    finally:
        close_old_connections()


async def _respond(send, status: int, body: dict) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"x-frame-options", b"DENY"),
                (b"vary", b"Authorization, Cookie"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# Writers into one file queue up on the kernel's per-file lock, and a queued writer spins on a core
# that could be receiving the next bytes; within a process they take turns here instead, asleep.
# Uploads share these locks by hash, so their number stays fixed.
_WRITE_TURNS = [threading.Lock() for _ in range(64)]


def _write_in_turn(turn: threading.Lock, write, *args) -> None:
    with turn:
        write(*args)


class _BatchWriter:
    """Writes a chunk's body at its offset in batches (WRITE_AT_LEAST, DIRECT_BATCH), in a thread,
    while the next batch is received; at most one write is in flight, so memory stays bounded.

    With direct I/O (`direct` not None and a block-aligned chunk) a batch is gathered into a
    page-aligned buffer and goes from there to the disk; two buffers take turns. Otherwise the
    received pieces themselves go to `os.pwritev` through the page cache."""

    def __init__(self, fd: int, direct: int | None, offset: int, turn: threading.Lock):
        self.fd, self.offset, self.turn = fd, offset, turn
        self.direct = direct if direct is not None and offset % uploads.DIRECT_ALIGN == 0 else None
        self.pieces, self.gathered = [], 0
        self.buffers = [_take_buffer(), _take_buffer()] if self.direct is not None else []
        self.writing = None

    async def add(self, data: bytes) -> None:
        if self.direct is None:
            self.pieces.append(data)
            self.gathered += len(data)
            if self.gathered >= WRITE_AT_LEAST or len(self.pieces) >= MAX_PIECES:
                await self.flush()
            return
        view, at = memoryview(data), 0
        while at < len(view):
            buffer = self.buffers[0]
            take = min(len(view) - at, DIRECT_BATCH - self.gathered)
            buffer[self.gathered : self.gathered + take] = view[at : at + take]
            self.gathered += take
            at += take
            if self.gathered == DIRECT_BATCH:
                await self.flush()

    async def flush(self) -> None:
        if not self.gathered:
            return
        if self.writing is not None:
            await asyncio.shield(self.writing)  # cancelled here, the write itself goes on: see close()
        if self.direct is None:
            call = (_write_in_turn, self.turn, uploads.write_at, self.fd, self.pieces, self.offset)
            self.pieces = []
        else:
            buffer = self.buffers[0]
            call = (
                _write_in_turn,
                self.turn,
                uploads.write_direct,
                self.direct,
                self.fd,
                buffer,
                self.gathered,
                self.offset,
            )
            self.buffers.reverse()  # the next batch fills the other buffer while this one is written
        self.writing = asyncio.ensure_future(asyncio.to_thread(*call))
        self.offset += self.gathered
        self.gathered = 0

    async def close(self, descriptors: "_Descriptors") -> None:
        """Wait for the write in flight, then give the buffers back. Cancelled meanwhile, the thread
        goes on writing: its buffers are not reused and `descriptors` close once it is done."""
        writing, self.writing = self.writing, None
        if writing is not None and not writing.done():
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                self.buffers = []
                descriptors.close_after(writing)
                raise
        for buffer in self.buffers:
            _give_buffer(buffer)
        self.buffers = []


class _Descriptors:
    """The file descriptors a chunk writes through; closed by the request, or, when a write thread
    outlives it, once that thread is done (a number closed early could be reused by another file)."""

    def __init__(self, *fds: int | None):
        self.fds = [fd for fd in fds if fd is not None]

    def close(self) -> None:
        fds, self.fds = self.fds, []
        for fd in fds:
            os.close(fd)

    def close_after(self, future) -> None:
        fds, self.fds = self.fds, []
        future.add_done_callback(lambda _done: _Descriptors(*fds).close())


_BUFFERS: list[mmap.mmap] = []  # spare direct-I/O buffers, used from the event loop's thread only
SPARE_BUFFERS = 8


def _take_buffer() -> mmap.mmap:
    return _BUFFERS.pop() if _BUFFERS else mmap.mmap(-1, DIRECT_BATCH)


def _give_buffer(buffer: mmap.mmap) -> None:
    if len(_BUFFERS) < SPARE_BUFFERS:
        _BUFFERS.append(buffer)
    else:
        buffer.close()


async def _stream_into(
    fd: int, direct: int | None, chunk, receive, turn: threading.Lock, descriptors: _Descriptors
) -> int | None:
    """Write the body at the chunk's offset, never past its end; the number of bytes the body
    held, or None if the client went away."""
    writer = _BatchWriter(fd, direct, chunk.start, turn)
    total = 0
    try:
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            more = message.get("more_body", False)
            room = max(chunk.length - total, 0)
            total += len(body)
            if room and body:
                await writer.add(body if len(body) <= room else body[:room])
        await writer.flush()
        return total
    finally:
        await writer.close(descriptors)


class ChunkUploadFastPath:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        match = ROUTE.match(scope.get("path", "")) if scope["type"] == "http" and scope["method"] == "PUT" else None
        if match is None:
            return await self.app(scope, receive, send)
        prepared = await sync_to_async(_prepare)(scope, match["workspace"], match["upload_id"])
        if prepared is None:
            return await self.app(scope, receive, send)
        session, chunk, fd = prepared
        direct = uploads.open_direct(session.pk)
        descriptors = _Descriptors(fd, direct)  # `fd` holds the staging file's lock until the commit is done
        try:
            turn = _WRITE_TURNS[hash(str(session.pk)) % len(_WRITE_TURNS)]
            taken = await _stream_into(fd, direct, chunk, receive, turn, descriptors)
            if taken is None:
                return  # the client left; nothing is recorded and it resends the chunk
            if taken != chunk.length:
                message = f"Content-Range: The body does not hold the {chunk.length} bytes the range names."
                return await _respond(send, 400, {"error": {"code": "UserError", "message": message}})
            status, body = await sync_to_async(_commit)(session, chunk)
        finally:
            descriptors.close()
        await _respond(send, status, body)
