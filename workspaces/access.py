"""Who may reach which route. Every view is marked with one of these; the route-walk test fails
for a view that is not.

- `public_view`: anyone (the allow-list: sign-in, health check).
- `user_view`: any signed-in user.
- `admin_view`: studio administrators.
- `workspace_view(read=..., write=...)`: members of the workspace named in the URL whose role
  allows `read` for GET/HEAD and `write` for other methods; other users get 404.
- `WorkspaceAPIView`: the same for the REST API.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from rest_framework import exceptions
from rest_framework.views import APIView

from .roles import Perm
from .selectors import WorkspaceAccess, workspace_access

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _login_redirect(request):
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
            return _login_redirect(request)
        return view(request, *args, **kwargs)

    wrapped.studio_access = {"scope": "user"}
    return wrapped


def admin_view(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return _login_redirect(request)
        if not request.user.is_superuser:
            raise PermissionDenied("Only studio administrators can do this.")
        return view(request, *args, **kwargs)

    wrapped.studio_access = {"scope": "admin"}
    return wrapped


def workspace_view(*, read: Perm = Perm.READ, write: Perm | None = None):
    def decorator(view):
        @wraps(view)
        def wrapped(request, workspace, *args, **kwargs):
            if not request.user.is_authenticated:
                return _login_redirect(request)
            access = workspace_access(user=request.user, name=workspace)
            if access is None:
                raise Http404("No such workspace.")
            perm = read if request.method in SAFE_METHODS else write
            if perm is None:
                return HttpResponseNotAllowed(["GET"])
            if not access.allows(perm):
                raise PermissionDenied(f"Your role ({access.role_label}) does not allow this.")
            request.session["workspace"] = access.workspace.name
            return view(request, access, *args, **kwargs)

        wrapped.studio_access = {"scope": "workspace", "read": read, "write": write}
        return wrapped

    return decorator


class WorkspaceAPIView(APIView):
    """An API view under /api/v1/workspaces/<workspace>/...; sets `self.access`."""

    read_permission: Perm = Perm.READ
    write_permission: Perm | None = None
    access: WorkspaceAccess

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        access = workspace_access(user=request.user, name=kwargs.get("workspace", ""))
        if access is None:
            raise exceptions.NotFound(f"No workspace named {kwargs.get('workspace')!r}.")
        perm = self.read_permission if request.method in SAFE_METHODS else self.write_permission
        if perm is None:
            raise exceptions.MethodNotAllowed(request.method)
        if not access.allows(perm):
            raise exceptions.PermissionDenied(
                f"Your role ({access.role_label}) in {access.workspace.name} does not allow this."
            )
        self.access = access

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.studio_access = {"scope": "workspace", "read": cls.read_permission, "write": cls.write_permission}
        return view


class UserAPIView(APIView):
    """An API view for any authenticated user (permission IsAuthenticated by default); a job's
    token, which reaches only its workspace, is refused here."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if getattr(request.user, "token_workspace_id", None):
            raise exceptions.PermissionDenied("A job's token can only be used inside its workspace.")

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.studio_access = {"scope": "user"}
        return view
