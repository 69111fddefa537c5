"""Archive and restore, the same route shape for every asset kind, pages and API alike.

Pages: POST `<name>/<version>/archive` and `<name>/<version>/restore`, then back to the version.
API: POST `<kind>/<name>/versions/<version>/archive|restore` for one version, and
`<kind>/<name>/archive|restore` for the whole asset (every version), as `az ml <kind> archive`
does without `--version`.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from workspaces.access import WorkspaceAPIView, workspace_view
from workspaces.roles import Perm

from .models import VersionedAsset
from .versioning import asset_set_archived, asset_set_archived_all


def list_filters(request) -> tuple[str, bool]:
    """An asset list's `?search=` (`?q=` as before) and `?archived=1`."""
    search = (request.GET.get("search") or request.GET.get("q") or "").strip()[:200]
    return search, request.GET.get("archived") == "1"


def archive_view(*, get_asset, detail_url):
    """The page view behind both routes: `get_asset(access, name, version)` (404 if none), then
    redirect to `detail_url(access, asset)`."""

    @workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
    @require_POST
    def set_archived(request, access, name, version, archived=True):
        asset = get_asset(access, name, version)
        try:
            asset_set_archived(asset=asset, archived=archived)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if archived:
                messages.success(request, f"Archived {asset}. It no longer appears in lists or as @latest.")
            else:
                messages.success(request, f"Restored {asset}.")
        return redirect(detail_url(access, asset))

    return set_archived


def archive_paths(view, *, name: str) -> list:
    """`<name>/<version>/archive` and `.../restore` for the pages, named `<name>_archive|restore`."""
    return [
        path("<str:name>/<str:version>/archive", view, name=f"{name}_archive"),
        path("<str:name>/<str:version>/restore", view, {"archived": False}, name=f"{name}_restore"),
    ]


class AssetApi(WorkspaceAPIView):
    """The base of a kind's API views: DATA_READ to read, DATA_WRITE to write, and `get_asset`
    through the kind's selector `find(workspace=, name=, version=)`, named `what` in a 404."""

    read_permission = Perm.DATA_READ
    write_permission = Perm.DATA_WRITE
    what = "asset"
    find = None

    def get_asset(self, name: str, version: str) -> VersionedAsset:
        asset = type(self).find(workspace=self.access.workspace, name=name, version=version)
        if asset is None:
            raise Http404(f"No {self.what} {name}:{version} in {self.access.workspace.name}.")
        return asset


class ArchiveApi(AssetApi):
    """POST archives (as_view(archived=False): restores) one version, or every version of the asset
    when the route names none. A kind's view adds `model` and `serializer_class`, and its base
    `get_asset(name, version)` (404 if none): `class DataArchiveApi(ArchiveApi, _DataApi)`."""

    read_permission = None
    archived = True
    model: type[VersionedAsset]
    serializer_class: type

    @extend_schema(request=None)
    def post(self, request, workspace, name, version=None):
        if version is not None:
            asset = asset_set_archived(asset=self.get_asset(name, version), archived=self.archived)
            return Response(self.serializer_class(asset).data)
        versions = asset_set_archived_all(
            model=self.model, workspace=self.access.workspace, name=name, archived=self.archived
        )
        if not versions:
            raise Http404(f"No {self.what} named {name!r} in {self.access.workspace.name}.")
        return Response(self.serializer_class(versions, many=True).data)


def archive_api_paths(view_class: type[ArchiveApi], *, prefix: str, name: str) -> list:
    """The four API routes under `prefix` (e.g. "data"), named `<name>_archive|restore` for a
    version and `<name>_archive_all|restore_all` for the whole asset."""
    archive, restore = view_class.as_view(), view_class.as_view(archived=False)
    return [
        path(f"{prefix}/<str:name>/versions/<str:version>/archive", archive, name=f"{name}_archive"),
        path(f"{prefix}/<str:name>/versions/<str:version>/restore", restore, name=f"{name}_restore"),
        path(f"{prefix}/<str:name>/archive", archive, name=f"{name}_archive_all"),
        path(f"{prefix}/<str:name>/restore", restore, name=f"{name}_restore_all"),
    ]
