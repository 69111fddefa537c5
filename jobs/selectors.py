"""Reads of jobs and experiments, always within one workspace, and of a job's folder (its outputs,
logs, images and code snapshot in workspaceartifactstore)."""

from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet

from workspaces.models import Workspace
from workspaces.paths import join
from workspaces.preview import preview_file
from workspaces.selectors import datastore_by_name
from workspaces.storage import datastore_storage, is_folder, list_folder, walk_files

from .joblog import read_log
from .models import ACTIVE, Experiment, Job, JobStatus, JobStatusEvent, LifecycleStage

SORTS = {
    "created": "created_at",
    "-created": "-created_at",
    "name": "name",
    "-name": "-name",
    "status": "status",
    "-status": "-status",
    "duration": "ended_at",
    "-duration": "-ended_at",
    "display_name": "display_name",
    "-display_name": "-display_name",
}


def jobs_for_workspace(
    *,
    workspace: Workspace,
    status: list[str] | None = None,
    experiment: str | None = None,
    compute: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    sort: str = "-created",
    include_children: bool = False,
    include_archived: bool = False,
) -> QuerySet[Job]:
    """Jobs, newest first by default. `tag` is `key` or `key=value`; `search` matches name or display name.
    Runs deleted through MLflow (`delete_run`, `delete_experiment`) are left out until restored,
    except a job still running on compute: it stays in sight so that it can be cancelled. Archived jobs
    are left out unless `include_archived`."""
    visible = Q(lifecycle_stage=LifecycleStage.ACTIVE) | (Q(status__in=ACTIVE) & ~Q(type="run"))
    jobs = Job.objects.filter(visible, workspace=workspace).select_related("experiment", "compute", "created_by")
    if not include_children:
        jobs = jobs.filter(parent__isnull=True)
    if not include_archived:
        jobs = jobs.filter(is_archived=False)
    if status:
        jobs = jobs.filter(status__in=status)
    if experiment:
        jobs = jobs.filter(experiment__name=experiment)
    if compute:
        jobs = jobs.filter(compute__name=compute)
    if tag:
        key, _, value = tag.partition("=")
        jobs = jobs.filter(**{f"tags__{key}": value}) if value else jobs.filter(tags__has_key=key)
    if search:
        jobs = jobs.filter(Q(name__icontains=search) | Q(display_name__icontains=search))
    if created_after:
        jobs = jobs.filter(created_at__gte=created_after)
    if created_before:
        jobs = jobs.filter(created_at__lt=created_before)
    return jobs.order_by(SORTS.get(sort, "-created_at"), "-pk")


def job_by_name(*, workspace: Workspace, name: str) -> Job | None:
    return (
        Job.objects.filter(workspace=workspace, name=name)
        .select_related("experiment", "compute", "environment__build", "created_by", "node", "parent")
        .first()
    )


def jobs_version(*, workspace_id: int) -> int:
    """Grows whenever a job of the workspace is created or changes status (each writes a status event):
    what an open Jobs list compares to know it is out of date."""
    events = JobStatusEvent.objects.filter(job__workspace_id=workspace_id).order_by("-pk")
    return events.values_list("pk", flat=True).first() or 0


def jobs_named(*, workspace: Workspace, names: list[str]) -> QuerySet[Job]:
    return Job.objects.filter(workspace=workspace, name__in=names[:200])


def job_events(*, job: Job) -> QuerySet[JobStatusEvent]:
    return job.events.order_by("at", "pk")


def experiments_for_workspace(*, workspace: Workspace) -> QuerySet[Experiment]:
    """Experiments with their job count and latest job time, most recently used first."""
    return (
        Experiment.objects.filter(workspace=workspace)
        .annotate(job_count=Count("jobs"), last_job_at=Max("jobs__created_at"))
        .order_by("-last_job_at", "name")
    )


MAX_RUN_DEPTH = 20


def started_by_the_job(access, job: Job) -> bool:
    """Whether `job` is the token's own job or a run it started (a descendant of it)."""
    if job.pk == access.job_id or job.parent_id == access.job_id:
        return True
    parent_id = job.parent_id
    for _ in range(MAX_RUN_DEPTH):
        if parent_id is None:
            return False
        parent_id = Job.objects.filter(pk=parent_id).values_list("parent_id", flat=True).first()
        if parent_id == access.job_id:
            return True
    return False


# -- a job's folder ----------------------------------------------------------------------------------

LOG_FOLDERS = ("outputs", "logs", "user_logs", "system_logs")
STD_LOG = "user_logs/std_log.txt"
MAX_TREE_ENTRIES = 1000
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
ERROR_LINES = 20
ERROR_SCAN_BYTES = 64 * 1024


def job_artifact_storage(*, job: Job):
    """The storage of workspaceartifactstore, where the job's folder `job.artifact_prefix` is."""
    return datastore_storage(datastore_by_name(workspace=job.workspace, name="workspaceartifactstore"))


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


def job_output_folders(*, job: Job, storage) -> tuple[str, ...]:
    """outputs and the log folders, then any other folder of the job's (what MLflow logs as artifacts)."""
    logged = [e.name for e in list_folder(storage, job.artifact_prefix) if e.is_folder and e.name != "code"]
    return LOG_FOLDERS + tuple(name for name in logged if name not in LOG_FOLDERS)


def job_file_tree(*, job: Job, tab: str) -> dict:
    """The Outputs + logs tab's folders (`tab` "outputs", with the live log) or the Code tab's:
    {tree, folders, capped, error}; an unreachable artifact store is an error to show, not raise."""
    storage = job_artifact_storage(job=job)
    folders: tuple[str, ...] = ("code",)
    error = ""
    try:
        if tab == "outputs":
            folders = job_output_folders(job=job, storage=storage)
        rows, capped = _tree(storage, job.artifact_prefix, folders)
    except Exception as exc:  # noqa: BLE001 - shown on the page; the live log still works
        rows, capped, error = [], False, f"The job's folder could not be read: {exc}"
    if tab == "outputs":
        rows = _with_live_log(rows)
    return {"tree": rows, "folders": folders, "capped": capped, "error": error}


def job_file_preview(*, job: Job, path: str):
    """The preview of a file of the job's folder (`path` clean and relative to it), None if no such file."""
    storage = job_artifact_storage(job=job)
    full = join(job.artifact_prefix, path)
    if is_folder(storage, full) or not storage.exists(full):
        return None
    return preview_file(storage, full)


def job_model_folders(*, job: Job, rows: list[dict]) -> list[dict]:
    """What a model can be registered from: the job's named outputs, then the folders of its folder
    (one holding an MLmodel file is an MLflow model). Each: {value, label, mlflow}."""
    outputs = [
        {
            "value": f"output:{name}",
            "label": f"{name} (named output, {binding.get('type', 'uri_folder')})",
            "mlflow": binding.get("type") == "mlflow_model",
        }
        for name, binding in sorted((job.spec or {}).get("outputs", {}).items())
    ]
    mlflow = {row["path"].rpartition("/")[0] for row in rows if not row["folder"] and row["name"] == "MLmodel"}
    folders = [
        {
            "value": row["path"],
            "label": row["path"] + (" (MLflow model)" if row["path"] in mlflow else ""),
            "mlflow": row["path"] in mlflow,
        }
        for row in rows
        if row["folder"] and row["path"] not in LOG_FOLDERS[1:] and not row["path"].startswith(("logs/", "user_logs/"))
    ]
    folders.sort(key=lambda folder: (not folder["mlflow"], folder["value"] != "outputs/model"))
    return sorted(outputs, key=lambda output: not output["mlflow"]) + folders


def job_images(*, job: Job) -> dict:
    """Images anywhere in the job's folder but its code: rasters shown, SVG offered as downloads."""
    storage = job_artifact_storage(job=job)
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


def job_error_excerpt(*, job: Job) -> str:
    """What a failed job's log says last: its last traceback (at most ERROR_LINES lines from the last
    "Traceback" on), or its last ERROR_LINES lines; the studio's own lines are left out."""
    if job.status != JobStatus.FAILED or not job.log_size:
        return ""
    text, _ = read_log(job.pk, after=max(job.log_size - ERROR_SCAN_BYTES, 0), limit_bytes=ERROR_SCAN_BYTES)
    lines = [line for line in text.splitlines() if not line.startswith("[studio] ")]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if starts:
        lines = lines[starts[-1] :]
    return "\n".join(lines[-ERROR_LINES:]).strip("\n")
