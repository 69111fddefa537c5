"""Drive the studio's ASGI application in-process, as the web server does."""

import asyncio
import json

from asgiref.sync import async_to_sync
from django.core.signals import request_finished, request_started
from django.db import close_old_connections


def asgi_call(application, path, body_parts, headers, *, method="PUT", query=b"", disconnect_after=None):
    """One request through an ASGI app: -> (status, JSON body or None)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "localhost", **headers}.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(body_parts) - 1}
        for i, part in enumerate(body_parts)
    ]
    if disconnect_after is not None:
        messages = messages[:disconnect_after] + [{"type": "http.disconnect"}]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # a client still connected; Django stops listening when it is done

    async def send(message):
        sent.append(message)

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(application)(scope, receive, send)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:
        return None, None
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    is_json = any(k.lower() == b"content-type" and v.startswith(b"application/json") for k, v in start["headers"])
    return start["status"], json.loads(body) if body and is_json else None
