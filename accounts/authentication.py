from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.http import is_same_domain
from rest_framework import authentication, exceptions

from .models import TOKEN_PREFIX, ApiToken, hash_token


def user_for_token(raw: str):
    """The active user a token belongs to, or None."""
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
    user = token.user
    # A job's token (MLFLOW_TRACKING_TOKEN) reaches only the job's workspace: workspace selectors
    # read this mark (workspaces.selectors.workspace_access).
    user.token_workspace_id = token.workspace_id
    user.token_job_name = token.job_name
    return user


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
    """`Authorization: Bearer stu_...` (also accepts the `Token` keyword).

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
        user = user_for_token(header[1].decode(errors="replace"))
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (user, None)

    def authenticate_header(self, request):
        return 'Bearer realm="studio"'
