"""REST API for environments, in the shape of Azure ML's: /environments, /environments/<name>/versions/<version>."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from assets.models import BuildStatus, Environment
from assets.versioning_views import ArchiveApi, AssetApi

from . import envbuild, selectors, services
from .serializers import (
    BuildLogSerializer,
    EnvironmentCreateSerializer,
    EnvironmentSerializer,
    EnvironmentUpdateSerializer,
)

LOG_CHUNK = 1024 * 1024
INCLUDE_ARCHIVED = OpenApiParameter("include_archived", bool, description="Also list archived environments.")
CURATED = OpenApiParameter("curated", bool, description="List the curated environments that ship with the studio.")
OFFSET = OpenApiParameter("offset", int, description="Byte offset to read the log from (the last `next_offset`).")


def _flag(request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


class _EnvironmentApi(AssetApi):
    what = "environment"
    find = staticmethod(selectors.environment_get)


class EnvironmentListApi(_EnvironmentApi):
    @extend_schema(parameters=[INCLUDE_ARCHIVED, CURATED], responses=EnvironmentSerializer(many=True))
    def get(self, request, workspace):
        """The latest version of each environment (as `az ml environment list`)."""
        if _flag(request, "curated"):
            rows = selectors.curated_environments().order_by("name")
        else:
            queryset = selectors.custom_environments(
                workspace=self.access.workspace, archived=_flag(request, "include_archived")
            )
            rows = selectors.latest_versions(queryset)
        return Response(EnvironmentSerializer(rows, many=True).data)

    @extend_schema(request=EnvironmentCreateSerializer, responses={201: EnvironmentSerializer})
    def post(self, request, workspace):
        serializer = EnvironmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "yaml" in data:
            environment = services.environment_create_from_yaml(
                workspace=self.access.workspace,
                user=request.user,
                yaml_text=data["yaml"],
                conda_file=data["conda_file"],
                name=data["name"] or None,
                version=data["version"] or None,
            )
        else:
            environment = services.environment_create(
                workspace=self.access.workspace,
                user=request.user,
                name=data["name"],
                version=data["version"] or None,
                description=data["description"],
                tags=data["tags"],
                image=data["image"],
                conda_file=data["conda_file"] or "",
                pip_requirements=data["pip_requirements"],
                python=data["python"],
            )
        return Response(EnvironmentSerializer(environment).data, status=status.HTTP_201_CREATED)


class EnvironmentVersionListApi(_EnvironmentApi):
    @extend_schema(responses=EnvironmentSerializer(many=True))
    def get(self, request, workspace, name):
        """Every version of an environment, newest first."""
        versions = selectors.environment_versions(workspace=self.access.workspace, name=name)
        if not versions:
            raise Http404(f"No environment named {name!r} in {self.access.workspace.name}.")
        return Response(EnvironmentSerializer(versions, many=True).data)


class EnvironmentVersionApi(_EnvironmentApi):
    @extend_schema(responses=EnvironmentSerializer)
    def get(self, request, workspace, name, version):
        return Response(EnvironmentSerializer(self.get_asset(name, version)).data)

    @extend_schema(request=EnvironmentUpdateSerializer, responses=EnvironmentSerializer)
    def patch(self, request, workspace, name, version):
        """Change the description or the tags (the packages of a version never change)."""
        environment = self.get_asset(name, version)
        serializer = EnvironmentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.environment_update(environment=environment, **serializer.validated_data)
        return Response(EnvironmentSerializer(environment).data)


class EnvironmentArchiveApi(ArchiveApi, _EnvironmentApi):
    model = Environment
    serializer_class = EnvironmentSerializer


class EnvironmentBuildApi(_EnvironmentApi):
    @extend_schema(request=None, responses={202: EnvironmentSerializer})
    def post(self, request, workspace, name, version):
        """Build the environment's image if it never was, or again if its build Failed."""
        environment = self.get_asset(name, version)
        services.environment_build_start(environment=environment)
        return Response(EnvironmentSerializer(environment).data, status=status.HTTP_202_ACCEPTED)


class EnvironmentBuildLogApi(_EnvironmentApi):
    @extend_schema(parameters=[OFFSET], responses=BuildLogSerializer)
    def get(self, request, workspace, name, version):
        """The build log from `offset` on (at most 1 MB of whole lines); poll with `next_offset` to follow."""
        environment = self.get_asset(name, version)
        build = environment.build
        if build is None:
            raise Http404(f"Environment {name}:{version} has not been built.")
        raw = request.query_params.get("offset", "0")
        offset = int(raw) if raw.isdigit() else 0
        build.refresh_from_db(
            fields=["status", "error"]
        )  # read before the log, so nothing written before the end is missed
        ended = build.status in (BuildStatus.SUCCEEDED, BuildStatus.FAILED)
        try:
            with open(envbuild.log_path(build.spec_hash), "rb") as log:
                log.seek(offset)
                data = log.read(LOG_CHUNK)
        except FileNotFoundError:
            data = b""
        at_end = len(data) < LOG_CHUNK
        if not (ended and at_end):
            data = data[: data.rfind(b"\n") + 1]  # whole lines only; the rest comes next time
        body = {
            "status": build.status,
            "error": build.error,
            "offset": offset,
            "next_offset": offset + len(data),
            "content": data.decode("utf-8", errors="replace"),
            "finished": ended and at_end,
        }
        return Response(BuildLogSerializer(body).data)
