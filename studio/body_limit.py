"""An ASGI wrapper that answers 413 for request bodies over the upload limit.

Django's ASGI handler spools the whole body before any view or middleware runs, so the limit has
to be enforced here: by the Content-Length header up front, and by counting for chunked bodies.

Django's request parsers read only as many bytes as Content-Length says, so a chunked body (no
Content-Length) would reach the views empty; it is read here first and handed on with its length.
"""

import json
import tempfile

from django.conf import settings

REPLAY_CHUNK = 1024 * 1024


def _too_large_body(max_bytes: int) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": "RequestEntityTooLarge",
                "message": f"The request body is larger than the upload limit of {max_bytes} bytes.",
            }
        }
    ).encode()


class BodySizeLimit:
    def __init__(self, app, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(send)
        if declared is None and b"transfer-encoding" in headers:
            return await self._chunked(scope, receive, send)

        received = 0
        too_large = False

        async def limited_receive():
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
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
        if too_large and not response_started:
            await self._reject(send)

    async def _chunked(self, scope, receive, send):
        """Read a chunked body (to disk past FILE_UPLOAD_MAX_MEMORY_SIZE), then pass it on with a
        Content-Length; 413 as soon as it grows past the limit, nothing at all if the client leaves."""
        with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as spool:
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body = message.get("body", b"")
                size += len(body)
                if size > self.max_bytes:
                    return await self._reject(send)
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

    async def _reject(self, send):
        body = _too_large_body(self.max_bytes)
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
