"""Jobs in the browser: the list, the submit form, a job's page (Overview, Metrics, Images, Outputs + logs,
Code), the chart data of its metrics, and the Compare page of several jobs."""

import json
import os
import tempfile
import zipfile
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from assets.components import interface as component_interface
from assets.components import selectors as component_selectors
from assets.environments import selectors as environment_selectors
from assets.mlmodels import services as model_services
from assets.models import Model, ModelType
from compute.selectors import clusters_for_workspace
from workspaces.access import workspace_view
from workspaces.downloads import StreamingFileResponse, file_response, folder_zip_response
from workspaces.paths import clean_path, join
from workspaces.preview import preview_file
from workspaces.roles import Perm
from workspaces.selectors import datastore_by_name
from workspaces.storage import datastore_storage, is_folder, list_folder, walk_files

from . import hooks, selectors, services
from .forms import DATA_TYPES, INPUT_MODES, LITERAL_TYPES, OUTPUT_MODES, OUTPUT_TYPES, JobFilterForm, JobSubmitForm, Row
from .joblog import read_log
from .models import ACTIVE, JobStatus

PAGE_SIZE = 50
TABS = ("overview", "metrics", "images", "outputs", "code")
LOG_FOLDERS = ("outputs", "logs", "user_logs", "system_logs")
STD_LOG = "user_logs/std_log.txt"
MAX_TREE_ENTRIES = 1000
LOG_TAIL_BYTES = 2 * 1024 * 1024  # a longer log opens at its end; the download has all of it
SYSTEM_TAG_PREFIX = "mlflow."
METRICS_POLL_MS = 1500
MAX_COMPARE = 10
MAX_IMAGES = 200
MAX_IMAGE_SCAN = 5000  # files looked at for the Images tab
RASTER_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
}
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


@workspace_view(read=Perm.JOBS_READ)
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


@workspace_view(read=Perm.JOBS_WRITE, write=Perm.JOBS_WRITE)
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
    """A clean path inside the job's folder, below one of the `allowed` top folders (None: any)."""
    try:
        path = clean_path(raw or "", field="path")
    except ValidationError as exc:
        raise BadRequest(exc.messages[0]) from exc
    if not path or (allowed is not None and path.split("/", 1)[0] not in allowed):
        raise Http404("No such file in this job.")
    return path


def _artifacts(job):
    return datastore_storage(datastore_by_name(workspace=job.workspace, name="workspaceartifactstore"))


def _output_folders(storage, job) -> tuple[str, ...]:
    """outputs and the log folders, then any other folder of the job's (what MLflow logs as artifacts)."""
    logged = [e.name for e in list_folder(storage, job.artifact_prefix) if e.is_folder and e.name != "code"]
    return LOG_FOLDERS + tuple(name for name in logged if name not in LOG_FOLDERS)


def _files_context(job, tab: str, selected: str) -> dict:
    storage = _artifacts(job)
    folders = ("code",)
    error = ""
    try:
        if tab == "outputs":
            folders = _output_folders(storage, job)
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
        "model_folders": _model_folders(rows) if tab == "outputs" else [],
        "tree_capped": capped,
        "tree_limit": MAX_TREE_ENTRIES,
        "tree_error": error,
        "selected": selected if preview or selected == STD_LOG else "",
        "preview": preview,
    }


def _model_folders(rows: list[dict]) -> list[dict]:
    """The folders a model can be registered from; one holding an MLmodel file is an MLflow model."""
    mlflow = {row["path"].rpartition("/")[0] for row in rows if not row["folder"] and row["name"] == "MLmodel"}
    folders = [
        {"path": row["path"], "mlflow": row["path"] in mlflow}
        for row in rows
        if row["folder"] and row["path"] not in LOG_FOLDERS[1:] and not row["path"].startswith(("logs/", "user_logs/"))
    ]
    return sorted(folders, key=lambda folder: (not folder["mlflow"], folder["path"] != "outputs/model"))


def _split_tags(tags: dict) -> tuple[list[tuple], list[tuple]]:
    """(the tags a person set, MLflow's system tags `mlflow.*`), each sorted by key."""
    items = sorted((tags or {}).items())
    return (
        [(k, v) for k, v in items if not k.startswith(SYSTEM_TAG_PREFIX)],
        [(k, v) for k, v in items if k.startswith(SYSTEM_TAG_PREFIX)],
    )


def _overview_context(job) -> dict:
    user_tags, system_tags = _split_tags(job.tags)
    inputs, outputs = _io_rows(job)
    return {
        "timeline": _timeline(job),
        "inputs": inputs,
        "outputs": outputs,
        "params": sorted((job.params or {}).items()),
        "user_tags": user_tags,
        "system_tags": system_tags,
        "metrics": hooks.metric_summary(job),
        "models": Model.objects.filter(workspace=job.workspace, job_name=job.name).order_by("name", "-created_at"),
    }


def _images_context(job) -> dict:
    """Images anywhere in the job's folder but its code: rasters shown, SVG offered as downloads."""
    storage = _artifacts(job)
    start = len(job.artifact_prefix) + 1
    images, drawings, error, capped = [], [], "", False
    try:
        for scanned, full in enumerate(walk_files(storage, job.artifact_prefix)):
            path = full[start:]
            extension = path.rpartition(".")[2].lower()
            if scanned >= MAX_IMAGE_SCAN or len(images) + len(drawings) >= MAX_IMAGES:
                capped = True
                break
            if path.startswith("code/"):
                continue
            if extension in RASTER_TYPES:
                images.append({"path": path, "name": path.rpartition("/")[2]})
            elif extension == "svg":
                drawings.append({"path": path, "name": path.rpartition("/")[2]})
    except Exception as exc:  # noqa: BLE001 - an unreachable artifact store is shown, not raised
        error = f"The job's folder could not be read: {exc}"
    return {"images": images, "drawings": drawings, "images_error": error, "images_capped": capped}


@workspace_view(read=Perm.JOBS_READ)
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
        "can_cancel": job.status in ACTIVE and access.allows(Perm.JOBS_WRITE),
    }
    target = request.htmx.target if request.htmx else None
    if tab == "overview":
        context.update(_overview_context(job))
    elif tab == "metrics":
        context["poll_ms"] = METRICS_POLL_MS
    elif tab == "images":
        if target != "job-live":
            context.update(_images_context(job))
    elif target != "job-live":  # the status poll of these tabs brings only the head
        context.update(_files_context(job, tab, request.GET.get("path", "")))
        context["log_from"] = max(job.log_size - LOG_TAIL_BYTES, 0)
    template = "jobs/detail.html"
    if target in PARTS:
        template += "#" + PARTS[target]
    return render(request, template, context)


@workspace_view(read=Perm.JOBS_WRITE, write=Perm.JOBS_WRITE)
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


@workspace_view(read=Perm.JOBS_READ, write=Perm.DATA_WRITE)
@require_POST
def job_register_model(request, access, name):
    """Register a folder (or file) of the job's folder as a model version, with the job as its lineage."""
    job = _job_or_404(access, name)
    path = _clean_job_path(request.POST.get("path", ""), None)
    fields = model_services.ModelFields(
        name=request.POST.get("name", ""),
        version=request.POST.get("version") or None,
        type=request.POST.get("type", ModelType.CUSTOM),
        description=request.POST.get("description", ""),
    )
    try:
        model = _register_from_job(access, request.user, job, fields, path)
    except ValidationError as exc:
        messages.error(request, "Could not register the model: " + " ".join(exc.messages))
        url = reverse("job_detail", args=[access.workspace.name, job.name])
        return redirect(f"{url}?{urlencode({'tab': 'outputs', 'path': request.POST.get('selected', '')})}")
    messages.success(request, f"Registered model {model.name}:{model.version} from {job.name}.")
    return redirect("model_detail", access.workspace.name, model.name, model.version)


@transaction.atomic
def _register_from_job(access, user, job, fields, path: str) -> Model:
    model = model_services.model_create_from_datastore(
        workspace=access.workspace,
        user=user,
        fields=fields,
        path=join(job.artifact_prefix, path),
        datastore="workspaceartifactstore",
    )
    model.job_name = job.name
    model.source = f"azureml://jobs/{job.name}/outputs/artifacts/paths/{path}"
    model.save(update_fields=["job_name", "source"])
    return model


# -- metrics, images, compare -----------------------------------------------------------------------


@workspace_view(read=Perm.JOBS_READ)
def job_image(request, access, name):
    """An image of the job's folder, only ever as a raster image type (never SVG or HTML)."""
    job = _job_or_404(access, name)
    path = _clean_job_path(request.GET.get("path", ""), None)
    content_type = RASTER_TYPES.get(path.rpartition(".")[2].lower())
    storage = _artifacts(job)
    full = join(job.artifact_prefix, path)
    if content_type is None or not storage.exists(full) or is_folder(storage, full):
        raise Http404("No such image.")
    response = StreamingFileResponse(storage.open(full, "rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=60"
    return response


def _compare_rows(values_of, jobs, keys) -> list[dict]:
    rows = []
    for key in keys:
        values = [values_of(job, key) for job in jobs]
        rows.append({"key": key, "values": values, "same": len(set(values)) == 1})
    return rows


@workspace_view(read=Perm.JOBS_READ)
def job_compare(request, access):
    """Two to ten jobs side by side: properties, parameters, latest metrics, and overlaid charts."""
    names = list(dict.fromkeys(request.GET.getlist("job")))
    found = (selectors.job_by_name(workspace=access.workspace, name=n) for n in names[:MAX_COMPARE])
    jobs = [job for job in found if job]
    summaries = {job.pk: {m["key"]: m for m in hooks.metric_summary(job)} for job in jobs}
    param_keys = sorted({key for job in jobs for key in (job.params or {})})
    metric_keys = sorted({key for summary in summaries.values() for key in summary})
    for job in jobs:
        job.elapsed = _elapsed(job)
    properties = [
        {"key": "Status", "values": [job.status for job in jobs]},
        {"key": "Experiment", "values": [job.experiment.name for job in jobs]},
        {"key": "Created on", "values": [job.created_at.strftime("%b %-d, %Y %H:%M") for job in jobs]},
        {"key": "Duration", "values": [job.elapsed or "—" for job in jobs]},
    ]
    for row in properties:
        row["same"] = len(set(row["values"])) == 1
    context = {
        "access": access,
        "jobs": jobs,
        "too_many": len(names) > MAX_COMPARE,
        "properties": properties,
        "params": _compare_rows(lambda job, key: str((job.params or {}).get(key, "—")), jobs, param_keys),
        "metrics": _compare_rows(
            lambda job, key: summaries[job.pk][key]["text"] if key in summaries[job.pk] else "—", jobs, metric_keys
        ),
        "chart_keys": [k for k in metric_keys if any(s.get(k, {}).get("count", 0) > 1 for s in summaries.values())],
        "compare_jobs": [
            {
                "name": job.name,
                "label": job.display_name or job.name,
                "series_url": reverse("job_metric_series", args=[access.workspace.name, job.name]),
            }
            for job in jobs
        ],
    }
    return render(request, "jobs/compare.html", context)


# -- downloads --------------------------------------------------------------------------------------


def _log_bytes(job_id: int):
    offset = 0
    while True:
        text, offset = read_log(job_id, after=offset, limit_bytes=4 * 1024 * 1024)
        if not text:
            return
        yield text.encode()


@workspace_view(read=Perm.JOBS_READ)
def job_log_download(request, access, name):
    """The whole std_log.txt, also while the job runs."""
    job = _job_or_404(access, name)
    response = StreamingHttpResponse(_log_bytes(job.pk), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{job.name}-std_log.txt"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@workspace_view(read=Perm.JOBS_READ)
def job_file_download(request, access, name):
    """A file of the job's folder; a folder (or `all`: outputs and logs) as a zip."""
    job = _job_or_404(access, name)
    storage = _artifacts(job)
    if request.GET.get("path") == "all":
        return _zip_of(storage, job, LOG_FOLDERS, f"{job.name}-outputs-and-logs")
    path = _clean_job_path(request.GET.get("path", ""), None)
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
