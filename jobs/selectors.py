"""Reads of jobs and experiments, always within one workspace."""

from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet

from workspaces.models import Workspace

from .models import ACTIVE, Experiment, Job, JobStatusEvent, LifecycleStage

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
