"""The Models section: list, register (local files, datastore, YAML), detail with Details and Artifacts."""

from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from assets.versioning_views import archive_view, list_filters
from assets.yaml_errors import MAX_YAML_BYTES
from core.api_errors import error_json
from core.forms import add_errors, errors_text
from workspaces.access import workspace_view
from workspaces.roles import Perm
from workspaces.selectors import datastores_for_workspace

from . import selectors, services
from .files import model_files
from .forms import ModelDatastoreForm, ModelEditForm, ModelUploadForm, ModelYamlForm
from .mlmodel import flavor_rows, signature_table

SOURCES = {"local": "From local files", "datastore": "From datastore", "yaml": "From YAML"}


def _model_or_404(access, name, version):
    model = selectors.model_get(workspace=access.workspace, name=name, version=version)
    if model is None:
        raise Http404("No such model version.")
    return model


model_archive = archive_view(
    get_asset=_model_or_404,
    detail_url=lambda access, model: reverse("model_detail", args=[access.workspace.name, model.name, model.version]),
)


def form_errors(form) -> ValidationError:
    return ValidationError({(f if f != "__all__" else "form"): list(errors) for f, errors in form.errors.items()})


@workspace_view(read=Perm.DATA_READ)
def model_list(request, access):
    search, include_archived = list_filters(request)
    models = selectors.model_list(workspace=access.workspace, search=search, include_archived=include_archived)
    context = {"access": access, "models": models, "search": search, "include_archived": include_archived}
    template = "assets/models/list.html#table" if request.htmx else "assets/models/list.html"
    return render(request, template, context)


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
def model_register(request, access):
    source = request.GET.get("source", "local")
    if source not in SOURCES:
        source = "local"
    datastores = datastores_for_workspace(workspace=access.workspace)
    form = ModelDatastoreForm(request.POST or None, datastores=datastores)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            model = services.model_create_from_datastore(
                workspace=access.workspace,
                user=request.user,
                fields=services.ModelFields(
                    **{k: data[k] for k in ("name", "version", "type", "description", "tags", "properties")}
                ),
                path=data["path"],
                datastore=data["datastore"],
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Registered model {model.name}:{model.version}.")
            return redirect("model_detail", workspace=access.workspace.name, name=model.name, version=model.version)
    context = {
        "access": access,
        "source": "datastore" if request.method == "POST" else source,
        "sources": SOURCES,
        "datastore_form": form,
        "upload_form": ModelUploadForm(),
        "yaml_form": ModelYamlForm(),
    }
    return render(request, "assets/models/register.html", context)


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
@require_POST
def model_register_upload(request, access):
    """The browser's upload (local files, or a YAML with its files): JSON in, JSON out, for the progress bar."""
    uploads = request.FILES.getlist("files")
    names = request.POST.getlist("relative_paths")
    try:
        if len(names) != len(uploads):
            raise ValidationError({"relative_paths": "Give one relative path per file."})
        files = list(zip(names, uploads, strict=True))
        if request.POST.get("source") == "yaml":
            model = _register_yaml(request, access, files)
        else:
            form = ModelUploadForm(request.POST)
            if not form.is_valid():
                raise form_errors(form)
            model = services.model_create_from_upload(
                workspace=access.workspace,
                user=request.user,
                fields=services.ModelFields(**form.cleaned_data),
                files=files,
            )
    except ValidationError as exc:
        return error_json(exc)
    url = reverse("model_detail", args=[access.workspace.name, model.name, model.version])
    messages.success(request, f"Registered model {model.name}:{model.version}.")
    return JsonResponse({"url": url, "id": model.reference}, status=201)


def _register_yaml(request, access, files):
    upload = request.FILES.get("yaml")
    if upload is None:
        raise ValidationError({"yaml": "Choose the model's YAML file."})
    try:
        text = upload.read(MAX_YAML_BYTES + 1).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError({"yaml": "The YAML file is not UTF-8 text."}) from exc
    return services.model_create_from_yaml(workspace=access.workspace, user=request.user, yaml_text=text, files=files)


@workspace_view(read=Perm.DATA_READ)
def model_latest(request, access, name):
    model = selectors.model_latest(workspace=access.workspace, name=name)
    if model is None:
        raise Http404("No such model.")
    return redirect("model_detail", workspace=access.workspace.name, name=model.name, version=model.version)


@workspace_view(read=Perm.DATA_READ)
@vary_on_headers("HX-Request")
def model_detail(request, access, name, version, tab="details"):
    model = _model_or_404(access, name, version)
    context = {
        "access": access,
        "model": model,
        "tab": tab,
        "versions": selectors.model_versions(workspace=access.workspace, name=name),
        "can_write": access.allows(Perm.DATA_WRITE),
    }
    if tab == "details":
        context.update(
            flavors=flavor_rows(model.flavors),
            inputs=signature_table(model.signature.get("inputs")),
            outputs=signature_table(model.signature.get("outputs")),
            params=signature_table(model.signature.get("params")),
            edit_form=ModelEditForm(initial={"description": model.description, "tags": model.tags}),
        )
    else:
        path = request.GET.get("path", "")
        try:
            entries = model_files(model).entries(path)
        except ValidationError as exc:
            raise BadRequest(exc.messages[0]) from exc
        crumbs, so_far = [], ""
        for part in [p for p in path.split("/") if p]:
            so_far = f"{so_far}/{part}" if so_far else part
            crumbs.append((part, so_far))
        context.update(entries=entries, path=path, crumbs=crumbs)
    template = (
        "assets/models/detail.html#tab"
        if request.htmx and request.htmx.target == "tab-panel"
        else "assets/models/detail.html"
    )
    return render(request, template, context)


@workspace_view(read=Perm.DATA_READ)
def model_file(request, access, name, version):
    model = _model_or_404(access, name, version)
    path = request.GET.get("path", "")
    try:
        preview = model_files(model).preview(path)
    except ValidationError as exc:
        raise BadRequest(exc.messages[0]) from exc
    return render(
        request, "assets/models/file.html", {"access": access, "model": model, "path": path, "preview": preview}
    )


@workspace_view(read=Perm.DATA_READ)
def model_file_download(request, access, name, version):
    try:
        return model_files(_model_or_404(access, name, version)).download(request.GET.get("path", ""))
    except ValidationError as exc:
        raise BadRequest(exc.messages[0]) from exc


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
@require_POST
def model_edit(request, access, name, version):
    model = _model_or_404(access, name, version)
    form = ModelEditForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(errors_text(form))
        services.model_update(model=model, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, "Saved the description and tags.")
    return redirect("model_detail", workspace=access.workspace.name, name=name, version=version)
