from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .access import public_view
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
        if not user.is_authenticated or request.auth is not None:  # anyone, or a job's token
            state = {"status": state["status"], "sandbox": state["sandbox"]["backend"]}
        return Response(state, status=200 if ok else 503)


healthz = public_view(HealthView.as_view())


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
    template_name = "core/api_docs.html"

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.studio_access = {"scope": "user"}
        return view
