"""REST API for data assets, in the shape of Azure ML's: /data, /data/<name>/versions/<version>,
and resumable uploads at /data/uploads."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from assets.models import DataAsset
from assets.versioning_views import ArchiveApi, AssetApi
from core.json_bodies import JSONParser
from workspaces.downloads import file_response, folder_zip_response
from workspaces.paths import clean_path, join
from workspaces.storage import datastore_storage, is_folder

from . import selectors, services, uploads
from .serializers import (
    DataAssetCreateSerializer,
    DataAssetSerializer,
    DataAssetUpdateSerializer,
    UploadCreateSerializer,
    UploadProgressSerializer,
    UploadSessionSerializer,
)

INCLUDE_ARCHIVED = OpenApiParameter("include_archived", bool, description="Also list archived versions.")
FILE_PATH = OpenApiParameter("path", str, description="A file inside the asset; none for a zip of every file.")
RANGE_HEADER = OpenApiParameter(
    "Content-Range", str, OpenApiParameter.HEADER, required=True, description="`bytes <start>-<end>/<size>`"
)
OUT_OF_ORDER = OpenApiResponse(
    response={
        "type": "object",
        "properties": {
            "error": {"type": "object"},
            "received": {"type": "integer"},
            "missing": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"start": {"type": "integer"}, "end": {"type": "integer"}},
                },
            },
        },
    },
    description=(
        "In order: the chunk does not start at `received`, resume from there. Parallel: the chunk overlaps"
        " bytes already received; `missing` lists the ranges (inclusive) still to send."
    ),
)


def _flag(request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


class RawChunkParser(BaseParser):
    """Declares application/octet-stream; the view streams the body itself."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class _DataApi(AssetApi):
    what = "data asset"
    find = staticmethod(selectors.data_asset)


class DataListApi(_DataApi):
    @extend_schema(parameters=[INCLUDE_ARCHIVED], responses=DataAssetSerializer(many=True))
    def get(self, request, workspace):
        assets = selectors.data_assets(
            workspace=self.access.workspace, include_archived=_flag(request, "include_archived")
        )
        return Response(DataAssetSerializer(assets, many=True).data)

    @extend_schema(request=DataAssetCreateSerializer, responses={201: DataAssetSerializer})
    def post(self, request, workspace):
        serializer = DataAssetCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        files = [services.UploadedFile(upload_id=str(u["id"]), path=u.get("path", "")) for u in data["uploads"]]
        if "yaml" in data:
            asset = services.data_asset_create_from_yaml(
                workspace=self.access.workspace,
                user=request.user,
                text=data["yaml"],
                uploads=files,
                name=data["name"],
                version=data["version"] or "",
            )
        else:
            spec_fields = {k: data[k] for k in ("name", "version", "type", "description", "tags", "path", "datastore")}
            spec = services.DataAssetSpec(uploads=files, **spec_fields)
            asset = services.data_asset_create(workspace=self.access.workspace, user=request.user, spec=spec)
        return Response(DataAssetSerializer(asset).data, status=status.HTTP_201_CREATED)


class DataLatestApi(_DataApi):
    """`azureml:<name>@latest`: the newest version that is not archived."""

    @extend_schema(responses=DataAssetSerializer)
    def get(self, request, workspace, name):
        asset = selectors.data_asset_latest(workspace=self.access.workspace, name=name)
        if asset is None:
            raise Http404(f"No data asset {name}@latest in {self.access.workspace.name}.")
        return Response(DataAssetSerializer(asset).data)


class DataVersionListApi(_DataApi):
    @extend_schema(parameters=[INCLUDE_ARCHIVED], responses=DataAssetSerializer(many=True))
    def get(self, request, workspace, name):
        assets = selectors.data_assets(
            workspace=self.access.workspace, name=name, include_archived=_flag(request, "include_archived")
        )
        return Response(DataAssetSerializer(assets, many=True).data)


class DataVersionApi(_DataApi):
    @extend_schema(responses=DataAssetSerializer)
    def get(self, request, workspace, name, version):
        return Response(DataAssetSerializer(self.get_asset(name, version)).data)

    @extend_schema(request=DataAssetUpdateSerializer, responses=DataAssetSerializer)
    def patch(self, request, workspace, name, version):
        serializer = DataAssetUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        asset = services.data_asset_update(asset=self.get_asset(name, version), **serializer.validated_data)
        return Response(DataAssetSerializer(asset).data)

    @extend_schema(responses={204: None})
    def delete(self, request, workspace, name, version):
        services.data_asset_delete(asset=self.get_asset(name, version))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DataArchiveApi(ArchiveApi, _DataApi):
    model = DataAsset
    serializer_class = DataAssetSerializer


class DataFilesApi(_DataApi):
    """The asset's files (the first 1000), with their paths inside the asset and sizes."""

    @extend_schema(responses={200: {"type": "array", "items": {"type": "object"}}})
    def get(self, request, workspace, name, version):
        files, _ = selectors.data_asset_files(asset=self.get_asset(name, version))
        return Response(files)


class DataFileContentApi(_DataApi):
    """Download one file of the asset, or all of them as a zip."""

    @extend_schema(parameters=[FILE_PATH], responses={(200, "application/octet-stream"): bytes})
    def get(self, request, workspace, name, version):
        asset = self.get_asset(name, version)
        storage = datastore_storage(asset.datastore)
        relative = clean_path(request.query_params.get("path", ""), field="path")
        if asset.type == "uri_file":
            if relative and relative != asset.path.rsplit("/", 1)[-1]:
                raise Http404(f"{relative!r} is not a file of {asset}.")
            return file_response(storage, asset.path)
        if not relative:
            return folder_zip_response(storage, asset.path, name=f"{asset.name}-{asset.version}")
        path = join(asset.path, relative)
        if is_folder(storage, path) or not storage.exists(path):
            raise Http404(f"No file {relative!r} in {asset}.")
        return file_response(storage, path)


class UploadListApi(_DataApi):
    @extend_schema(responses=UploadSessionSerializer(many=True))
    def get(self, request, workspace):
        sessions = selectors.upload_sessions(workspace=self.access.workspace, user=request.user)
        return Response(UploadSessionSerializer(sessions, many=True).data)

    @extend_schema(request=UploadCreateSerializer, responses={201: UploadSessionSerializer, 413: None})
    def post(self, request, workspace):
        serializer = UploadCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = uploads.upload_session_create(
            workspace=self.access.workspace, user=request.user, **serializer.validated_data
        )
        return Response(UploadSessionSerializer(session).data, status=status.HTTP_201_CREATED)


class UploadApi(_DataApi):
    """One resumable upload: where it stands (GET), its next chunk (PUT), cancel it (DELETE)."""

    parser_classes = [RawChunkParser, JSONParser]

    def get_session(self, upload_id):
        session = selectors.upload_session(workspace=self.access.workspace, user=self.request.user, upload_id=upload_id)
        if session is None:
            raise Http404(f"No upload {upload_id} of yours in {self.access.workspace.name}.")
        return session

    @extend_schema(responses=UploadSessionSerializer)
    def get(self, request, workspace, upload_id):
        return Response(UploadSessionSerializer(self.get_session(upload_id)).data)

    @extend_schema(
        parameters=[RANGE_HEADER],
        request={"application/octet-stream": {"type": "string", "format": "binary"}},
        responses={200: UploadProgressSerializer, 409: OUT_OF_ORDER, 413: None},
    )
    def put(self, request, workspace, upload_id):
        session = self.get_session(upload_id)
        if request.content_type.split(";")[0].strip() != "application/octet-stream":
            raise exceptions.UnsupportedMediaType(request.content_type, "Send each chunk as application/octet-stream.")
        try:
            received = uploads.upload_chunk_put(
                session=session,
                content_range=request.headers.get("Content-Range"),
                content_length=request.headers.get("Content-Length"),
                read=request._request.read,
            )
        except uploads.ChunkConflict as exc:
            return Response(exc.body(), status=status.HTTP_409_CONFLICT)
        return Response({"received": received})

    @extend_schema(responses={204: None})
    def delete(self, request, workspace, upload_id):
        uploads.upload_session_discard(session=self.get_session(upload_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
