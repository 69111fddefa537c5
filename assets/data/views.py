"""The Data section: list, create wizard, and each version's Overview, Explore, Profile and Files tabs."""

from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from assets.versioning_views import archive_view, list_filters
from core.forms import errors_text
from workspaces.access import workspace_view
from workspaces.downloads import file_response, folder_zip_response
from workspaces.paths import clean_path, join
from workspaces.roles import Perm
from workspaces.selectors import datastores_for_workspace
from workspaces.storage import DatastoreUnavailable, datastore_storage, is_folder

from . import selectors, services
from .forms import SOURCES, DataEditForm, DatastorePathForm, UriForm, YamlForm
from .tables import PROFILE_ROWS, TableUnavailable, profile, read_table, rows_of
from .uploads import CHUNK_SIZE

READ = {"read": Perm.DATA_READ, "write": Perm.DATA_WRITE}
TABS = [("overview", "Overview"), ("explore", "Explore"), ("profile", "Profile"), ("files", "Files")]
JOB_YAML = """inputs:
  my_data:
    type: {type}
    path: azureml:{name}:{version}
"""


def _asset_or_404(access, name, version):
    asset = selectors.data_asset(workspace=access.workspace, name=name, version=version)
    if asset is None:
        raise Http404("No such data asset.")
    return asset


def _tab_url(asset, tab: str = "overview") -> str:
    return reverse(
        "data_detail" if tab == "overview" else f"data_{tab}", args=[asset.workspace.name, asset.name, asset.version]
    )


data_archive = archive_view(get_asset=_asset_or_404, detail_url=lambda access, asset: _tab_url(asset))


@workspace_view(**READ)
@vary_on_headers("HX-Request")
def data_list(request, access):
    search, include_archived = list_filters(request)
    rows = selectors.data_asset_names(workspace=access.workspace, include_archived=include_archived, search=search)
    template = "assets/data/list.html"
    if request.htmx:
        template += "#rows" if request.htmx.target == "data-rows" else "#table"
    context = {"access": access, "rows": rows, "search": search, "include_archived": include_archived}
    return render(request, template, context)


def _create_form(source, access, data=None, files=None):
    datastores = datastores_for_workspace(workspace=access.workspace)
    if source == "datastore":
        return DatastorePathForm(data, datastores=datastores, initial={"datastore": "workspaceblobstore"})
    if source == "uri":
        return UriForm(data)
    if source == "yaml":
        return YamlForm(data, files)
    return DatastorePathForm(data, datastores=datastores)  # local: its basics; the files go through the API


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
def data_create(request, access):
    source = request.GET.get("source") if request.GET.get("source") in SOURCES else "local"
    form = _create_form(source, access, request.POST or None, request.FILES or None)
    if request.method == "POST" and source != "local" and form.is_valid():
        try:
            asset = _create_from_form(source, access, request.user, form.cleaned_data)
        except ValidationError as exc:
            _add_named_errors(form, exc, fallback="yaml" if source == "yaml" else None)
        else:
            messages.success(request, f"Created data asset {asset.name}:{asset.version}.")
            return redirect(_tab_url(asset))
    context = {
        "access": access,
        "form": form,
        "source": source,
        "sources": SOURCES,
        "source_label": SOURCES[source],
        "chunk_size": CHUNK_SIZE,
    }
    return render(request, "assets/data/create.html", context)


def _add_named_errors(form, exc: ValidationError, *, fallback: str | None) -> None:
    """A service's errors on the form fields they name; an error about a field the form does not
    have (a YAML field, an MLTable entry) goes on `fallback` with the field's name in front."""
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        if field in form.fields:
            form.add_error(field, errors)
        else:
            named = [f"{field}: {e}" if field not in ("__all__", fallback) else e for e in errors]
            form.add_error(fallback, named)


def _create_from_form(source, access, user, data):
    if source == "yaml":
        return services.data_asset_create_from_yaml(workspace=access.workspace, user=user, text=data["yaml"])
    fields = {k: data[k] for k in ("name", "version", "type", "description", "tags", "path")}
    spec = services.DataAssetSpec(datastore=data.get("datastore", ""), **fields)
    return services.data_asset_create(workspace=access.workspace, user=user, spec=spec)


@workspace_view(**READ)
def data_latest(request, access, name):
    asset = selectors.data_asset_latest(workspace=access.workspace, name=name)
    if asset is None:
        raise Http404("No such data asset.")
    return redirect(_tab_url(asset))


def _tab_context(asset, tab):
    if tab == "explore":
        try:
            table = read_table(asset, as_written=True)
            return {"columns": list(map(str, table.frame.columns)), "rows": rows_of(table.frame), "table": table}
        except (TableUnavailable, DatastoreUnavailable, OSError) as exc:
            return {"unavailable": str(exc) or "The data cannot be read."}
    if tab == "profile":
        try:
            table = read_table(asset, rows=PROFILE_ROWS)
            return {"profile": profile(table.frame), "table": table, "profile_rows": PROFILE_ROWS}
        except (TableUnavailable, DatastoreUnavailable, OSError) as exc:
            return {"unavailable": str(exc) or "The data cannot be read."}
    if tab == "files":
        files, truncated = selectors.data_asset_files(asset=asset)
        return {"files": files, "files_truncated": truncated}
    return {"edit_form": DataEditForm(initial={"description": asset.description, "tags": asset.tags})}


@workspace_view(**READ)
@vary_on_headers("HX-Request")
def data_detail(request, access, name, version, tab="overview"):
    asset = _asset_or_404(access, name, version)
    context = {
        "access": access,
        "asset": asset,
        "tab": tab,
        "versions": selectors.data_assets(workspace=access.workspace, name=asset.name, include_archived=True),
        "can_write": access.allows(Perm.DATA_WRITE),
        "tabs": TABS,
        "job_yaml": JOB_YAML.format(type=asset.type, name=asset.name, version=asset.version),
        **_tab_context(asset, tab),
    }
    if request.htmx and request.htmx.target == "tab-panel":
        return render(request, "assets/data/detail.html#panel", context)
    return render(request, "assets/data/detail.html", context)


@workspace_view(**READ)
@require_POST
def data_edit(request, access, name, version):
    asset = _asset_or_404(access, name, version)
    form = DataEditForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_text(form))
        return redirect(_tab_url(asset))
    try:
        services.data_asset_update(asset=asset, **form.cleaned_data)
        messages.success(request, "Saved the description and tags.")
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    return redirect(_tab_url(asset))


@workspace_view(**READ)
@require_POST
def data_delete(request, access, name, version):
    asset = _asset_or_404(access, name, version)
    services.data_asset_delete(asset=asset)
    messages.success(request, f"Deleted {asset.name}:{asset.version}.")
    return redirect("data_list", workspace=access.workspace.name)


@workspace_view(**READ)
def data_download(request, access, name, version):
    """One file of the asset (?path=), or every file as a zip."""
    asset = _asset_or_404(access, name, version)
    storage = datastore_storage(asset.datastore)
    try:
        relative = clean_path(request.GET.get("path", ""), field="path")
    except ValidationError as exc:
        raise BadRequest(exc.messages[0]) from exc
    if asset.type == "uri_file":
        return file_response(storage, asset.path)
    if not relative:
        return folder_zip_response(storage, asset.path, name=f"{asset.name}-{asset.version}")
    path = join(asset.path, relative)
    if is_folder(storage, path) or not storage.exists(path):
        raise Http404("No such file.")
    return file_response(storage, path)
