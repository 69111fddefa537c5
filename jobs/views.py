"""Jobs in the browser: the list, the submit form, a job's page (Overview, Outputs + logs, Code)."""

import json
import os
import tempfile
import zipfile
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from assets.components import interface as component_interface
from assets.components import selectors as component_selectors
from assets.environments import selectors as environment_selectors
from compute.selectors import clusters_for_workspace
from workspaces.access import workspace_view
from workspaces.downloads import StreamingFileResponse, file_response, folder_zip_response
from workspaces.paths import clean_path, join
from workspaces.preview import preview_file
from workspaces.roles import Perm
from workspaces.selectors import datastore_by_name
from workspaces.storage import datastore_storage, is_folder, list_folder, walk_files

from . import selectors, services
from .forms import DATA_TYPES, INPUT_MODES, LITERAL_TYPES, OUTPUT_MODES, OUTPUT_TYPES, JobFilterForm, JobSubmitForm, Row
from .joblog import read_log
from .models import ACTIVE, JobStatus

PAGE_SIZE = 50
TABS = ("overview", "outputs", "code")
LOG_FOLDERS = ("outputs", "logs", "user_logs", "system_logs")
STD_LOG = "user_logs/std_log.txt"
MAX_TREE_ENTRIES = 1000
LOG_TAIL_BYTES = 2 * 1024 * 1024  # a longer log opens at its end; the download has all of it
PARTS = {"job-live": "job-live", "job-files": "job-files", "job-tree": "tree"}  # htmx target -> partial


def _job_or_404(access, name):
    job = selectors.job_by_name(workspace=access.workspace, name=name)
    if job is None:
        raise Http404("No such job.")
    return job


def duration_text(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def _elapsed(job) -> str:
    """Run time: start to end, or start to now while it runs."""
    if job.started_at is None:
        return ""
    return duration_text((job.ended_at or timezone.now()) - job.started_at)


# -- the list ---------------------------------------------------------------------------------------


@workspace_view(read=Perm.DATA_READ)
@vary_on_headers("HX-Request")
def job_list(request, access):
    if request.GET.get("tab") == "experiments":
        page = Paginator(selectors.experiments_for_workspace(workspace=access.workspace), PAGE_SIZE)
        context = {"access": access, "tab": "experiments", "page": page.get_page(request.GET.get("page"))}
        return render(request, "jobs/list.html", context)
    filters = JobFilterForm(request.GET, statuses=JobStatus.values)
    sort = request.GET.get("sort") if request.GET.get("sort") in selectors.SORTS else "-created"
    jobs = selectors.jobs_for_workspace(workspace=access.workspace, sort=sort, **filters.selector_arguments())
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    for job in page:
        job.elapsed = _elapsed(job)
    context = {
        "access": access,
        "tab": "jobs",
        "page": page,
        "sort": sort,
        "filters": filters,
        "statuses": JobStatus.values,
        "computes": clusters_for_workspace(workspace=access.workspace).values_list("name", flat=True),
        "any_active": any(job.status in ACTIVE for job in page),
    }
    template = "jobs/list.html#jobs-table" if request.htmx and request.htmx.target == "jobs-table" else "jobs/list.html"
    return render(request, template, context)


# -- submitting -------------------------------------------------------------------------------------


def _submit_form(access, data=None, files=None) -> JobSubmitForm:
    custom = (
        environment_selectors.custom_environments(workspace=access.workspace)
        .exclude(name=services.ANONYMOUS_ENVIRONMENT)  # one per inline spec: not something to pick
        .order_by("name", "-created_at")
    )
    curated = environment_selectors.curated_environments().order_by("name", "-created_at")
    environments = [
        ("Custom environments", [(e.reference, f"{e.name}:{e.version}") for e in custom[:500]]),
        ("Curated environments", [(e.reference, f"{e.name}:{e.version}") for e in curated]),
    ]
    computes = list(clusters_for_workspace(workspace=access.workspace).values_list("name", flat=True))
    components = list(component_selectors.component_list(workspace=access.workspace))
    return JobSubmitForm(
        data, files, environments=[g for g in environments if g[1]], computes=computes, components=components
    )


def _component_choices(form: JobSubmitForm) -> list[dict]:
    """The components the form offers, with what the page shows of each when it is picked."""
    choices = []
    for key, component in form.components.items():
        environment = component.spec.get("environment")
        choices.append(
            {
                "key": key,
                "label": f"{key} · {component.display_name}" if component.display_name else key,
                "command": component.spec.get("command", ""),
                "environment": environment if isinstance(environment, str) else "an inline environment",
                "inputs": json.dumps(component_interface.input_rows(component)),
                "outputs": json.dumps(component_interface.output_rows(component)),
            }
        )
    return choices


def _component_code(component):
    """A component's code snapshot as a zip of its contents, or None when it has no code."""
    if not component.code_path or component.datastore is None:
        return None
    storage = datastore_storage(component.datastore)
    start = len(component.code_path.rstrip("/")) + 1
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - handed to job_submit
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in walk_files(storage, component.code_path):
            with storage.open(path, "rb") as src, archive.open(path[start:], "w", force_zip64=True) as dst:
                while chunk := src.read(1024 * 1024):
                    dst.write(chunk)
    spool.seek(0)
    return spool


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
def job_create(request, access):
    form = _submit_form(access, request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.job_submit(
                workspace=access.workspace,
                user=request.user,
                yaml_text=form.build_yaml(),
                code_archive=_component_code(form.component_object) if form.component_object else form.code_archive(),
            )
        except ValidationError as exc:
            form.add_submit_errors(exc)
        else:
            messages.success(request, f"Submitted job {job.name}.")
            return redirect("job_detail", access.workspace.name, job.name)
    context = {
        "access": access,
        "form": form,
        "components": _component_choices(form),
        "input_rows": form.input_rows or [Row(type="uri_folder")],
        "output_rows": form.output_rows,
        "input_types": LITERAL_TYPES + DATA_TYPES,
        "input_modes": INPUT_MODES,
        "output_types": OUTPUT_TYPES,
        "output_modes": OUTPUT_MODES,
    }
    return render(request, "jobs/create.html", context, status=400 if form.errors else 200)


# -- a job's page -----------------------------------------------------------------------------------


def _timeline(job) -> list[dict]:
    """Each status with its time and how long the job stayed in it."""
    events = list(selectors.job_events(job=job))
    steps = []
    for i, event in enumerate(events):
        following = events[i + 1].at if i + 1 < len(events) else None
        if following is None and job.status in ACTIVE:
            following = timezone.now()
        steps.append(
            {
                "event": event,
                "took": duration_text(following - event.at) if following else "",
                "last": following is None,
            }
        )
    return steps


def _io_rows(job) -> tuple[list[dict], list[dict]]:
    """Inputs and outputs with links: a data asset to its page, a datastore path to its folder."""
    ws = job.workspace.name

    def path_url(binding) -> str:
        url = reverse("datastore_detail", args=[ws, binding["datastore"]])
        return f"{url}?{urlencode({'path': binding['path']})}"

    inputs = [
        {"name": name, "type": "literal", "literal": True, "value": value}
        for name, value in job.spec.get("literal_inputs", {}).items()
    ]
    for name, binding in job.spec.get("data_inputs", {}).items():
        row = {"name": name, **binding, "path_url": path_url(binding)}
        if binding.get("asset"):
            asset_name, _, version = binding["asset"].removeprefix("azureml:").partition(":")
            kind = "model_detail" if binding["type"] in services.MODEL_TYPES else "data_detail"
            row["asset_url"] = reverse(kind, args=[ws, asset_name, version]) if version else ""
        inputs.append(row)
    outputs = [
        {"name": name, **binding, "path_url": path_url(binding)}
        for name, binding in job.spec.get("outputs", {}).items()
    ]
    return inputs, outputs


def _tree(storage, prefix: str, folders) -> tuple[list[dict], bool]:
    """A flat, depth-first listing (folders before files) of `folders` inside `prefix`."""
    rows: list[dict] = []

    def walk(path: str, depth: int) -> None:
        for entry in list_folder(storage, join(prefix, path)):
            if len(rows) >= MAX_TREE_ENTRIES:
                return
            relative = join(path, entry.name)
            rows.append({"name": entry.name, "path": relative, "folder": entry.is_folder, "depth": depth})
            if entry.is_folder:
                walk(relative, depth + 1)

    for folder in folders:
        if len(rows) >= MAX_TREE_ENTRIES:
            break
        rows.append({"name": folder, "path": folder, "folder": True, "depth": 0})
        walk(folder, 1)
    return rows, len(rows) >= MAX_TREE_ENTRIES


def _with_live_log(rows: list[dict]) -> list[dict]:
    """user_logs/std_log.txt is shown before the job uploads it: it streams from the database."""
    if any(row["path"] == STD_LOG for row in rows):
        return rows
    live = {"name": "std_log.txt", "path": STD_LOG, "folder": False, "depth": 1}
    at = next((i for i, row in enumerate(rows) if row["path"] == "user_logs"), None)
    if at is None:  # the listing was cut short before it
        return [*rows, {"name": "user_logs", "path": "user_logs", "folder": True, "depth": 0}, live]
    return [*rows[: at + 1], live, *rows[at + 1 :]]


def _clean_job_path(raw: str, allowed) -> str:
    try:
        path = clean_path(raw or "", field="path")
    except ValidationError as exc:
        raise BadRequest(exc.messages[0]) from exc
    if path.split("/", 1)[0] not in allowed:
        raise Http404("No such file in this job.")
    return path


def _artifacts(job):
    return datastore_storage(datastore_by_name(workspace=job.workspace, name="workspaceartifactstore"))


def _files_context(job, tab: str, selected: str) -> dict:
    storage = _artifacts(job)
    folders = LOG_FOLDERS if tab == "outputs" else ("code",)
    error = ""
    try:
        rows, capped = _tree(storage, job.artifact_prefix, folders)
    except Exception as exc:  # noqa: BLE001 - an unreachable artifact store is shown; the live log still works
        rows, capped, error = [], False, f"The job's folder could not be read: {exc}"
    if tab == "outputs":
        rows = _with_live_log(rows)
        selected = selected or STD_LOG
    elif not selected:
        selected = next((r["path"] for r in rows if not r["folder"]), "")
    preview = None
    if selected and selected != STD_LOG and not error:
        full = join(job.artifact_prefix, _clean_job_path(selected, folders))
        if is_folder(storage, full) or not storage.exists(full):
            selected = ""
        else:
            preview = preview_file(storage, full)
    return {
        "tree": rows,
        "tree_capped": capped,
        "tree_limit": MAX_TREE_ENTRIES,
        "tree_error": error,
        "selected": selected if preview or selected == STD_LOG else "",
        "preview": preview,
    }


@workspace_view(read=Perm.DATA_READ)
@vary_on_headers("HX-Request")
def job_detail(request, access, name):
    job = _job_or_404(access, name)
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "overview"
    context = {
        "access": access,
        "job": job,
        "tab": tab,
        "active": job.status in ACTIVE,
        "elapsed": _elapsed(job),
        "can_cancel": job.status in ACTIVE and access.allows(Perm.DATA_WRITE),
    }
    target = request.htmx.target if request.htmx else None
    if tab == "overview":
        context["timeline"] = _timeline(job)
        context["inputs"], context["outputs"] = _io_rows(job)
    elif target != "job-live":  # the status poll of these tabs brings only the head
        context.update(_files_context(job, tab, request.GET.get("path", "")))
        context["log_from"] = max(job.log_size - LOG_TAIL_BYTES, 0)
    template = "jobs/detail.html"
    if target in PARTS:
        template += "#" + PARTS[target]
    return render(request, template, context)


@workspace_view(read=Perm.DATA_WRITE, write=Perm.DATA_WRITE)
@require_POST
def job_cancel(request, access, name):
    job = _job_or_404(access, name)
    try:
        services.job_cancel(job=job)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Cancel requested for {job.name}.")
    return redirect("job_detail", access.workspace.name, job.name)


# -- downloads --------------------------------------------------------------------------------------


def _log_bytes(job_id: int):
    offset = 0
    while True:
        text, offset = read_log(job_id, after=offset, limit_bytes=4 * 1024 * 1024)
        if not text:
            return
        yield text.encode()


@workspace_view(read=Perm.DATA_READ)
def job_log_download(request, access, name):
    """The whole std_log.txt, also while the job runs."""
    job = _job_or_404(access, name)
    response = StreamingHttpResponse(_log_bytes(job.pk), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{job.name}-std_log.txt"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@workspace_view(read=Perm.DATA_READ)
def job_file_download(request, access, name):
    """A file of the job's folder; a folder (or `all`: outputs and logs) as a zip."""
    job = _job_or_404(access, name)
    storage = _artifacts(job)
    if request.GET.get("path") == "all":
        return _zip_of(storage, job, LOG_FOLDERS, f"{job.name}-outputs-and-logs")
    path = _clean_job_path(request.GET.get("path", ""), LOG_FOLDERS + ("code",))
    full = join(job.artifact_prefix, path)
    if is_folder(storage, full):
        return folder_zip_response(storage, full, name=f"{job.name}-{path.replace('/', '-')}")
    if not storage.exists(full):
        raise Http404("No such file.")
    return file_response(storage, full)


def _zip_of(storage, job, folders, name: str) -> StreamingFileResponse:
    spool = tempfile.TemporaryFile()
    start = len(job.artifact_prefix) + 1
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for folder in folders:
            for file_path in walk_files(storage, join(job.artifact_prefix, folder)):
                with (
                    storage.open(file_path, "rb") as src,
                    archive.open(file_path[start:], "w", force_zip64=True) as dst,
                ):
                    while chunk := src.read(1024 * 1024):
                        dst.write(chunk)
    spool.seek(0, os.SEEK_SET)
    response = StreamingFileResponse(spool, as_attachment=True, filename=f"{name}.zip", content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    return response
