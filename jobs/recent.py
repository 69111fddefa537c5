"""A workspace's newest jobs for its Home (registered in workspaces.recent)."""

from django.urls import reverse

from workspaces.recent import RecentItem

from .models import Job


def recent_jobs(workspace, limit: int) -> list[RecentItem]:
    jobs = Job.objects.filter(workspace=workspace, parent__isnull=True, is_archived=False).order_by("-created_at")[
        :limit
    ]
    return [
        RecentItem(
            "Job",
            job.display_name or job.name,
            job.get_status_display(),
            job.created_at,
            reverse("job_detail", args=[workspace.name, job.name]),
        )
        for job in jobs
    ]
