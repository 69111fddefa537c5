"""A job's metrics in the browser: the data of the job page's Metrics tab and of the Compare page's
charts (the pages themselves are the jobs app's; their URLs stay under the job's)."""

from django.core.exceptions import BadRequest
from django.http import Http404, JsonResponse

from jobs import selectors as job_selectors
from jobs.models import ACTIVE
from workspaces.access import workspace_view
from workspaces.roles import Perm

from . import metric_charts


def _job_or_404(access, name):
    job = job_selectors.job_by_name(workspace=access.workspace, name=name)
    if job is None:
        raise Http404("No such job.")
    return job


@workspace_view(read=Perm.JOBS_READ)
def job_metrics(request, access, name):
    """Each metric of the job with its point count and latest value, and whether the job still runs."""
    job = _job_or_404(access, name)
    return JsonResponse(
        {
            "job": job.name,
            "status": job.status,
            "active": job.status in ACTIVE,
            "metrics": metric_charts.metric_summary(job),
        }
    )


@workspace_view(read=Perm.JOBS_READ)
def job_metric_series(request, access, name):
    """One metric's points for a chart: ?key=, x=step|time, after_id=<last_id of an earlier answer>."""
    job = _job_or_404(access, name)
    key = request.GET.get("key", "")
    x = request.GET.get("x") if request.GET.get("x") in metric_charts.X_AXES else "step"
    try:
        after_id = int(request.GET["after_id"]) if request.GET.get("after_id") else None
    except ValueError as exc:
        raise BadRequest("after_id must be a whole number.") from exc
    return JsonResponse(metric_charts.metric_points(job, key, x=x, after_id=after_id))
