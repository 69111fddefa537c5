"""/api/v1/workspaces/<workspace>/models...: Azure ML's model REST resources, in the studio's shape."""

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from assets.models import Model
from assets.versioning_views import ArchiveApi, AssetApi
from assets.yaml_errors import MAX_YAML_BYTES
from core.json_bodies import JSONParser
from workspaces.access import WorkspaceAPIView
from workspaces.roles import Perm

from . import selectors, services
from .files import model_files
from .serializers import (
    ModelCreateSerializer,
    ModelFileSerializer,
    ModelSerializer,
    ModelUpdateSerializer,
)

PATH_PARAM = OpenApiParameter("path", str, description="A path inside the model's folder, e.g. `MLmodel`.")
CREATE_BODY = {
    "multipart/form-data": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string", "description": "Optional: the next number"},
            "type": {"type": "string", "enum": ["custom_model", "mlflow_model", "triton_model"]},
            "description": {"type": "string", "description": "Markdown"},
            "tags": {"type": "string", "description": "A JSON object"},
            "properties": {"type": "string", "description": "A JSON object"},
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "relative_paths": {
                "type": "array",
                "items": {"type": "string"},
                "description": "One per file: `model.pkl`, or `iris/MLmodel` for a folder named iris",
            },
            "path": {
                "type": "string",
                "description": "azureml://datastores/<name>/paths/<path>, or a job's files as "
                "azureml://jobs/<job>/outputs/<output> or azureml://jobs/<job>/outputs/artifacts/paths/<path> (no files)",
            },
            "yaml": {"type": "string", "format": "binary", "description": "A model YAML (file or text)"},
        },
    },
    "application/json": ModelCreateSerializer,
}


def _uploads(request) -> list[tuple[str, object]]:
    uploads = request.FILES.getlist("files")
    names = request.data.getlist("relative_paths") if hasattr(request.data, "getlist") else []
    if names and len(names) != len(uploads):
        raise ValidationError({"relative_paths": "Give one relative path per file, or none."})
    return list(zip(names or [u.name for u in uploads], uploads, strict=True))


def _form_fields(request):
    """The request's fields without its files (a multipart form merges both into request.data)."""
    if not hasattr(request.data, "getlist"):
        return request.data
    return {key: request.data.get(key) for key in request.data if key not in request.FILES and key != "relative_paths"}


def _yaml_text(request, data) -> str:
    upload = request.FILES.get("yaml")
    if upload is None:
        return data["yaml"]
    try:
        return upload.read(MAX_YAML_BYTES + 1).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError({"yaml": "The YAML file is not UTF-8 text."}) from exc


def register_model(request, workspace) -> object:
    """One registration, whichever way the request gives the model: a YAML, files, or a path."""
    serializer = ModelCreateSerializer(data=_form_fields(request))
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    files = _uploads(request)
    if data["yaml"] or "yaml" in request.FILES:
        return services.model_create_from_yaml(
            workspace=workspace,
            user=request.user,
            yaml_text=_yaml_text(request, data),
            files=files,
            name=data["name"],
            version=data["version"],
        )
    fields = services.ModelFields(
        name=data["name"],
        version=data["version"],
        type=data["type"],
        description=data["description"],
        tags=data["tags"],
        properties=data["properties"],
    )
    if files:
        return services.model_create_from_upload(workspace=workspace, user=request.user, fields=fields, files=files)
    if data["path"].startswith("azureml://jobs/"):
        return services.model_create_from_job_output(
            workspace=workspace, user=request.user, fields=fields, uri=data["path"]
        )
    if data["path"]:
        return services.model_create_from_datastore(
            workspace=workspace, user=request.user, fields=fields, path=data["path"], datastore=data["datastore"]
        )
    raise ValidationError({"path": "Give the model's files, a datastore path (azureml://...) or a model YAML."})


class ModelListApi(WorkspaceAPIView):
    read_permission = Perm.DATA_READ
    write_permission = Perm.DATA_WRITE
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, description="Every version of this model instead of the newest of each"),
            OpenApiParameter("include_archived", bool),
            OpenApiParameter("archived_only", bool),
        ],
        responses=ModelSerializer(many=True),
    )
    def get(self, request, workspace):
        params = request.query_params
        models = selectors.model_list(
            workspace=self.access.workspace,
            name=params.get("name", ""),
            include_archived=params.get("include_archived") in ("1", "true", "True"),
            archived_only=params.get("archived_only") in ("1", "true", "True"),
        )
        return Response(ModelSerializer(models, many=True).data)

    @extend_schema(request=CREATE_BODY, responses={201: ModelSerializer})
    def post(self, request, workspace):
        model = register_model(request, self.access.workspace)
        return Response(ModelSerializer(model).data, status=status.HTTP_201_CREATED)


class _ModelApi(AssetApi):
    what = "model"
    find = staticmethod(selectors.model_get)


class ModelVersionListApi(_ModelApi):
    @extend_schema(responses=ModelSerializer(many=True))
    def get(self, request, workspace, name):
        versions = selectors.model_list(workspace=self.access.workspace, name=name, include_archived=True)
        if not versions:
            raise Http404(f"No model named {name!r} in {self.access.workspace.name}.")
        return Response(ModelSerializer(versions, many=True).data)


class ModelDetailApi(_ModelApi):
    parser_classes = [JSONParser]

    @extend_schema(responses=ModelSerializer)
    def get(self, request, workspace, name, version):
        return Response(ModelSerializer(self.get_asset(name, version)).data)

    @extend_schema(request=ModelUpdateSerializer, responses=ModelSerializer)
    def patch(self, request, workspace, name, version):
        serializer = ModelUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = services.model_update(model=self.get_asset(name, version), **serializer.validated_data)
        return Response(ModelSerializer(model).data)


class ModelArchiveApi(ArchiveApi, _ModelApi):
    model = Model
    serializer_class = ModelSerializer


class ModelFilesApi(_ModelApi):
    write_permission = None

    @extend_schema(parameters=[PATH_PARAM], responses=ModelFileSerializer(many=True))
    def get(self, request, workspace, name, version):
        entries = model_files(self.get_asset(name, version)).entries(request.query_params.get("path", ""))
        return Response(ModelFileSerializer([e.__dict__ for e in entries], many=True).data)


class ModelFileContentApi(_ModelApi):
    """A file of the model, or a folder (the whole model when no path is given) as a zip."""

    write_permission = None

    @extend_schema(parameters=[PATH_PARAM], responses={(200, "application/octet-stream"): bytes})
    def get(self, request, workspace, name, version):
        return model_files(self.get_asset(name, version)).download(request.query_params.get("path", ""))
