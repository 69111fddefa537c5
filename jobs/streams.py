"""A job's log and status as Server-Sent Events, for the browser and for API clients; and the pushed
changes the job's page and the Jobs list refresh on.

    GET /workspaces/<ws>/jobs/<name>/stream             (session; the job page's EventSource)
    GET /api/v1/workspaces/<ws>/jobs/<name>/stream      (Bearer token; the CLI's `job stream`)

- `event: log`: `id` is the byte offset just after the text, `data:` lines are the text split on
  line breaks; the data of one event (its `data:` lines joined by "\\n", as EventSource does) is
  exactly the stored log from the previous id to this one. A trailing partial line is sent as is:
  the next event continues it. A carriage return also ends a `data:` line (it cannot be sent
  inside one), so a client sees "\\r" as "\\n"; the offsets stay exact.
- `event: status`: `{"status": ..., "reason": ...}` when the stream starts and whenever it changes.
- `event: end`: the same JSON once the job has ended and the whole log was sent; then the stream closes.
- `: keep-alive` comments every 15 s of silence.

The job's page listens to `GET /workspaces/<ws>/jobs/<name>/events` (`event: status` with the job's
status, its id the latest status event's, then `end` once the job has ended) and the Jobs list to
`GET /workspaces/<ws>/jobs/events` (`event: change` whenever a job of the workspace is created or
changes status); both resume from `Last-Event-ID` or `?from=` (core.streams.ChangeEventStream).

Resume the log stream from the `Last-Event-ID` header (EventSource sends it when it reconnects) or `?from=<offset>`:
nothing is lost or sent twice. Reads come from the database (jobs.joblog.read_log) polled every
0.1 s by an async view, so a waiting stream holds no worker thread.
"""

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse, StreamingHttpResponse

from accounts.authentication import authenticate, origin_allowed
from core.access import SAFE_METHODS
from core.streams import (
    AccessRecheck,
    Change,
    Pace,
    async_guard,
    change_event_stream,
    format_event,
    resume_offset,
    with_fresh_connection,
)
from workspaces.access import workspace_view
from workspaces.roles import Perm
from workspaces.selectors import still_allowed, workspace_access

from . import selectors
from .joblog import read_log
from .models import TERMINAL, Job, JobLogChunk, JobStatusEvent

POLL_INTERVAL = 0.1
LIST_POLL_INTERVAL = 0.2
KEEPALIVE_INTERVAL = 15.0
READ_LIMIT = 1024 * 1024  # bytes of log per event at most


@dataclass(frozen=True)
class JobState:
    status: str
    reason: str

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def as_json(self) -> str:
        return json.dumps({"status": self.status, "reason": self.reason})


def job_state(job_id: int) -> JobState:
    row = Job.objects.filter(pk=job_id).values("status", "status_reason").first()
    if row is None:
        return JobState("Canceled", "The job was deleted.")
    return JobState(row["status"], row["status_reason"])


def read_log_from(job_id: int, offset: int, *, limit_bytes: int) -> tuple[str, int]:
    """jobs.joblog.read_log, also from an offset inside a chunk (a hand-written `?from=`): the rest of
    that chunk first, cut at the byte (a split character becomes U+FFFD)."""
    text, end = read_log(job_id, after=offset, limit_bytes=limit_bytes)
    if text or offset == 0:
        return text, end
    chunk = (
        JobLogChunk.objects.filter(job_id=job_id, offset__lt=offset).order_by("-offset").only("offset", "text").first()
    )
    if chunk is None:
        return "", offset
    data = chunk.text.encode()
    if chunk.offset + len(data) <= offset:
        return "", offset  # offset is a chunk boundary (or past the end): nothing new yet
    return data[offset - chunk.offset :].decode("utf-8", errors="replace"), chunk.offset + len(data)


def _fresh(function):
    return sync_to_async(with_fresh_connection(function))


class JobLogStream:
    def __init__(
        self,
        job_id: int,
        *,
        offset: int = 0,
        poll_interval: float = POLL_INTERVAL,
        keepalive_interval: float = KEEPALIVE_INTERVAL,
        retry_ms: int = 1000,
        allowed: Callable[[], bool] | None = None,
    ):
        self.job_id = job_id
        self.pace = Pace(poll_interval, keepalive_interval, AccessRecheck(allowed))
        self.offset = offset
        self.retry_ms = retry_ms
        self._state = _fresh(job_state)
        self._read_from = _fresh(read_log_from)  # the first read: the offset may be inside a chunk
        self._read = _fresh(lambda job_id, offset, limit_bytes: read_log(job_id, after=offset, limit_bytes=limit_bytes))
        self._aligned = offset == 0

    async def events(self) -> AsyncIterator[str]:
        yield f"retry: {self.retry_ms}\n\n"
        last_state: JobState | None = None
        self.pace.sent()
        while True:
            # The state first: when it says the job has ended, every byte of its log was stored
            # before (the runner closes the log, then finishes the job), so the reads below see it all.
            state = await self._state(self.job_id)
            if state != last_state:
                last_state = state
                yield format_event(state.as_json(), event="status")
                self.pace.sent()
            while True:
                read = self._read if self._aligned else self._read_from
                text, end = await read(self.job_id, self.offset, limit_bytes=READ_LIMIT)
                if not text:
                    break
                self._aligned = True
                self.offset = end
                yield format_event(text, event="log", event_id=end)
                self.pace.sent()
            if state.finished:
                yield format_event(state.as_json(), event="end")
                return
            if keep_alive := self.pace.keep_alive():
                yield keep_alive
            if not await self.pace.next_poll():
                return  # the reader lost access: the reconnect gets 404 (SECURITY.md 40)


def job_event_stream(request: HttpRequest, job_id: int, *, allowed: Callable[[], bool]) -> StreamingHttpResponse:
    stream = JobLogStream(job_id, offset=resume_offset(request), allowed=allowed)
    response = StreamingHttpResponse(stream.events(), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"
    return response


def _job_id(workspace, name: str) -> int | None:
    job = selectors.job_by_name(workspace=workspace, name=name)
    return job.pk if job else None


async def _job_id_or_404(workspace, name: str) -> int:
    job_id = await sync_to_async(_job_id)(workspace, name)
    if job_id is None:
        raise Http404("No such job.")
    return job_id


@async_guard(workspace_view(read=Perm.JOBS_READ))
async def job_stream(request, access, name):
    """The job page's live log (session auth)."""
    allowed = still_allowed(user=request.user, workspace=access.workspace.name, perm=Perm.JOBS_READ)
    return job_event_stream(request, await _job_id_or_404(access.workspace, name), allowed=allowed)


def job_status_change(job_id: int) -> Change:
    """The job's status, versioned by its latest status event. The version is read first: a transition
    committed in between shows as a newer status now and a newer version at the next poll."""
    version = JobStatusEvent.objects.filter(job_id=job_id).order_by("-pk").values_list("pk", flat=True).first()
    state = job_state(job_id)
    return Change(version or 0, {"status": state.status, "reason": state.reason}, finished=state.finished)


@async_guard(workspace_view(read=Perm.JOBS_READ))
async def job_status_stream(request, access, name):
    """The job's page: its status as it changes (the page then fetches its head and timeline)."""
    allowed = still_allowed(user=request.user, workspace=access.workspace.name, perm=Perm.JOBS_READ)
    job_id = await _job_id_or_404(access.workspace, name)
    return change_event_stream(request, poll=lambda: job_status_change(job_id), event="status", allowed=allowed)


@async_guard(workspace_view(read=Perm.JOBS_READ))
async def job_list_stream(request, access):
    """An open Jobs list: a `change` event whenever a job is submitted or changes status."""
    allowed = still_allowed(user=request.user, workspace=access.workspace.name, perm=Perm.JOBS_READ)
    workspace_id = access.workspace.pk
    return change_event_stream(
        request,
        poll=lambda: Change(selectors.jobs_version(workspace_id=workspace_id)),
        poll_interval=LIST_POLL_INTERVAL,
        allowed=allowed,
    )


# -- the API route: token auth, errors as JSON like the rest of /api/v1 -----------------------------


def _error(status: int, code: str, message: str) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="studio"'
    return response


def _api_access(request, workspace: str):
    """(access, recheck) or an error response: as BearerTokenAuthentication then WorkspaceAPIView;
    `recheck` answers later whether the same token or user still may read."""
    header = request.headers.get("Authorization", "").split()
    token = None
    if header and header[0].lower() in ("bearer", "token"):
        if not origin_allowed(request):
            origin = request.headers.get("Origin", "")[:100]
            return _error(
                403,
                "AuthorizationFailed",
                f"Requests from {origin!r} are not accepted: add the origin to CSRF_TRUSTED_ORIGINS to allow it.",
            )
        token = header[1] if len(header) == 2 else None
    # A token, or a signed-in browser session, as the other API routes accept.
    principal = authenticate(request) if token is not None or not header else None
    if principal is None:
        if header:
            return _error(401, "Unauthorized", "Invalid or revoked token.")
        return _error(401, "Unauthorized", "Authentication credentials were not provided.")
    user = principal.user
    access = workspace_access(user=user, name=workspace, scope=principal.scope)
    if access is None:
        return _error(404, "NotFound", f"No workspace named {workspace!r}.")
    if request.method not in SAFE_METHODS:
        return _error(405, "UserError", f'Method "{request.method}" not allowed.')
    if not access.allows(Perm.JOBS_READ):
        return _error(
            403,
            "AuthorizationFailed",
            f"Your role ({access.role_label}) in {access.workspace.name} does not allow this.",
        )
    return access, still_allowed(user=user, workspace=workspace, perm=Perm.JOBS_READ, token=token)


async def job_stream_api(request, workspace, name):
    """GET /api/v1/workspaces/<ws>/jobs/<name>/stream: the job's log and status as Server-Sent Events."""
    outcome = await sync_to_async(_api_access)(request, workspace)
    if isinstance(outcome, HttpResponseBase):
        return outcome
    access, allowed = outcome
    job_id = await sync_to_async(_job_id)(access.workspace, name)
    if job_id is None:
        return _error(404, "NotFound", f"No job named {name!r} in {workspace}.")
    return job_event_stream(request, job_id, allowed=allowed)


job_stream_api.studio_access = {"scope": "workspace", "read": Perm.JOBS_READ, "write": None}
