"""The MLflow REST protocol as the client speaks it: one decorator per endpoint.

Each endpoint sits under `/mlflow/v1.0/workspaces/<workspace>/api/2.0/mlflow/...` (and the same
under `ajax-api/`). The decorator authenticates (`MLFLOW_TRACKING_TOKEN` as a Bearer token, or
`MLFLOW_TRACKING_USERNAME`/`PASSWORD` as Basic auth), resolves the workspace and the caller's
role, refuses non-JSON bodies (415) and foreign origins (403), parses the body, and turns an
`MlflowException` into the `{"error_code", "message"}` body and status the client expects.
"""

import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth import authenticate, get_user_model
from django.core.cache import caches
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    ENDPOINT_NOT_FOUND,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    UNAUTHENTICATED,
)

from accounts.authentication import origin_allowed, user_for_token
from workspaces.roles import Perm
from workspaces.selectors import WorkspaceAccess, workspace_access

log = logging.getLogger(__name__)

# Bodies larger than this are refused before parsing; log-batch's own limits are far below it.
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 32
BASIC_AUTH_CACHE_SECONDS = 60


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


def not_found(message: str) -> MlflowException:
    return MlflowException(message, RESOURCE_DOES_NOT_EXIST)


def error_response(exc: MlflowException) -> JsonResponse:
    return JsonResponse({"error_code": exc.error_code, "message": exc.message}, status=exc.get_http_status_code())


def _error(code, message: str) -> JsonResponse:
    return error_response(MlflowException(message, code))


def now_ms() -> int:
    return int(time.time() * 1000)


def _basic_user(raw: str):
    """The user of `Authorization: Basic ...`; a successful check is cached briefly (password
    hashing takes a tenth of a second, and the client sends the header on every call)."""
    try:
        username, _, password = base64.b64decode(raw, validate=True).decode().partition(":")
    except ValueError:
        return None
    cache = caches["default"]
    key = "mlflow-basic:" + hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
    user_id = cache.get(key)
    if user_id is not None:
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is not None:
            return user
    user = authenticate(username=username, password=password)
    if user is not None:
        cache.set(key, user.pk, BASIC_AUTH_CACHE_SECONDS)
    return user


def authenticated_user(request):
    """The caller: a token (Bearer), Basic auth, or the browser's session. None if none works."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    if scheme in ("bearer", "token"):
        return user_for_token(credentials.strip())
    if scheme == "basic":
        return _basic_user(credentials.strip())
    if header:
        return None
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _depth_ok(value, depth=0) -> bool:
    if depth > MAX_JSON_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_depth_ok(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_depth_ok(v, depth + 1) for v in value)
    return True


def parse_body(request) -> dict:
    if request.method in ("GET", "HEAD"):
        return {key: values[-1] for key, values in request.GET.lists()}
    raw = request.body
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise invalid(f"The request body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    if not _depth_ok(body):
        raise invalid(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.")
    return body


def endpoint(*, methods: tuple[str, ...], perm: Perm):
    """Mark a handler `fn(call) -> dict | HttpResponse` as an MLflow endpoint view."""

    def decorator(fn):
        @csrf_exempt
        @wraps(fn)
        def view(request, workspace, **kwargs):
            if request.method not in methods:
                return _error(ENDPOINT_NOT_FOUND, f"{request.method} is not supported here; use {', '.join(methods)}.")
            user = authenticated_user(request)
            if user is None:
                response = _error(UNAUTHENTICATED, "Sign in with MLFLOW_TRACKING_TOKEN or a username and password.")
                response["WWW-Authenticate"] = 'Basic realm="studio", Bearer realm="studio"'
                return response
            request.user = user
            if not origin_allowed(request):
                return _error(PERMISSION_DENIED, "Requests from another site's pages are not accepted.")
            if request.method not in ("GET", "HEAD") and request.body:
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
            access = workspace_access(user=user, name=workspace)
            if access is None:
                return _error(RESOURCE_DOES_NOT_EXIST, f"No workspace named {workspace[:100]!r}.")
            if not access.allows(perm):
                return _error(
                    PERMISSION_DENIED,
                    f"Your role ({access.role_label}) in {access.workspace.name} does not allow this.",
                )
            try:
                call = Call(request=request, access=access, body=parse_body(request))
                result = fn(call, **kwargs)
            except MlflowException as exc:
                return error_response(exc)
            if isinstance(result, HttpResponse):
                return result
            return JsonResponse(result if result is not None else {}, json_dumps_params={"allow_nan": True})

        view.studio_access = {"scope": "workspace", "read": perm, "write": perm}
        view.mlflow_methods = methods
        return view

    return decorator
