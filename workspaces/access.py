"""Who may reach which route of a workspace: members of the workspace named in the URL whose role
allows it. Every view is marked (here or in core.access); the route-walk test fails for a view
that is not.

- `workspace_view(read=..., write=...)`: members of the workspace named in the URL whose role
  allows `read` for GET/HEAD and `write` for other methods; other users get 404.
- `WorkspaceAPIView`: the same for the REST API.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from rest_framework import exceptions
from rest_framework.views import APIView

from core.access import SAFE_METHODS, login_redirect

from .roles import Perm
from .selectors import WorkspaceAccess, workspace_access


def workspace_view(*, read: Perm = Perm.READ, write: Perm | None = None):
    def decorator(view):
        @wraps(view)
        def wrapped(request, workspace, *args, **kwargs):
            if not request.user.is_authenticated:
                return login_redirect(request)
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
        access = workspace_access(user=request.user, name=kwargs.get("workspace", ""), scope=request.auth)
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
