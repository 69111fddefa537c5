"""Every read of data assets and upload sessions, scoped to a workspace (and a user for uploads)."""

import uuid

from assets.models import DataAsset, UploadSession
from assets.versioning import latest, search_filter


def data_assets(*, workspace, include_archived: bool = False, name: str | None = None, search: str = ""):
    queryset = DataAsset.objects.filter(workspace=workspace).select_related("datastore", "created_by")
    if not include_archived:
        queryset = queryset.filter(is_archived=False)
    if name is not None:
        queryset = queryset.filter(name=name)
    if search:
        queryset = queryset.filter(search_filter(search))
    return queryset.order_by("name", "-created_at", "-pk")


def data_asset_names(*, workspace, include_archived: bool = False, search: str = "") -> list[dict]:
    """One row per name, as the Data list shows them: its newest version and how many it has;
    `search` keeps the names of which a version matches on name, description or tags."""
    rows: dict[str, dict] = {}
    for asset in data_assets(workspace=workspace, include_archived=include_archived, search=search):
        row = rows.setdefault(asset.name, {"asset": asset, "versions": 0})
        row["versions"] += 1
    return list(rows.values())


def data_asset(*, workspace, name: str, version: str) -> DataAsset | None:
    return data_assets(workspace=workspace, include_archived=True).filter(name=name, version=version).first()


def data_asset_latest(*, workspace, name: str) -> DataAsset | None:
    """@latest: the newest version that is not archived."""
    return latest(data_assets(workspace=workspace, include_archived=True, name=name))


def upload_session(*, workspace, user, upload_id) -> UploadSession | None:
    try:
        pk = uuid.UUID(str(upload_id))
    except ValueError:
        return None
    return UploadSession.objects.filter(pk=pk, workspace=workspace, created_by=user).first()


def upload_sessions(*, workspace, user):
    return UploadSession.objects.filter(workspace=workspace, created_by=user).order_by("-created_at")


MAX_FILES_LISTED = 1000


def data_asset_files(*, asset: DataAsset, limit: int = MAX_FILES_LISTED) -> tuple[list[dict], bool]:
    """([{path (inside the asset), size}], whether there were more than `limit`)."""
    from itertools import islice

    from workspaces.storage import datastore_storage, walk_files

    storage = datastore_storage(asset.datastore)
    if asset.type == "uri_file":
        return [{"path": asset.path.rsplit("/", 1)[-1], "size": storage.size(asset.path)}], False
    paths = list(islice(walk_files(storage, asset.path), limit + 1))
    files = [{"path": p[len(asset.path) :].lstrip("/"), "size": storage.size(p)} for p in paths[:limit]]
    return files, len(paths) > limit
