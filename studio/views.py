from django.shortcuts import redirect
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces.access import public_view, user_view
from workspaces.selectors import workspace_access, workspaces_for_user

from .health import health


class HealthView(APIView):
    """The overall status for anyone (a load balancer's check) and which sandbox user code runs in;
    the state of each part (database, broker, the workers' host names, why there is no sandbox)
    only for a signed-in user or a personal token."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request):
        ok, state = health()
        user = request.user
        if not user.is_authenticated or getattr(user, "token_workspace_id", None):
            state = {"status": state["status"], "sandbox": state["sandbox"]["backend"]}
        return Response(state, status=200 if ok else 503)


healthz = public_view(HealthView.as_view())


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


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served from this route too (`?script`): no inline script."""

    permission_classes = [IsAuthenticated]
    template_name = "studio/api_docs.html"

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.studio_access = {"scope": "user"}
        return view
