"""Jobs in the browser: the list, the submit form, a job's page (Overview, Metrics, Images, Outputs + logs,
Code) and the Compare page of several jobs. The metrics' chart data is tracking's (tracking/views.py)."""

import json
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from assets.components import interface as component_interface
from assets.components import selectors as component_selectors
from assets.data import selectors as data_selectors
from assets.environments import selectors as environment_selectors
from assets.mlmodels import selectors as model_selectors
from assets.mlmodels import services as model_services
from assets.models import ModelType
from compute.selectors import clusters_for_workspace
from workspaces.access import workspace_view
from workspaces.downloads import (
    StreamingFileResponse,
    file_response,
    folder_zip_response,
    zip_of_folders,
    zip_response,
)
from workspaces.paths import clean_path, join
from workspaces.roles import Perm
from workspaces.selectors import datastores_for_workspace
from workspaces.storage import is_folder

from . import hooks, metric_columns, selectors, services
from .forms import (
    DATA_TYPES,
    INPUT_MODES,
    JOB,
    LITERAL_TYPES,
    OUTPUT_MODES,
    OUTPUT_TYPES,
    UPLOAD,
    JobFilterForm,
    JobSubmitForm,
    Row,
    environment_choices,
)
from .joblog import read_log
from .models import ACTIVE, JobStatus, JobStatusEvent
from .selectors import STD_LOG

PAGE_SIZE = 50
TABS = ("overview", "metrics", "images", "outputs", "code")
LOG_TAIL_BYTES = 2 * 1024 * 1024  # a longer log opens at its end; the download has all of it
SYSTEM_TAG_PREFIX = "mlflow."
METRICS_POLL_MS = 1500
MAX_COMPARE = 10
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
    live_version = selectors.jobs_version(workspace_id=access.workspace.pk)  # before the rows: none missed
    filters = JobFilterForm(request.GET, statuses=JobStatus.values)
    sort = request.GET.get("sort") if request.GET.get("sort") in selectors.SORTS else "-created"
    jobs = selectors.jobs_for_workspace(workspace=access.workspace, sort=sort, **filters.selector_arguments())
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    for job in page:
        job.elapsed = _elapsed(job)
    columns = metric_columns.chosen(request.GET.getlist("metric"))
    metric_columns.attach(page, columns)
    partial = request.htmx and request.htmx.target == "jobs-table"
    context = {
        "access": access,
        "tab": "jobs",
        "page": page,
        "sort": sort,
        "filters": filters,
        "statuses": JobStatus.values,
        "computes": clusters_for_workspace(workspace=access.workspace).values_list("name", flat=True),
        "any_active": any(job.status in ACTIVE for job in page),
        "live_version": live_version,
        "metric_columns": columns,
        "metric_names": [] if partial else metric_columns.available(workspace=access.workspace),
    }
    template = "jobs/list.html#jobs-table" if partial else "jobs/list.html"
    return render(request, template, context)


# -- submitting -------------------------------------------------------------------------------------


def _submit_form(access, data=None, files=None, clone_of=None) -> JobSubmitForm:
    custom = (
        environment_selectors.custom_environments(workspace=access.workspace)
        .exclude(name=services.ANONYMOUS_ENVIRONMENT)  # one per inline spec: not something to pick
        .order_by("name", "-created_at")
    )
    curated = environment_selectors.curated_environments().order_by("name", "-created_at")
    environments, unavailable = environment_choices(
        custom=custom[:500], curated=curated, also=clone_of.environment if clone_of else None
    )
    computes = list(clusters_for_workspace(workspace=access.workspace).values_list("name", flat=True))
    components = list(component_selectors.component_list(workspace=access.workspace))
    return JobSubmitForm(
        data,
        files,
        environments=environments,
        unavailable_environments=unavailable,
        computes=computes,
        components=components,
        clone_of=clone_of,
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


def _data_choices(access) -> list[dict]:
    """What an input's path can be picked from: the workspace's data assets and datastores."""
    assets = data_selectors.data_assets(workspace=access.workspace).order_by("name", "-created_at")[:200]
    stores = datastores_for_workspace(workspace=access.workspace)
    return [
        {"kind": "asset", "value": a.reference, "type": a.type, "label": f"{a.type} data asset"} for a in assets
    ] + [{"kind": "datastore", "value": d.uri(""), "name": d.name, "label": f"datastore {d.name}"} for d in stores]


def _code_archive(access, user, form: JobSubmitForm):
    """The code the form's job runs: uploaded, kept from an earlier try, a component's or a job's."""
    source = form.cleaned_data.get("code_source")
    if form.component_object:
        return services.component_code_archive(component=form.component_object)
    if source == JOB:
        job = selectors.job_by_name(workspace=access.workspace, name=form.cleaned_data["source_job"])
        if job is None or not job.code_path:
            raise ValidationError({"code": "The job to take the code from is gone; upload the code folder."})
        return services.job_code_archive(job=job)
    if source == UPLOAD and not form.uploads:
        staged = services.code_staged(workspace=access.workspace, user=user, token=form.staged_code)
        if staged is None:
            raise ValidationError({"code": "The folder kept from your last try is gone; choose it again."})
        return staged
    return form.code_archive()


def _stage_uploads(access, user, form: JobSubmitForm) -> dict:
    """After a failed submit, the uploaded folder (or the one kept before) for the next try."""
    if form.uploads and (archive := form.code_archive()) is not None:
        count = len(form.uploads)
        return {
            "token": services.code_stage(workspace=access.workspace, user=user, archive=archive),
            "name": f"{form.code_folder_name()}/ ({count} file{'s' if count != 1 else ''})",
            "folder": form.code_folder_name(),
        }
    if form.staged_code and not form.uploads:
        return {"token": form.staged_code, "name": form.staged_code_name, "folder": form.staged_code_folder}
    return {}


@workspace_view(read=Perm.JOBS_WRITE, write=Perm.JOBS_WRITE)
def job_create(request, access):
    """The submit form; `?from=<job>` opens it filled in from that job (Clone)."""
    clone_of = _job_or_404(access, request.GET["from"]) if request.GET.get("from") else None
    form = _submit_form(access, request.POST or None, request.FILES or None, clone_of=clone_of)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.job_submit(
                workspace=access.workspace,
                user=request.user,
                yaml_text=form.build_yaml(),
                code_archive=_code_archive(access, request.user, form),
                component=form.component_object,
            )
        except ValidationError as exc:
            form.add_submit_errors(exc)
        else:
            if form.staged_code:
                services.code_unstage(workspace=access.workspace, user=request.user, token=form.staged_code)
            messages.success(request, f"Submitted job {job.name}.")
            return redirect("job_detail", access.workspace.name, job.name)
    context = {
        "access": access,
        "form": form,
        "clone_of": clone_of,
        "staged": _stage_uploads(access, request.user, form) if form.errors else {},
        "components": _component_choices(form),
        "data_choices": _data_choices(access),
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
    """Each status with its time and how long the job stayed in it. The last is the current one: the
    state the job is in, or the state it ended in (taken from the job if no event recorded it)."""
    events = list(selectors.job_events(job=job))
    if job.status not in ACTIVE and (not events or events[-1].status != job.status):
        at = job.ended_at or (events[-1].at if events else job.created_at)
        events.append(JobStatusEvent(job=job, status=job.status, at=at))
    steps = []
    for i, event in enumerate(events):
        last = i + 1 == len(events)
        following = events[i + 1].at if not last else (timezone.now() if job.status in ACTIVE else None)
        steps.append({"event": event, "took": duration_text(following - event.at) if following else "", "last": last})
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


def _clean_job_path(raw: str, allowed) -> str:
    """A clean path inside the job's folder, below one of the `allowed` top folders (None: any)."""
    try:
        path = clean_path(raw or "", field="path")
    except ValidationError as exc:
        raise BadRequest(exc.messages[0]) from exc
    if not path or (allowed is not None and path.split("/", 1)[0] not in allowed):
        raise Http404("No such file in this job.")
    return path


def _files_context(job, tab: str, selected: str) -> dict:
    files = selectors.job_file_tree(job=job, tab=tab)
    if tab == "outputs":
        selected = selected or STD_LOG
    elif not selected:
        selected = next((r["path"] for r in files["tree"] if not r["folder"]), "")
    preview = None
    if selected and selected != STD_LOG and not files["error"]:
        preview = selectors.job_file_preview(job=job, path=_clean_job_path(selected, files["folders"]))
    return {
        "tree": files["tree"],
        "model_folders": selectors.job_model_folders(job=job, rows=files["tree"]) if tab == "outputs" else [],
        "tree_capped": files["capped"],
        "tree_limit": selectors.MAX_TREE_ENTRIES,
        "tree_error": files["error"],
        "selected": selected if preview or selected == STD_LOG else "",
        "preview": preview,
    }


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
        "models": model_selectors.models_of_job(workspace=job.workspace, job_name=job.name),
        "error_excerpt": selectors.job_error_excerpt(job=job),
        "component": _component_link(job),
    }


def _component_link(job) -> dict | None:
    """The component (name:version) a job ran, with its page if it is still registered."""
    key = (job.spec or {}).get("component")
    if not key:
        return None
    name, _, version = key.partition(":")
    found = component_selectors.component_get(workspace=job.workspace, name=name, version=version)
    url = reverse("component_detail", args=[job.workspace.name, name, version]) if found else ""
    return {"key": key, "url": url}


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
        "cancel_requested": job.status == JobStatus.CANCEL_REQUESTED,
    }
    target = request.htmx.target if request.htmx else None
    if tab == "overview":
        context.update(_overview_context(job))
    elif tab == "metrics":
        context["poll_ms"] = METRICS_POLL_MS
    elif tab == "images":
        if target != "job-live":
            context.update(selectors.job_images(job=job))
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


@workspace_view(read=Perm.JOBS_WRITE, write=Perm.JOBS_WRITE)
@require_POST
def job_archive(request, access, name, restore=False):
    job = _job_or_404(access, name)
    if restore:
        services.job_restore(job=job)
        messages.success(request, f"Restored {job.name} to the Jobs list.")
    else:
        services.job_archive(job=job)
        messages.success(
            request, f"Archived {job.name}: it is hidden from the Jobs list unless archived jobs are included."
        )
    return redirect("job_detail", access.workspace.name, job.name)


@workspace_view(read=Perm.JOBS_WRITE, write=Perm.JOBS_WRITE)
@require_POST
def job_archive_selected(request, access):
    """The Jobs list's Archive: the checked jobs (`job`, repeated); the list is then shown again."""
    names = request.POST.getlist("job")
    archived = [
        services.job_archive(job=job).name for job in selectors.jobs_named(workspace=access.workspace, names=names)
    ]
    if archived:
        messages.success(
            request, f"Archived {len(archived)} job{'s' if len(archived) != 1 else ''}: {', '.join(archived)}."
        )
    else:
        messages.error(request, "Select the jobs to archive.")
    back = reverse("job_list", args=[access.workspace.name])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = back
        return response
    return redirect(back)


@workspace_view(read=Perm.JOBS_READ, write=Perm.DATA_WRITE)
@require_POST
def job_register_model(request, access, name):
    """Register a named output, or a folder (or file) of the job's folder, as a model version with the job as its lineage."""
    job = _job_or_404(access, name)
    choice = request.POST.get("path", "")
    output = choice.removeprefix("output:") if choice.startswith("output:") else ""
    fields = model_services.ModelFields(
        name=request.POST.get("name", ""),
        version=request.POST.get("version") or None,
        type=request.POST.get("type", ModelType.CUSTOM),
        description=request.POST.get("description", ""),
    )
    try:
        path = "" if output else _clean_job_path(choice, None)
        model = services.model_register_from_job(job=job, user=request.user, fields=fields, path=path, output=output)
    except ValidationError as exc:
        messages.error(request, "Could not register the model: " + " ".join(exc.messages))
        url = reverse("job_detail", args=[access.workspace.name, job.name])
        return redirect(f"{url}?{urlencode({'tab': 'outputs', 'path': request.POST.get('selected', '')})}")
    messages.success(request, f"Registered model {model.name}:{model.version} from {job.name}.")
    return redirect("model_detail", access.workspace.name, model.name, model.version)


# -- metrics, images, compare -----------------------------------------------------------------------


@workspace_view(read=Perm.JOBS_READ)
def job_image(request, access, name):
    """An image of the job's folder, only ever as a raster image type (never SVG or HTML)."""
    job = _job_or_404(access, name)
    path = _clean_job_path(request.GET.get("path", ""), None)
    content_type = selectors.RASTER_TYPES.get(path.rpartition(".")[2].lower())
    storage = selectors.job_artifact_storage(job=job)
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
    storage = selectors.job_artifact_storage(job=job)
    if request.GET.get("path") == "all":
        spool = zip_of_folders(storage, job.artifact_prefix, selectors.LOG_FOLDERS)
        return zip_response(spool, name=f"{job.name}-outputs-and-logs")
    path = _clean_job_path(request.GET.get("path", ""), None)
    full = join(job.artifact_prefix, path)
    if is_folder(storage, full):
        return folder_zip_response(storage, full, name=f"{job.name}-{path.replace('/', '-')}")
    if not storage.exists(full):
        raise Http404("No such file.")
    return file_response(storage, full)
