"""/api/v1/workspaces/<workspace>/components...: register from YAML + code folder, list, show,
code files, archive and restore."""

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from assets.mlmodels.files import AssetFiles
from assets.mlmodels.serializers import ModelFileSerializer
from assets.models import Component
from assets.versioning_views import ArchiveApi, AssetApi
from assets.yaml_errors import MAX_YAML_BYTES
from core.json_bodies import JSONParser
from workspaces.access import WorkspaceAPIView
from workspaces.roles import Perm

from . import selectors, services
from .serializers import ComponentCreateSerializer, ComponentDetailSerializer, ComponentSerializer
from .spec import MAX_CONDA_BYTES

PATH_PARAM = OpenApiParameter("path", str, description="A path inside the code folder, e.g. `train.py`.")
CREATE_BODY = {
    "multipart/form-data": {
        "type": "object",
        "properties": {
            "yaml": {"type": "string", "format": "binary", "description": "The component YAML (file or text)"},
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "relative_paths": {
                "type": "array",
                "items": {"type": "string"},
                "description": "One per file, relative to the code folder the YAML names (`train.py`, `utils/io.py`)",
            },
            "conda_file": {"type": "string", "format": "binary", "description": "An inline environment's conda file"},
        },
        "required": ["yaml"],
    },
    "application/json": ComponentCreateSerializer,
}


def read_text(upload, *, field: str, limit: int) -> str:
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise ValidationError({field: f"The file is larger than {limit // 1024} KB."})
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError({field: "The file is not UTF-8 text."}) from exc


def uploaded_text(files, data, field: str, limit: int) -> str | None:
    """A text part given as a file or as a plain field."""
    if field in files:
        return read_text(files[field], field=field, limit=limit)
    value = data.get(field)
    return value if isinstance(value, str) and value else None


def code_files(files, names: list[str]) -> list[tuple[str, object]]:
    uploads = files.getlist("files")
    if names and len(names) != len(uploads):
        raise ValidationError({"relative_paths": "Give one relative path per file."})
    return list(zip(names or [u.name for u in uploads], uploads, strict=True))


class ComponentListApi(WorkspaceAPIView):
    read_permission = Perm.DATA_READ
    write_permission = Perm.DATA_WRITE
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, description="Every version of this component instead of the newest of each"),
            OpenApiParameter("include_archived", bool),
        ],
        responses=ComponentSerializer(many=True),
    )
    def get(self, request, workspace):
        components = selectors.component_list(
            workspace=self.access.workspace,
            name=request.query_params.get("name", ""),
            include_archived=request.query_params.get("include_archived") in ("1", "true", "True"),
        )
        return Response(ComponentSerializer(components, many=True).data)

    @extend_schema(request=CREATE_BODY, responses={201: ComponentDetailSerializer})
    def post(self, request, workspace):
        text = uploaded_text(request.FILES, request.data, "yaml", MAX_YAML_BYTES)
        if not text:
            raise ValidationError({"yaml": "Give the component YAML."})
        names = request.data.getlist("relative_paths") if hasattr(request.data, "getlist") else []
        component = services.component_create(
            workspace=self.access.workspace,
            user=request.user,
            yaml_text=text,
            code_files=code_files(request.FILES, names),
            conda_file=uploaded_text(request.FILES, request.data, "conda_file", MAX_CONDA_BYTES),
        )
        return Response(ComponentDetailSerializer(component).data, status=status.HTTP_201_CREATED)


class _ComponentApi(AssetApi):
    what = "component"
    find = staticmethod(selectors.component_get)

    def code(self, name, version) -> AssetFiles:
        component = self.get_asset(name, version)
        if not component.code_path:
            raise Http404(f"{name}:{version} has no code folder.")
        return AssetFiles(datastore=component.datastore, root=component.code_path, zip_name=f"{name}-{version}-code")


class ComponentVersionListApi(_ComponentApi):
    write_permission = None

    @extend_schema(responses=ComponentSerializer(many=True))
    def get(self, request, workspace, name):
        versions = selectors.component_list(workspace=self.access.workspace, name=name, include_archived=True)
        if not versions:
            raise Http404(f"No component named {name!r} in {self.access.workspace.name}.")
        return Response(ComponentSerializer(versions, many=True).data)


class ComponentDetailApi(_ComponentApi):
    write_permission = None

    @extend_schema(responses=ComponentDetailSerializer)
    def get(self, request, workspace, name, version):
        return Response(ComponentDetailSerializer(self.get_asset(name, version)).data)


class ComponentArchiveApi(ArchiveApi, _ComponentApi):
    model = Component
    serializer_class = ComponentSerializer


class ComponentFilesApi(_ComponentApi):
    write_permission = None

    @extend_schema(parameters=[PATH_PARAM], responses=ModelFileSerializer(many=True))
    def get(self, request, workspace, name, version):
        entries = self.code(name, version).entries(request.query_params.get("path", ""))
        return Response(ModelFileSerializer([e.__dict__ for e in entries], many=True).data)


class ComponentFileContentApi(_ComponentApi):
    """A code file, or a folder (the whole snapshot when no path is given) as a zip."""

    write_permission = None

    @extend_schema(parameters=[PATH_PARAM], responses={(200, "application/octet-stream"): bytes})
    def get(self, request, workspace, name, version):
        return self.code(name, version).download(request.query_params.get("path", ""))
