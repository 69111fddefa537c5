"""Server-Sent Events for a growing text file: build logs now, job logs later.

    @async_guard(workspace_view(read=Perm.DATA_READ))
    async def log_events(request, access, name):
        build = ...
        return file_event_stream(request, path=log_file, poll=lambda: producer_state(build.pk))

Each line of the file is one event whose `id` is the byte offset just after that line, so a browser's
EventSource that reconnects (it sends `Last-Event-ID`) or a client that passes `?from=<offset>` resumes
exactly where it stopped: no line lost, none doubled. `poll()` is a plain (sync) callable answering
whether the producer has finished and what its status is; a changed status is sent as
`event: status`, and once the producer has finished and the file is read to its end the stream
sends `event: end` and closes. Comments (`: keep-alive`) keep proxies from closing a quiet stream.

`change_event_stream` pushes changes of a database state instead (a job's status, a list's rows):
`poll()` answers a `Change` whose version grows with each change; the version is the event id.

The view is async (the studio runs under uvicorn), so a stream holds no thread while it waits.
Access is checked when the stream starts and again every ACCESS_INTERVAL seconds (`allowed=`, e.g.
`workspaces.selectors.still_allowed(...)`): a reader who lost it sees the stream close, and the reconnect is refused.
"""

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

READ_CHUNK = 256 * 1024  # bytes read from the file per step, so memory stays bounded
MAX_LINE = 16 * 1024  # a longer line (or a line with no newline at all) is sent in pieces of this size
ACCESS_INTERVAL = 2.0  # seconds between checks that the reader may still read (SECURITY.md 40)
T = TypeVar("T")


@dataclass(frozen=True)
class ProducerState:
    """What `poll()` answers: has the writer of the file finished, and its status (JSON-able) if any."""

    finished: bool
    status: Any = None


def resume_offset(request: HttpRequest) -> int:
    """The byte offset to start from: `Last-Event-ID` (a reconnecting EventSource), else `?from=`, else 0."""
    for raw in (request.headers.get("Last-Event-ID"), request.GET.get("from")):
        if raw is not None and raw.strip().isdigit():
            return int(raw.strip())
    return 0


def format_event(data: str, *, event: str | None = None, event_id: int | None = None) -> str:
    """One SSE event. CR and LF in `data` become separate `data:` lines, so the data can never
    start a field of its own (a log line reading "\\revent: end" stays text)."""
    head = ""
    if event:
        head += f"event: {event}\n"
    if event_id is not None:
        head += f"id: {event_id}\n"
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return head + "".join(f"data: {line}\n" for line in lines) + "\n"


def _read(path: Path, offset: int, size: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(size)
    except FileNotFoundError:
        return b""


class FileEventStream:
    def __init__(
        self,
        *,
        path: Path,
        poll: Callable[[], ProducerState],
        offset: int = 0,
        poll_interval: float = 0.5,
        keepalive_interval: float = 15.0,
        retry_ms: int = 2000,
        max_line: int = MAX_LINE,
        allowed: Callable[[], bool] | None = None,
        access_interval: float = ACCESS_INTERVAL,
    ):
        self.path = Path(path)
        self.poll: Callable[[], Awaitable[ProducerState]] = sync_to_async(with_fresh_connection(poll))
        self.pace = Pace(poll_interval, keepalive_interval, AccessRecheck(allowed, access_interval))
        self.offset = offset
        self.retry_ms = retry_ms
        self.max_line = max_line

    def _lines(self, data: bytes, *, final: bool) -> tuple[list[str], int]:
        """Complete lines in `data` as events, and how many bytes of it they used."""
        events, used = [], 0
        while True:
            newline = data.find(b"\n", used, used + self.max_line + 1)
            if newline >= 0:
                line, end = data[used:newline], newline + 1
            elif len(data) - used > self.max_line:
                line, end = data[used : used + self.max_line], used + self.max_line
            elif final and used < len(data):
                line, end = data[used:], len(data)
            else:
                return events, used
            used = end
            text = line.decode("utf-8", errors="replace").removesuffix("\r")
            events.append(format_event(text, event_id=self.offset + used))

    async def events(self) -> AsyncIterator[str]:
        yield f"retry: {self.retry_ms}\n\n"
        last_status: Any = object()
        self.pace.sent()
        while True:
            # Ask before reading: whatever was written before the producer finished is then
            # in the file by the time it is read, so the last read misses nothing.
            state = await self.poll()
            if state.status != last_status:
                last_status = state.status
                yield format_event(json.dumps(state.status), event="status")
                self.pace.sent()
            while True:
                data = await asyncio.to_thread(_read, self.path, self.offset, READ_CHUNK)
                at_end = len(data) < READ_CHUNK
                events, used = self._lines(data, final=state.finished and at_end)
                if events:
                    yield "".join(events)
                    self.pace.sent()
                self.offset += used
                if at_end or not used:
                    break
            if state.finished:
                yield format_event(json.dumps(state.status), event="end")
                return
            if keep_alive := self.pace.keep_alive():
                yield keep_alive
            if not await self.pace.next_poll():
                return


@dataclass(frozen=True)
class Change:
    """What a ChangeEventStream's `poll()` answers: a version that grows with every change (the id
    of the latest event row, say), what to send about it, and whether nothing will change any more."""

    version: int
    data: Any = None
    finished: bool = False


class ChangeEventStream:
    """`event: <event>` with `id: <version>` whenever `poll()` answers another version than the last
    one sent, then `event: end` once it says finished. A reconnecting EventSource sends the last id
    (`Last-Event-ID`), a page the version it was rendered with (`?from=`): nothing is sent until the
    version differs from it, so a change made while the stream was down is sent at once."""

    def __init__(
        self,
        *,
        poll: Callable[[], Change],
        since: int = 0,
        event: str = "change",
        poll_interval: float = 0.1,
        keepalive_interval: float = 15.0,
        retry_ms: int = 1000,
        allowed: Callable[[], bool] | None = None,
        access_interval: float = ACCESS_INTERVAL,
    ):
        self.poll: Callable[[], Awaitable[Change]] = sync_to_async(with_fresh_connection(poll))
        self.pace = Pace(poll_interval, keepalive_interval, AccessRecheck(allowed, access_interval))
        self.since = since
        self.event = event
        self.retry_ms = retry_ms

    async def events(self) -> AsyncIterator[str]:
        yield f"retry: {self.retry_ms}\n\n"
        self.pace.sent()
        while True:
            change = await self.poll()
            if change.version != self.since:
                self.since = change.version
                yield format_event(json.dumps(change.data), event=self.event, event_id=change.version)
                self.pace.sent()
            if change.finished:
                yield format_event(json.dumps(change.data), event="end", event_id=change.version)
                return
            if keep_alive := self.pace.keep_alive():
                yield keep_alive
            if not await self.pace.next_poll():
                return


def change_event_stream(request: HttpRequest, *, poll: Callable[[], Change], **options) -> StreamingHttpResponse:
    """An SSE response of ChangeEventStream, from the version the request names (see `resume_offset`)."""
    return _sse_response(ChangeEventStream(poll=poll, since=resume_offset(request), **options).events())


def _sse_response(events: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    return response


class AccessRecheck:
    """Asks `allowed()` (sync, run in a thread) again every `interval` seconds: a member removed
    from the workspace, a deactivated user or a revoked token loses an open stream within it."""

    def __init__(self, allowed: Callable[[], bool] | None, interval: float = ACCESS_INTERVAL):
        self.allowed = sync_to_async(with_fresh_connection(allowed)) if allowed else None
        self.interval = interval
        self.checked = time.monotonic()

    async def still_allowed(self) -> bool:
        if self.allowed is None or time.monotonic() - self.checked < self.interval:
            return True
        self.checked = time.monotonic()
        return await self.allowed()


def with_fresh_connection(function: Callable[..., T]) -> Callable[..., T]:
    """A long stream outlives CONN_MAX_AGE; drop a stale database connection before each poll."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs) -> T:
        close_old_connections()
        return function(*args, **kwargs)

    return wrapped


class Pace:
    """What every stream's loop does between two polls: a keep-alive comment when nothing was sent
    for `keepalive_interval` seconds, the pause, and the access recheck (SECURITY.md 40)."""

    def __init__(self, poll_interval: float, keepalive_interval: float, access: AccessRecheck):
        self.poll_interval = poll_interval
        self.keepalive_interval = keepalive_interval
        self.access = access
        self.last_sent = time.monotonic()

    def sent(self) -> None:
        self.last_sent = time.monotonic()

    def keep_alive(self) -> str:
        if time.monotonic() - self.last_sent < self.keepalive_interval:
            return ""
        self.sent()
        return ": keep-alive\n\n"

    async def next_poll(self) -> bool:
        """Wait for the next poll: False once the reader has lost access."""
        await asyncio.sleep(self.poll_interval)
        return await self.access.still_allowed()


def file_event_stream(
    request: HttpRequest, *, path: Path, poll: Callable[[], ProducerState], **options
) -> StreamingHttpResponse:
    """An SSE response streaming `path` from the offset the request asks for (see `resume_offset`)."""
    stream = FileEventStream(path=path, poll=poll, offset=resume_offset(request), **options)
    return _sse_response(stream.events())


def async_guard(decorator):
    """Put a sync access decorator (e.g. `workspace_view(read=...)`) in front of an async view.

    The check runs in a thread; its redirect or error answers the request, otherwise the async view
    is called with what the check would have passed to a sync view (e.g. `access`). The view keeps
    the decorator's `studio_access` marker, so the route walk sees the same rule.
    """

    def wrap(view):
        @decorator
        def check(request, *args, **kwargs):
            return _Allowed(args, kwargs)

        @functools.wraps(view)
        async def wrapped(request, *args, **kwargs):
            outcome = await sync_to_async(check)(request, *args, **kwargs)
            if isinstance(outcome, HttpResponseBase):
                return outcome
            return await view(request, *outcome.args, **outcome.kwargs)

        wrapped.studio_access = check.studio_access
        return wrapped

    return wrap


@dataclass
class _Allowed:
    args: tuple
    kwargs: dict
