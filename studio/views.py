from django.http import JsonResponse
from django.shortcuts import redirect
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated

from workspaces.access import public_view, user_view
from workspaces.selectors import workspace_access, workspaces_for_user

from .health import health


@public_view
def healthz(request):
    ok, state = health()
    return JsonResponse(state, status=200 if ok else 503)


@user_view
def home(request):
    """The last workspace used, or the only one, or the list to pick from."""
    last = request.session.get("workspace")
    if last and workspace_access(user=request.user, name=last):
        return redirect("workspace_home", workspace=last)
    workspaces = list(workspaces_for_user(user=request.user)[:2])
    if len(workspaces) == 1:
        return redirect("workspace_home", workspace=workspaces[0].name)
    return redirect("workspace_list")


class SchemaView(SpectacularAPIView):
    permission_classes = [IsAuthenticated]  # drf-spectacular serves the schema to anyone by default

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.studio_access = {"scope": "user"}
        return view


class DocsView(SpectacularSwaggerView):
    permission_classes = [IsAuthenticated]

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.studio_access = {"scope": "user"}
        return view
