"""An ASGI wrapper that answers 413 for a request body over its limit, before Django reads it.

Django's ASGI handler spools the whole body before any view or middleware runs, so the limit has
to be enforced here. A body may be as large as STUDIO_MAX_UPLOAD_SIZE only on an upload route
(UPLOAD_ROUTES) and only from a signed-in caller (an API token, Basic auth or a session cookie);
every other body, anonymous ones included, gets STUDIO_MAX_REQUEST_SIZE. Who the caller is is
only asked when it matters: for a body larger than the request limit on an upload route.

A declared Content-Length over the limit is refused before a byte is read. A chunked body is
counted as it comes and refused as soon as it passes its limit; it is held in memory up to the
request limit, so an anonymous one never reaches the disk. Django's request parsers read only as
many bytes as Content-Length says, so a chunked body (no Content-Length) would reach the views
empty: it is read here first and handed on with its length.
"""

import io
import json
import logging
import tempfile

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.urls import Resolver404, resolve

log = logging.getLogger(__name__)

REPLAY_CHUNK = 1024 * 1024

# The routes whose bodies are files (URL name -> method): data upload chunks, datastore uploads,
# job submission with its code and local inputs, model and component registration with their
# files, and MLflow artifact uploads.
UPLOAD_ROUTES = {
    "api_data_upload": "PUT",
    "api_datastore_files": "POST",
    "datastore_upload": "POST",
    "api_jobs": "POST",
    "job_create": "POST",
    "api_models": "POST",
    "model_register_upload": "POST",
    "api_components": "POST",
    "component_register_upload": "POST",
    "mlflow_artifacts_path": "PUT",
}


def request_limit() -> int:
    """The most any request may send: forms, API and MLflow JSON, anyone's."""
    return min(settings.STUDIO_MAX_REQUEST_SIZE, settings.STUDIO_MAX_UPLOAD_SIZE)


def is_upload_route(method: str, path_info: str) -> bool:
    try:
        match = resolve(path_info)
    except Resolver404:
        return False
    return UPLOAD_ROUTES.get(match.url_name) == method


def too_large(limit: int, path: str) -> dict:
    """The 413's body: MLflow's error shape under the tracking URIs (the client shows its message),
    the REST API's elsewhere."""
    if limit < settings.STUDIO_MAX_UPLOAD_SIZE:
        message = (
            f"The request body is larger than {limit} bytes, the limit for this request "
            "(only a signed-in user's uploads may be larger)."
        )
    else:
        message = f"The request body is larger than the upload limit of {limit} bytes."
    if path.startswith("/mlflow/"):
        return {"error_code": "INVALID_PARAMETER_VALUE", "message": message}
    return {"error": {"code": "RequestEntityTooLarge", "message": message}}


# Who may send an upload's large body: set by the accounts app when it is ready (this layer knows no
# users); `signed_in(request) -> bool` for a request built from the headers alone.
signed_in = None


def _signed_in(request) -> bool:
    """Whether the request's token, Basic credentials or session cookie name an active user.
    Runs in the thread the ASGI fast paths share, outside any request of Django's."""
    try:
        close_old_connections()
        return signed_in is not None and signed_in(request)
    except Exception as exc:  # noqa: BLE001 - unsure who it is (throttled, database away): the request limit
        log.warning("Held a large body to %s to the request limit: %s", request.path[:200], exc)
        return False


async def _may_upload(scope) -> bool:
    """Whether the request goes to an upload route from a signed-in caller."""
    request = ASGIRequest(scope, io.BytesIO())  # the headers only: the body is not read
    if not is_upload_route(request.method, request.path_info):
        return False
    return await sync_to_async(_signed_in)(request)


class BodySizeLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        declared = int(declared) if declared is not None and declared.isdigit() else None
        limit = request_limit()
        if declared is not None and declared > limit:
            if await _may_upload(scope):
                limit = settings.STUDIO_MAX_UPLOAD_SIZE
            if declared > limit:
                return await _reject(send, limit, scope["path"])
        if declared is None and b"transfer-encoding" in headers:
            return await self._chunked(scope, receive, send)

        received = 0
        too_big = False

        async def limited_receive():
            nonlocal received, too_big
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_big = True
                    # Tell Django the client went away: it stops reading and runs no view.
                    return {"type": "http.disconnect"}
            return message

        response_started = False

        async def tracking_send(message):
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if too_big and not response_started:
            await _reject(send, limit, scope["path"])

    async def _chunked(self, scope, receive, send):
        """Read a chunked body, then pass it on with a Content-Length: in memory up to the request
        limit, on into a temporary file only for a signed-in caller's upload; 413 as soon as it
        grows past its limit, nothing at all if the client leaves."""
        limit = small = request_limit()
        with tempfile.SpooledTemporaryFile(max_size=small, dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body = message.get("body", b"")
                size += len(body)
                if size > limit and limit == small and await _may_upload(scope):
                    limit = settings.STUDIO_MAX_UPLOAD_SIZE
                if size > limit:
                    return await _reject(send, limit, scope["path"])
                spool.write(body)
                if not message.get("more_body", False):
                    break
            spool.seek(0)
            headers = [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
            headers.append((b"content-length", str(size).encode()))
            replayed = False

            async def replay():
                nonlocal replayed
                if replayed:
                    return await receive()  # after the body: wait for the client to disconnect
                chunk = spool.read(REPLAY_CHUNK)
                replayed = spool.tell() >= size
                return {"type": "http.request", "body": chunk, "more_body": not replayed}

            await self.app(dict(scope, headers=headers), replay, send)


async def _reject(send, limit: int, path: str) -> None:
    body = json.dumps(too_large(limit, path)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
