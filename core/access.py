"""Who may reach which route, for routes of no workspace. Every view is marked with one of these
(or with workspaces.access.workspace_view); the route-walk test fails for a view that is not.

- `public_view`: anyone (the allow-list: sign-in, health check).
- `user_view`: any signed-in user.
- `admin_view`: studio administrators.
- `UserAPIView`: an API view for any authenticated user but a job's token.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.views import APIView

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def login_redirect(request):
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = f"/accounts/login/?next={request.get_full_path()}"
        return response
    return redirect_to_login(request.get_full_path())


def public_view(view):
    view.studio_access = {"scope": "public"}
    return view


def user_view(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return login_redirect(request)
        return view(request, *args, **kwargs)

    wrapped.studio_access = {"scope": "user"}
    return wrapped


def admin_view(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return login_redirect(request)
        if not request.user.is_superuser:
            raise PermissionDenied("Only studio administrators can do this.")
        return view(request, *args, **kwargs)

    wrapped.studio_access = {"scope": "admin"}
    return wrapped


class UserAPIView(APIView):
    """An API view for any authenticated user (permission IsAuthenticated by default); a job's
    token, which reaches only its workspace, is refused here."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.auth is not None:  # a job's token: its scope
            raise exceptions.PermissionDenied("A job's token can only be used inside its workspace.")

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.studio_access = {"scope": "user"}
        return view
