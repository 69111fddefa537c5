"""The Components section: list, register (YAML + code folder), detail with Details, Code and YAML."""

import yaml
from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from assets.mlmodels.files import AssetFiles
from assets.versioning_views import archive_view, list_filters
from assets.yaml_errors import MAX_YAML_BYTES
from core.api_errors import error_json
from workspaces.access import workspace_view
from workspaces.roles import Perm

from . import selectors, services
from .api import code_files, uploaded_text
from .command import command_tokens
from .interface import environment_of, input_rows, output_rows
from .spec import MAX_CONDA_BYTES


def _component_or_404(access, name, version):
    component = selectors.component_get(workspace=access.workspace, name=name, version=version)
    if component is None:
        raise Http404("No such component version.")
    return component


component_archive = archive_view(
    get_asset=_component_or_404,
    detail_url=lambda access, c: reverse("component_detail", args=[access.workspace.name, c.name, c.version]),
)


def _code(component) -> AssetFiles:
    if not component.code_path:
        raise Http404("This component has no code folder.")
    return AssetFiles(
        datastore=component.datastore,
        root=component.code_path,
        zip_name=f"{component.name}-{component.version}-code",
    )


@workspace_view(read=Perm.DATA_READ)
def component_list(request, access):
    search, include_archived = list_filters(request)
    components = selectors.component_list(workspace=access.workspace, search=search, include_archived=include_archived)
    context = {"access": access, "components": components, "search": search, "include_archived": include_archived}
    template = "assets/components/list.html#table" if request.htmx else "assets/components/list.html"
    return render(request, template, context)


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
def component_register(request, access):
    return render(request, "assets/components/register.html", {"access": access})


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
@require_POST
def component_register_upload(request, access):
    """The browser's upload of the YAML, its code folder and conda file: JSON out, for the progress bar."""
    try:
        text = uploaded_text(request.FILES, request.POST, "yaml", MAX_YAML_BYTES)
        if not text:
            raise ValidationError({"yaml": "Choose the component's YAML file."})
        component = services.component_create(
            workspace=access.workspace,
            user=request.user,
            yaml_text=text,
            code_files=code_files(request.FILES, request.POST.getlist("relative_paths")),
            conda_file=uploaded_text(request.FILES, request.POST, "conda_file", MAX_CONDA_BYTES),
        )
    except ValidationError as exc:
        return error_json(exc)
    messages.success(request, f"Registered component {component.name}:{component.version}.")
    url = reverse("component_detail", args=[access.workspace.name, component.name, component.version])
    return JsonResponse({"url": url, "id": component.reference}, status=201)


@workspace_view(read=Perm.DATA_READ)
def component_latest(request, access, name):
    component = selectors.component_latest(workspace=access.workspace, name=name)
    if component is None:
        raise Http404("No such component.")
    return redirect("component_detail", workspace=access.workspace.name, name=name, version=component.version)


@workspace_view(read=Perm.DATA_READ)
@vary_on_headers("HX-Request")
def component_detail(request, access, name, version, tab="details"):
    component = _component_or_404(access, name, version)
    context = {
        "access": access,
        "component": component,
        "tab": tab,
        "versions": selectors.component_versions(workspace=access.workspace, name=name),
        "can_write": access.allows(Perm.DATA_WRITE),
    }
    if tab == "details":
        environment, reference = environment_of(component)
        context.update(
            inputs=input_rows(component),
            outputs=output_rows(component),
            tokens=command_tokens(str(component.spec.get("command") or "")),
            environment=environment,
            environment_ref=reference if isinstance(reference, str) else "",
            environment_inline=yaml.safe_dump(reference, sort_keys=False) if isinstance(reference, dict) else "",
        )
    elif tab == "code" and component.code_path:
        path = request.GET.get("path", "")
        try:
            entries = _code(component).entries(path)
        except ValidationError as exc:
            raise BadRequest(exc.messages[0]) from exc
        crumbs, so_far = [], ""
        for part in [p for p in path.split("/") if p]:
            so_far = f"{so_far}/{part}" if so_far else part
            crumbs.append((part, so_far))
        context.update(entries=entries, path=path, crumbs=crumbs)
    htmx_tab = request.htmx and request.htmx.target == "tab-panel"
    return render(request, "assets/components/detail.html" + ("#tab" if htmx_tab else ""), context)


@workspace_view(read=Perm.DATA_READ)
def component_file(request, access, name, version):
    component = _component_or_404(access, name, version)
    path = request.GET.get("path", "")
    try:
        preview = _code(component).preview(path)
    except ValidationError as exc:
        raise BadRequest(exc.messages[0]) from exc
    context = {"access": access, "component": component, "path": path, "preview": preview}
    return render(request, "assets/components/file.html", context)


@workspace_view(read=Perm.DATA_READ)
def component_download(request, access, name, version):
    try:
        return _code(_component_or_404(access, name, version)).download(request.GET.get("path", ""))
    except ValidationError as exc:
        raise BadRequest(exc.messages[0]) from exc
