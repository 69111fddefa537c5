from django.contrib import messages
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from core.access import user_view
from core.forms import add_errors

from . import selectors, services
from .access import workspace_view
from .downloads import file_response, folder_zip_response
from .forms import DatastoreForm, MemberForm, RoleForm, WorkspaceForm, WorkspaceSettingsForm
from .paths import clean_path
from .preview import preview_file
from .roles import Perm
from .storage import DatastoreUnavailable, OutsideDatastore, datastore_storage, is_folder, list_folder


@user_view
def workspace_list(request):
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(
                request, f"Created workspace {workspace.name} with its storage account and four datastores."
            )
            return redirect("workspace_home", workspace=workspace.name)
    workspaces = selectors.workspaces_for_user(user=request.user).select_related("storage_account")
    return render(
        request,
        "workspaces/list.html",
        {"workspaces": workspaces, "form": form, "show_form": request.method == "POST" or "new" in request.GET},
    )


@workspace_view(read=Perm.READ)
def workspace_home(request, access):
    return render(
        request,
        "workspaces/home.html",
        {
            "access": access,
            "datastores": selectors.datastores_for_workspace(workspace=access.workspace),
            "recent": selectors.recent_items(workspace=access.workspace),
            "members_count": selectors.memberships_for_workspace(workspace=access.workspace).count(),
        },
    )


@workspace_view(read=Perm.READ, write=Perm.SETTINGS_WRITE)
def workspace_settings(request, access):
    workspace = access.workspace
    initial = {"display_name": workspace.display_name, "description": workspace.description}
    form = WorkspaceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_update(workspace=workspace, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("workspace_settings", workspace=workspace.name)
    return render(request, "workspaces/settings.html", {"access": access, "form": form})


# Datastores --------------------------------------------------------------------------------------


def _datastore_or_404(access, name):
    datastore = selectors.datastore_by_name(workspace=access.workspace, name=name)
    if datastore is None:
        raise Http404("No such datastore.")
    return datastore


def _path_or_400(raw, request):
    try:
        return clean_path(raw, field="path")
    except ValidationError as exc:
        raise BadRequest(exc.messages[0]) from exc


def _storage_or_400(datastore):
    try:
        return datastore_storage(datastore)
    except DatastoreUnavailable as exc:
        raise BadRequest(str(exc)) from exc


@workspace_view(read=Perm.DATA_READ)
def datastore_list(request, access):
    datastores = selectors.datastores_for_workspace(workspace=access.workspace)
    return render(request, "workspaces/datastores.html", {"access": access, "datastores": datastores})


@workspace_view(read=Perm.DATASTORE_WRITE, write=Perm.DATASTORE_WRITE)
def datastore_register(request, access):
    form = DatastoreForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        secret = {key: data.pop(key) for key in DatastoreForm.CREDENTIALS}
        try:
            datastore = services.datastore_register(
                workspace=access.workspace,
                user=request.user,
                spec=services.DatastoreSpec(credentials=secret, **data),
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error("kind", str(exc))
            status = 403
        else:
            messages.success(request, f"Registered datastore {datastore.name}.")
            return redirect("datastore_detail", workspace=access.workspace.name, datastore=datastore.name)
    return render(request, "workspaces/datastore_register.html", {"access": access, "form": form}, status=status)


@workspace_view(read=Perm.DATA_READ)
@vary_on_headers("HX-Request")
def datastore_detail(request, access, datastore):
    datastore = _datastore_or_404(access, datastore)
    path = _path_or_400(request.GET.get("path", ""), request)
    entries, error = [], ""
    try:
        storage = datastore_storage(datastore)
        if not is_folder(storage, path):
            return redirect(
                reverse("datastore_preview", args=[access.workspace.name, datastore.name]) + f"?path={path}"
            )
        entries = list_folder(storage, path)
    except DatastoreUnavailable as exc:
        error = str(exc)
    except OutsideDatastore:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreachable remote store is shown, not raised
        error = f"The datastore could not be read: {exc}"
    crumbs, so_far = [], ""
    for part in [p for p in path.split("/") if p]:
        so_far = f"{so_far}/{part}" if so_far else part
        crumbs.append((part, so_far))
    context = {
        "access": access,
        "datastore": datastore,
        "path": path,
        "entries": entries,
        "crumbs": crumbs,
        "error": error,
        "can_write": access.allows(Perm.DATA_WRITE),
    }
    template = "workspaces/datastore_detail.html"
    if request.htmx and request.htmx.target == "listing":
        template += "#listing"
    return render(request, template, context)


@workspace_view(read=Perm.DATA_READ, write=Perm.DATA_WRITE)
@require_POST
def datastore_upload(request, access, datastore):
    datastore = _datastore_or_404(access, datastore)
    uploads = request.FILES.getlist("files")
    names = request.POST.getlist("relative_paths")
    names_field = "relative_paths"
    if len(names) != len(uploads):
        names, names_field = [upload.name for upload in uploads], "files"
    try:
        written = services.datastore_upload_files(
            datastore=datastore,
            folder=request.POST.get("path", ""),
            files=list(zip(names, uploads, strict=True)),
            names_field=names_field,
        )
    except ValidationError as exc:
        return JsonResponse(
            {
                "error": {
                    "code": "UserError",
                    "message": "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items()),
                }
            },
            status=400,
        )
    return JsonResponse({"uploaded": written})


@workspace_view(read=Perm.DATA_READ)
def datastore_download(request, access, datastore):
    datastore = _datastore_or_404(access, datastore)
    path = _path_or_400(request.GET.get("path", ""), request)
    storage = _storage_or_400(datastore)
    if is_folder(storage, path):
        return folder_zip_response(storage, path, name=path.rsplit("/", 1)[-1] or datastore.name)
    if not storage.exists(path):
        raise Http404("No such file.")
    return file_response(storage, path)


@workspace_view(read=Perm.DATA_READ)
def datastore_preview(request, access, datastore):
    datastore = _datastore_or_404(access, datastore)
    path = _path_or_400(request.GET.get("path", ""), request)
    storage = _storage_or_400(datastore)
    if not path or not storage.exists(path):
        raise Http404("No such file.")
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    return render(
        request,
        "workspaces/datastore_preview.html",
        {
            "access": access,
            "datastore": datastore,
            "path": path,
            "folder": folder,
            "name": path.rsplit("/", 1)[-1],
            "preview": preview_file(storage, path),
        },
    )


@workspace_view(read=Perm.DATA_READ, write=Perm.DATA_WRITE)
@require_POST
def datastore_delete_path(request, access, datastore):
    datastore = _datastore_or_404(access, datastore)
    path = request.POST.get("path", "")
    try:
        count = services.datastore_delete_path(datastore=datastore, path=path)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, f"Deleted {path} ({count} file{'s' if count != 1 else ''}).")
    try:
        parent = clean_path(path).rpartition("/")[0]
    except ValidationError:
        parent = ""  # a refused path: back to the datastore's root, not to the bad path's folder
    listing = reverse("datastore_detail", args=[access.workspace.name, datastore.name])
    return redirect(f"{listing}?{urlencode({'path': parent})}")


@workspace_view(read=Perm.DATASTORE_WRITE, write=Perm.DATASTORE_WRITE)
@require_POST
def datastore_unregister(request, access, datastore):
    datastore = _datastore_or_404(access, datastore)
    try:
        services.datastore_unregister(datastore=datastore)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("datastore_detail", workspace=access.workspace.name, datastore=datastore.name)
    messages.success(request, f"Removed datastore {datastore.name}; its data was not touched.")
    return redirect("datastore_list", workspace=access.workspace.name)


# Members ----------------------------------------------------------------------------------------


@workspace_view(read=Perm.READ, write=Perm.MEMBERS_MANAGE)
def member_list(request, access):
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.membership_add(workspace=access.workspace, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Added {membership.user.username} as {membership.get_role_display()}.")
            return redirect("member_list", workspace=access.workspace.name)
    return render(
        request,
        "workspaces/members.html",
        {
            "access": access,
            "form": form,
            "memberships": selectors.memberships_for_workspace(workspace=access.workspace),
            "can_manage": access.allows(Perm.MEMBERS_MANAGE),
            "roles": RoleForm.base_fields["role"].choices,
        },
    )


@workspace_view(read=Perm.MEMBERS_MANAGE, write=Perm.MEMBERS_MANAGE)
@require_POST
def member_update(request, access, username):
    membership = selectors.membership_by_username(workspace=access.workspace, username=username)
    if membership is None:
        raise Http404("No such member.")
    try:
        if request.POST.get("action") == "remove":
            services.membership_remove(membership=membership)
            messages.success(request, f"Removed {username} from {access.workspace.name}.")
        else:
            form = RoleForm(request.POST)
            if not form.is_valid():
                raise ValidationError({"role": "Choose a role."})
            services.membership_change_role(membership=membership, role=form.cleaned_data["role"])
            messages.success(request, f"{username} is now {membership.get_role_display()}.")
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    return redirect("member_list", workspace=access.workspace.name)


@user_view
def home(request):
    """The last workspace used, or the only one, or the list to pick from."""
    last = request.session.get("workspace")
    if last and selectors.workspace_access(user=request.user, name=last):
        return redirect("workspace_home", workspace=last)
    workspaces = list(selectors.workspaces_for_user(user=request.user)[:2])
    if len(workspaces) == 1:
        return redirect("workspace_home", workspace=workspaces[0].name)
    return redirect("workspace_list")
