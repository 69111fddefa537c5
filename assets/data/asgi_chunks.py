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
import os
import re

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connections

from accounts.authentication import origin_allowed, user_for_token
from workspaces.roles import Perm
from workspaces.selectors import workspace_access

from . import selectors, uploads

ROUTE = re.compile(r"^/api/v1/workspaces/(?P<workspace>[^/]+)/data/uploads/(?P<upload_id>[0-9a-fA-F-]{32,36})$")
WRITE_AT_LEAST = 1024 * 1024  # bytes gathered before each write
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


def _request_user(request):
    """The user a request authenticates as, by the same rules as the REST API; None if unsure."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        keyword, _, raw = header.partition(" ")
        if keyword.lower() not in ("bearer", "token") or not origin_allowed(request):
            return None
        return user_for_token(raw.strip())
    from importlib import import_module

    from django.contrib.auth import get_user
    from rest_framework.authentication import CSRFCheck

    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    user = get_user(request)
    if not user.is_authenticated:
        return None
    request.user = user
    if CSRFCheck(lambda r: None).process_view(request, None, (), {}) is not None:
        return None  # no or a bad CSRF token: Django's route says so
    return user


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
        user = _request_user(request)
        if user is None or not user.is_active:
            return None
        access = workspace_access(user=user, name=workspace)
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


async def _stream_into(fd: int, chunk, receive) -> int | None:
    """Write the body at the chunk's offset, never past its end; the number of bytes the body
    held, or None if the client went away. Each batch of pieces is written in a thread while the
    next one is received; at most one write is in flight, so memory stays bounded."""
    offset, total, pieces, gathered = chunk.start, 0, [], 0
    writing = None
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
                pieces.append(body if len(body) <= room else body[:room])
                gathered += min(len(body), room)
            if gathered and (gathered >= WRITE_AT_LEAST or len(pieces) >= MAX_PIECES or not more):
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(asyncio.to_thread(uploads.write_at, fd, pieces, offset))
                offset += gathered
                pieces, gathered = [], 0
        return total
    finally:
        if writing is not None:
            await asyncio.shield(writing)  # the descriptor is closed only once no thread writes to it


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
        try:
            taken = await _stream_into(fd, chunk, receive)
            if taken is None:
                return  # the client left; nothing is recorded and it resends the chunk
            if taken != chunk.length:
                message = f"Content-Range: The body does not hold the {chunk.length} bytes the range names."
                return await _respond(send, 400, {"error": {"code": "UserError", "message": message}})
            status, body = await sync_to_async(_commit)(session, chunk)
        finally:
            os.close(fd)
        await _respond(send, status, body)
