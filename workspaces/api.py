from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from core.access import UserAPIView

from . import selectors, services
from .access import WorkspaceAPIView
from .downloads import file_response, folder_zip_response
from .paths import clean_path
from .roles import Perm
from .serializers import (
    DatastoreCreateSerializer,
    DatastoreSerializer,
    FileEntrySerializer,
    MemberCreateSerializer,
    MembershipSerializer,
    MemberUpdateSerializer,
    WorkspaceCreateSerializer,
    WorkspaceSerializer,
    WorkspaceUpdateSerializer,
)
from .storage import DatastoreUnavailable, datastore_storage, is_folder, list_folder

PATH_PARAM = OpenApiParameter("path", str, description="Path inside the datastore, e.g. `data/train.csv`.")


def _roles_by_workspace(user) -> dict:
    from .models import Membership

    return dict(Membership.objects.filter(user=user).values_list("workspace_id", "role"))


class WorkspaceListApi(UserAPIView):
    @extend_schema(responses=WorkspaceSerializer(many=True))
    def get(self, request):
        workspaces = selectors.workspaces_for_user(user=request.user).select_related("storage_account")
        context = {"roles": _roles_by_workspace(request.user)}
        return Response(WorkspaceSerializer(workspaces, many=True, context=context).data)

    @extend_schema(request=WorkspaceCreateSerializer, responses={201: WorkspaceSerializer})
    def post(self, request):
        serializer = WorkspaceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        workspace = services.workspace_create(user=request.user, **serializer.validated_data)
        return Response(
            WorkspaceSerializer(workspace, context={"roles": {workspace.pk: "owner"}}).data,
            status=status.HTTP_201_CREATED,
        )


class WorkspaceDetailApi(WorkspaceAPIView):
    read_permission = Perm.READ
    write_permission = Perm.SETTINGS_WRITE

    @extend_schema(responses=WorkspaceSerializer)
    def get(self, request, workspace):
        ws = self.access.workspace
        return Response(WorkspaceSerializer(ws, context={"roles": {ws.pk: self.access.role}}).data)

    @extend_schema(request=WorkspaceUpdateSerializer, responses=WorkspaceSerializer)
    def patch(self, request, workspace):
        serializer = WorkspaceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ws = self.access.workspace
        services.workspace_update(
            workspace=ws,
            display_name=serializer.validated_data.get("display_name", ws.display_name),
            description=serializer.validated_data.get("description", ws.description),
        )
        return Response(WorkspaceSerializer(ws, context={"roles": {ws.pk: self.access.role}}).data)


class DatastoreListApi(WorkspaceAPIView):
    read_permission = Perm.DATA_READ
    write_permission = Perm.DATASTORE_WRITE

    @extend_schema(responses=DatastoreSerializer(many=True))
    def get(self, request, workspace):
        datastores = selectors.datastores_for_workspace(workspace=self.access.workspace)
        return Response(DatastoreSerializer(datastores, many=True).data)

    @extend_schema(request=DatastoreCreateSerializer, responses={201: DatastoreSerializer})
    def post(self, request, workspace):
        serializer = DatastoreCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        datastore = services.datastore_register(
            workspace=self.access.workspace,
            user=request.user,
            spec=services.DatastoreSpec(**serializer.validated_data),
        )
        return Response(DatastoreSerializer(datastore).data, status=status.HTTP_201_CREATED)


class _DatastoreApi(WorkspaceAPIView):
    def get_datastore(self, name):
        datastore = selectors.datastore_by_name(workspace=self.access.workspace, name=name)
        if datastore is None:
            raise Http404(f"No datastore named {name!r} in {self.access.workspace.name}.")
        return datastore

    def get_storage(self, datastore):
        try:
            return datastore_storage(datastore)
        except DatastoreUnavailable as exc:
            raise ValidationError(str(exc)) from exc


class DatastoreDetailApi(_DatastoreApi):
    read_permission = Perm.DATA_READ
    write_permission = Perm.DATASTORE_WRITE

    @extend_schema(responses=DatastoreSerializer)
    def get(self, request, workspace, datastore):
        return Response(DatastoreSerializer(self.get_datastore(datastore)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, workspace, datastore):
        services.datastore_unregister(datastore=self.get_datastore(datastore))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatastoreFilesApi(_DatastoreApi):
    """List a folder (GET), upload files into it (POST, multipart), delete a file or folder."""

    read_permission = Perm.DATA_READ
    write_permission = Perm.DATA_WRITE
    parser_classes = [MultiPartParser]

    @extend_schema(parameters=[PATH_PARAM], responses=FileEntrySerializer(many=True))
    def get(self, request, workspace, datastore):
        ds = self.get_datastore(datastore)
        path = clean_path(request.query_params.get("path", ""), field="path")
        storage = self.get_storage(ds)
        if not is_folder(storage, path):
            if not storage.exists(path):
                raise Http404(f"Nothing at {path!r} in {ds.name}.")
            entries = [e for e in list_folder(storage, path.rsplit("/", 1)[0] if "/" in path else "") if e.path == path]
        else:
            entries = list_folder(storage, path)
        data = [dict(e.__dict__, uri=ds.uri(e.path + ("/" if e.is_folder else ""))) for e in entries]
        return Response(FileEntrySerializer(data, many=True).data)

    @extend_schema(
        parameters=[PATH_PARAM],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Folder to upload into"},
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "relative_paths": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "One per file, e.g. `sub/a.csv` for folder uploads",
                    },
                },
            }
        },
        responses={201: {"type": "object", "properties": {"uploaded": {"type": "array", "items": {"type": "string"}}}}},
    )
    def post(self, request, workspace, datastore):
        ds = self.get_datastore(datastore)
        uploads = request.FILES.getlist("files")
        relative_paths = request.data.getlist("relative_paths")
        names = relative_paths or [u.name for u in uploads]
        if len(names) != len(uploads):
            raise ValidationError({"relative_paths": "Give one relative path per file, or none."})
        folder = request.data.get("path", request.query_params.get("path", ""))
        written = services.datastore_upload_files(
            datastore=ds,
            folder=folder,
            files=list(zip(names, uploads, strict=True)),
            names_field="relative_paths" if relative_paths else "files",
            access=self.access,
        )
        return Response({"uploaded": written}, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[PATH_PARAM], responses={200: {"type": "object"}})
    def delete(self, request, workspace, datastore):
        count = services.datastore_delete_path(
            datastore=self.get_datastore(datastore), path=request.query_params.get("path", ""), access=self.access
        )
        return Response({"deleted": count})


class DatastoreFileContentApi(_DatastoreApi):
    """Download a file, or a folder as a zip."""

    read_permission = Perm.DATA_READ

    @extend_schema(parameters=[PATH_PARAM], responses={(200, "application/octet-stream"): bytes})
    def get(self, request, workspace, datastore):
        ds = self.get_datastore(datastore)
        path = clean_path(request.query_params.get("path", ""), field="path")
        storage = self.get_storage(ds)
        if is_folder(storage, path):
            return folder_zip_response(storage, path, name=path.rsplit("/", 1)[-1] or ds.name)
        if not storage.exists(path):
            raise Http404(f"Nothing at {path!r} in {ds.name}.")
        return file_response(storage, path)


class MemberListApi(WorkspaceAPIView):
    read_permission = Perm.READ
    write_permission = Perm.MEMBERS_MANAGE

    @extend_schema(responses=MembershipSerializer(many=True))
    def get(self, request, workspace):
        return Response(
            MembershipSerializer(selectors.memberships_for_workspace(workspace=self.access.workspace), many=True).data
        )

    @extend_schema(request=MemberCreateSerializer, responses={201: MembershipSerializer})
    def post(self, request, workspace):
        serializer = MemberCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_add(workspace=self.access.workspace, **serializer.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(WorkspaceAPIView):
    read_permission = Perm.READ
    write_permission = Perm.MEMBERS_MANAGE

    def get_membership(self, username):
        membership = selectors.membership_by_username(workspace=self.access.workspace, username=username)
        if membership is None:
            raise Http404(f"{username!r} is not a member of {self.access.workspace.name}.")
        return membership

    @extend_schema(responses=MembershipSerializer)
    def get(self, request, workspace, username):
        return Response(MembershipSerializer(self.get_membership(username)).data)

    @extend_schema(request=MemberUpdateSerializer, responses=MembershipSerializer)
    def patch(self, request, workspace, username):
        serializer = MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            membership=self.get_membership(username), role=serializer.validated_data["role"]
        )
        return Response(MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, workspace, username):
        services.membership_remove(membership=self.get_membership(username))
        return Response(status=status.HTTP_204_NO_CONTENT)
