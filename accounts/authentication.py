"""Who makes a request: the one authentication every request stack uses.

`authenticate(request)` answers with a `Principal`: the user, how they proved it (a token, Basic
credentials, the browser's session) and, for a job's own token, the scope it is limited to (its
workspace and its job). Django REST Framework's authentication class, the MLflow endpoints and the
fast ASGI paths (metric logging, upload chunks, the request-body guard) all call it, so a token, a
password or a session means the same thing on every route.
"""

import base64
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user, get_user_model
from django.core.cache import caches
from django.utils import timezone
from django.utils.http import is_same_domain
from rest_framework import authentication, exceptions

from . import throttle
from .models import TOKEN_PREFIX, ApiToken, hash_token

# Password hashing takes a tenth of a second and a script sends Basic credentials on every call: a
# successful check is remembered this long, in this process only (its key derives from the password).
BASIC_AUTH_CACHE_SECONDS = 60


@dataclass(frozen=True)
class TokenScope:
    """What a job's own token (MLFLOW_TRACKING_TOKEN) is limited to."""

    workspace_id: int
    job_name: str


@dataclass(frozen=True)
class Principal:
    user: object
    scheme: str  # "token", "basic" or "session"
    scope: TokenScope | None = None


def token_principal(raw: str) -> Principal | None:
    """The principal of an API token, or None for an unknown, revoked or inactive user's token."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    scope = TokenScope(token.workspace_id, token.job_name) if token.workspace_id else None
    return Principal(token.user, "token", scope)


def _basic_principal(request, raw: str) -> Principal | None:
    """The principal of `Authorization: Basic ...`. Wrong passwords are throttled as on the sign-in
    page (throttle.SignInThrottled while locked out, also for a remembered right password)."""
    try:
        username, _, password = base64.b64decode(raw, validate=True).decode().partition(":")
    except ValueError:
        return None
    cache = caches["local"]
    key = "basic-auth:" + hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        # Valid only while the password is the one that was checked: a change ends it at once.
        user = get_user_model().objects.filter(pk=cached[0], is_active=True, password=cached[1]).first()
        if user is not None:
            throttle.check(username, throttle.client_address(request))
            return Principal(user, "basic")
    user = throttle.authenticate(request, username=username, password=password)
    if user is None:
        return None
    cache.set(key, (user.pk, user.password), BASIC_AUTH_CACHE_SECONDS)
    return Principal(user, "basic")


def _session_principal(request, *, csrf: bool) -> Principal | None:
    """The signed-in user of the browser's session cookie; with `csrf`, only if the request also
    carries the session's CSRF token (as Django checks it for unsafe methods)."""
    if not hasattr(request, "session"):  # a fast path, outside Django's middleware
        engine = import_module(settings.SESSION_ENGINE)
        request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    user = request.user if hasattr(request, "user") else get_user(request)
    if not user.is_authenticated:
        return None
    request.user = user
    if csrf:
        from rest_framework.authentication import CSRFCheck

        if CSRFCheck(lambda r: None).process_view(request, None, (), {}) is not None:
            return None
    return Principal(user, "session")


def authenticate(request, *, basic: bool = False, session: bool = True, csrf: bool = False) -> Principal | None:
    """The caller of `request`, or None when none of the accepted ways names an active user.

    `Authorization: Bearer` (or `Token`) is a studio token; `Basic` (when `basic`) a user name and
    password; without an Authorization header the session cookie (when `session`), its CSRF token
    checked when `csrf`. A header of any other kind is no one: it never falls back to the session.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if scheme in ("bearer", "token"):
            return token_principal(credentials.strip())
        if scheme == "basic" and basic:
            return _basic_principal(request, credentials.strip())
        return None
    return _session_principal(request, csrf=csrf) if session else None


def origin_allowed(request) -> bool:
    """No Origin header (scripts, the CLI), the studio's own origin, or one in CSRF_TRUSTED_ORIGINS
    (with Django's `https://*.example.com` wildcards)."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None or origin == f"{request.scheme}://{request.get_host()}":
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        is_same_domain(parsed.netloc, trusted.netloc.lstrip("*"))
        for trusted in map(urlsplit, settings.CSRF_TRUSTED_ORIGINS)
        if "*" in trusted.netloc and trusted.scheme == parsed.scheme
    )


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """The REST API's token authentication: `Authorization: Bearer stu_...` (or `Token`). DRF's
    `request.auth` is the token's scope (a job's token), None for a personal token.

    A request a browser sends from another site's page (a foreign `Origin`) is refused with 403,
    like Django's CSRF check does for signed-in sessions.
    """

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if not origin_allowed(request):
            raise exceptions.PermissionDenied(
                f"Requests from {request.META['HTTP_ORIGIN'][:100]!r} are not accepted: "
                "add the origin to CSRF_TRUSTED_ORIGINS to allow it."
            )
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        principal = authenticate(request._request, session=False)
        if principal is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (principal.user, principal.scope)

    def authenticate_header(self, request):
        return 'Bearer realm="studio"'
