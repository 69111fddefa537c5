"""The MLflow REST protocol as the client speaks it: one decorator per endpoint.

Each endpoint sits under `/mlflow/v1.0/workspaces/<workspace>/api/2.0/mlflow/...` (and the same
under `ajax-api/`). The decorator authenticates (`MLFLOW_TRACKING_TOKEN` as a Bearer token, or
`MLFLOW_TRACKING_USERNAME`/`PASSWORD` as Basic auth), resolves the workspace and the caller's
role, refuses non-JSON bodies (415) and foreign origins (403), parses the body, and turns an
`MlflowException` into the `{"error_code", "message"}` body and status the client expects.

The calls a training loop repeats (log-metric, log-batch, get-history) with an Authorization header
reach their views through `MlflowFastPath` (wired in studio/asgi.py) rather than Django's middleware
stack, and a granted (token, workspace) access is remembered for ACCESS_CACHE_SECONDS.
"""

import hashlib
import io
import logging
import re
import time
from dataclasses import dataclass
from functools import wraps

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest, DisallowedHost, RequestDataTooBig, SuspiciousOperation
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections, connection
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponseBadRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    ENDPOINT_NOT_FOUND,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    REQUEST_LIMIT_EXCEEDED,
    RESOURCE_DOES_NOT_EXIST,
    UNAUTHENTICATED,
)

from accounts import throttle
from accounts.authentication import authenticate, origin_allowed
from core import json_bodies
from workspaces.roles import Perm
from workspaces.selectors import WorkspaceAccess, workspace_access

log = logging.getLogger(__name__)

# Bodies larger than this are refused before parsing; log-batch's own limits are far below it.
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass
class Call:
    """What an endpoint handler gets: who calls, in which workspace, with which arguments."""

    request: object
    access: WorkspaceAccess
    body: dict

    @property
    def workspace(self):
        return self.access.workspace

    @property
    def user(self):
        return self.request.user

    def get(self, name: str, default=None):
        return self.body.get(name, default)

    def get_list(self, name: str) -> list:
        """A repeated argument: a JSON list, or a query parameter given any number of times."""
        if self.request.method in ("GET", "HEAD"):
            return self.request.GET.getlist(name)
        value = self.body.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid(f"'{name}' must be a list.")
        return value

    def require(self, name: str):
        """A required argument, or INVALID_PARAMETER_VALUE naming it (as MLflow's server does)."""
        value = self.body.get(name)
        if value is None or value == "":
            raise MlflowException(f"Missing value for required parameter '{name}'.", INVALID_PARAMETER_VALUE)
        return value


def invalid(message: str) -> MlflowException:
    return MlflowException(message, INVALID_PARAMETER_VALUE)


def check_value_length(what: str, key, value, limit: int) -> None:
    """INVALID_PARAMETER_VALUE naming the key when a tag's (or param's) value is over `limit`
    characters (MLflow's limits: mlflow.utils.validation)."""
    if isinstance(value, str) and len(value) > limit:
        raise invalid(
            f"The value of the {what} {str(key)[:250]!r} is {len(value)} characters long; the limit is {limit}."
        )


def not_found(message: str) -> MlflowException:
    return MlflowException(message, RESOURCE_DOES_NOT_EXIST)


def error_response(exc: MlflowException) -> JsonResponse:
    return JsonResponse({"error_code": exc.error_code, "message": exc.message}, status=exc.get_http_status_code())


def _error(code, message: str) -> JsonResponse:
    return error_response(MlflowException(message, code))


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_body(request) -> dict:
    if request.method in ("GET", "HEAD"):
        return {key: values[-1] for key, values in request.GET.lists()}
    raw = request.body
    if not raw:
        return {}
    try:
        body = json_bodies.loads(raw)
    except json_bodies.TooDeep as exc:
        raise invalid(str(exc)) from None
    except ValueError as exc:
        raise invalid(f"The request body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def _body_too_big(request) -> bool:
    """Whether the body is over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (a 10 MB metric name, say):
    refused with MLflow's error body instead of Django's HTML 400."""
    try:
        request.body  # noqa: B018 - reading it is the check
    except RequestDataTooBig:
        return True
    return False


# A training loop calls log-metric many times a second with the same token: who it is and what it
# may do in the workspace (three queries) are remembered this long. Only granted access is kept,
# and any change to a token, user, membership or workspace in this process forgets it all at once;
# a change made by another process takes effect within this time. 0 turns it off.
ACCESS_CACHE_SECONDS = 1.0
ACCESS_CACHE_SIZE = 1024
_recent: dict[tuple[str, str], tuple[float, object, WorkspaceAccess]] = {}


def _access_key(request, workspace: str) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header or ACCESS_CACHE_SECONDS <= 0:
        return None
    return hashlib.sha256(header.encode()).hexdigest(), workspace


def _recent_access(request, workspace: str) -> tuple | None:
    """(principal, access) granted to this Authorization header in this workspace moments ago."""
    key = _access_key(request, workspace)
    entry = _recent.get(key) if key else None
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1], entry[2]


def _remember_access(request, workspace: str, principal, access: WorkspaceAccess) -> None:
    key = _access_key(request, workspace)
    if key is None:
        return
    if len(_recent) >= ACCESS_CACHE_SIZE:
        _recent.clear()
    _recent[key] = (time.monotonic() + ACCESS_CACHE_SECONDS, principal, access)


def forget_recent_access(**_kwargs) -> None:
    """Drop every remembered grant (a signal receiver: tokens, users, memberships, workspaces)."""
    _recent.clear()


def _connect_access_signals() -> None:
    from accounts.models import ApiToken
    from workspaces.models import Membership, Workspace

    for model in (ApiToken, Membership, Workspace, get_user_model()):
        for signal in (post_save, post_delete):
            signal.connect(forget_recent_access, sender=model, dispatch_uid=f"mlflow-access-{model._meta.label}")


_connect_access_signals()


def endpoint(*, methods: tuple[str, ...], perm: Perm, raw_body: bool = False, hot: bool = False):
    """Mark a handler `fn(call) -> dict | HttpResponse` as an MLflow endpoint view.

    With `raw_body`, the body is not a JSON document but the bytes of a file (an artifact upload):
    any content type is accepted, nothing is parsed, and the handler reads `call.request` itself.
    A `hot` endpoint (a call a training loop repeats) is also served by MlflowFastPath once its
    route registers it (`register_hot_endpoint`).
    """

    def decorator(fn):
        @csrf_exempt
        @wraps(fn)
        def view(request, workspace, **kwargs):
            if request.method not in methods:
                return _error(ENDPOINT_NOT_FOUND, f"{request.method} is not supported here; use {', '.join(methods)}.")
            recent = _recent_access(request, workspace)
            try:
                principal = recent[0] if recent else authenticate(request, basic=True)
            except throttle.SignInThrottled as exc:
                response = _error(REQUEST_LIMIT_EXCEEDED, str(exc))
                response["Retry-After"] = str(exc.retry_after)
                return response
            if principal is None:
                response = _error(UNAUTHENTICATED, "Sign in with MLFLOW_TRACKING_TOKEN or a username and password.")
                response["WWW-Authenticate"] = 'Basic realm="studio", Bearer realm="studio"'
                return response
            user = request.user = principal.user
            if not origin_allowed(request):
                return _error(PERMISSION_DENIED, "Requests from another site's pages are not accepted.")
            if not raw_body and request.method not in ("GET", "HEAD") and _body_too_big(request):
                return _error(INVALID_PARAMETER_VALUE, "The request body is too large.")
            if not raw_body and request.method not in ("GET", "HEAD") and request.body:
                content_type = request.content_type or ""
                if content_type != "application/json":
                    return JsonResponse(
                        {
                            "error_code": "BAD_REQUEST",
                            "message": f"Send JSON (Content-Type: application/json), not {content_type or 'nothing'!r}.",
                        },
                        status=415,
                    )
                if len(request.body) > MAX_BODY_BYTES:
                    return _error(INVALID_PARAMETER_VALUE, f"The request body is over {MAX_BODY_BYTES} bytes.")
            access = recent[1] if recent else workspace_access(user=user, name=workspace, scope=principal.scope)
            if access is None:
                return _error(RESOURCE_DOES_NOT_EXIST, f"No workspace named {workspace[:100]!r}.")
            if not recent:
                _remember_access(request, workspace, principal, access)
            if not access.allows(perm):
                return _error(
                    PERMISSION_DENIED,
                    f"Your role ({access.role_label}) in {access.workspace.name} does not allow this.",
                )
            try:
                body = {} if raw_body and request.method not in ("GET", "HEAD") else parse_body(request)
                call = Call(request=request, access=access, body=body)
                result = fn(call, **kwargs)
            except MlflowException as exc:
                return error_response(exc)
            if isinstance(result, HttpResponseBase):
                return result
            return JsonResponse(result if result is not None else {}, json_dumps_params={"allow_nan": True})

        view.studio_access = {"scope": "workspace", "read": perm, "write": perm}
        view.mlflow_methods = methods
        view.mlflow_hot = hot
        return view

    return decorator


def by_method(**views):
    """One route served by several endpoint views, one per HTTP method (e.g. GET=..., PUT=...):
    each keeps its own permission. Other methods get ENDPOINT_NOT_FOUND."""
    methods = tuple(views)

    @csrf_exempt
    def view(request, workspace, **kwargs):
        if request.method not in views:
            return _error(ENDPOINT_NOT_FOUND, f"{request.method} is not supported here; use {', '.join(methods)}.")
        return views[request.method](request, workspace, **kwargs)

    reads = [v.studio_access["read"] for m, v in views.items() if m in ("GET", "HEAD")]
    writes = [v.studio_access["write"] for m, v in views.items() if m not in ("GET", "HEAD")]
    view.studio_access = {"scope": "workspace", "read": (reads or writes)[0], "write": (writes or reads)[0]}
    view.mlflow_methods = methods
    return view


# --- a lean ASGI route for the calls a training loop makes many times ---------------------

HOT_ROUTE = re.compile(r"^/mlflow/v1\.0/workspaces/(?P<workspace>[^/]+)/api/2\.0/mlflow/(?P<sub>[a-z/-]+)$")

# The views MlflowFastPath serves, by their path under `api/2.0/mlflow/` ("runs/log-metric"): the
# endpoints marked `hot`, registered by the routes that mount them (tracking.urls, imported when
# the app is ready).
hot_endpoints: dict[str, object] = {}


def register_hot_endpoint(sub: str, view) -> None:
    hot_endpoints[sub] = view


def _serve_hot(view, scope, body: bytes, workspace: str):
    """Run an endpoint view on a request built from the ASGI scope, outside Django's middleware
    and URL resolver: the view does every check itself (auth, origin, role, content type).

    An SQLite connection stays open from one hot call to the next (opening one and setting its
    pragmas costs as much as a metric write); other databases follow CONN_MAX_AGE as usual."""
    if connection.vendor != "sqlite":
        close_old_connections()
    try:
        request = ASGIRequest(scope, io.BytesIO(body))
        try:
            request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
        except DisallowedHost:
            return HttpResponseBadRequest()
        try:
            return view(request, workspace)
        except (SuspiciousOperation, BadRequest) as exc:  # e.g. too many query fields, as Django answers them
            return _error(INVALID_PARAMETER_VALUE, f"Bad request: {str(exc)[:200]}")
        except Exception:  # noqa: BLE001 - answered as Django answers an unhandled error
            log.exception("MLflow endpoint %s failed", scope["path"])
            return _error(INTERNAL_ERROR, "Internal error.")
    finally:
        if connection.in_atomic_block or connection.vendor != "sqlite":
            close_old_connections()


class MlflowFastPath:
    """An ASGI wrapper that serves the hot MLflow calls (log-metric, log-batch, get-history) with
    an Authorization header directly through their endpoint views.

    Django's stack (middleware, URL resolution, a thread hop per sync middleware) costs more than
    these calls themselves. The views authenticate and authorize every request on their own, so
    nothing is skipped that they rely on; a browser's session call (no Authorization header) and
    every other path go through Django as usual.
    """

    def __init__(self, app, views: dict | None = None):
        self.app = app
        self.views = hot_endpoints if views is None else views

    async def __call__(self, scope, receive, send):
        match = HOT_ROUTE.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or not any(name == b"authorization" for name, _ in scope.get("headers") or ()):
            return await self.app(scope, receive, send)
        view = self.views.get(match["sub"])
        if view is None or not _small_body(scope):
            return await self.app(scope, receive, send)
        body = await _read_body(receive)
        if body is None:
            return
        response = await sync_to_async(_serve_hot)(view, scope, body, match["workspace"])
        headers = [(b"content-type", response["Content-Type"].encode()), (b"x-content-type-options", b"nosniff")]
        headers += [
            (name.lower().encode(), value.encode()) for name, value in response.items() if name != "Content-Type"
        ]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": response.content})


def _small_body(scope) -> bool:
    """A body this path may hold in memory: a declared length within Django's in-memory limit
    (`DATA_UPLOAD_MAX_MEMORY_SIZE`). Anything larger, or of unknown length, goes through Django,
    which refuses or spools it before anyone is authenticated."""
    headers = dict(scope.get("headers") or ())
    length = headers.get(b"content-length")
    if length is None:
        return scope.get("method") in ("GET", "HEAD") and b"transfer-encoding" not in headers
    try:
        return 0 <= int(length) <= (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)
    except ValueError:
        return False


async def _read_body(receive) -> bytes | None:
    """The whole request body (core.body_limit bounds it), or None if the client went away."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)
