"""Links into MLflow's web UI, opened in the studio.

The mlflow client prints links to MLflow's own UI under the tracking URI, such as
`<tracking URI>/#/experiments/3/runs/<run id>`. The part after `#` never reaches a server, so the
page at the tracking URI (templates/tracking/links.html, static/js/mlflow-links.js) sends it to
`tracking_link`, which redirects to the studio's page for the same thing: a run's job, an
experiment's jobs, a registered model or one of its versions. Anything else opens the jobs list.
"""

from urllib.parse import quote

from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse

from workspaces.access import workspace_view
from workspaces.roles import Perm

from .selectors import experiment_by_id

MAX_PATH = 2000


@workspace_view(read=Perm.DATA_READ)
def tracking_home(request, access):
    uri = request.build_absolute_uri(reverse("mlflow_home", args=[access.workspace.name])).rstrip("/")
    return render(request, "tracking/links.html", {"access": access, "tracking_uri": uri})


@workspace_view(read=Perm.DATA_READ)
def tracking_link(request, access):
    return redirect(studio_page(access.workspace, request.GET.get("path", "")))


def studio_page(workspace, link: str) -> str:
    """The studio's URL for an MLflow UI route (`/experiments/<id>/runs/<run id>`, `/experiments/<id>`,
    `/models/<name>/versions/<version>`, `/models/<name>`); the jobs list for anything else."""
    ws = workspace.name
    parts = [part for part in link[:MAX_PATH].split("?", 1)[0].split("/") if part]
    jobs = reverse("job_list", args=[ws])
    try:
        if len(parts) >= 4 and parts[0] == "experiments" and parts[2] == "runs":
            return reverse("job_detail", args=[ws, parts[3]])
        if len(parts) >= 2 and parts[0] == "experiments":
            experiment = experiment_by_id(workspace, parts[1])
            return f"{jobs}?experiment={quote(experiment.name)}" if experiment else f"{jobs}?tab=experiments"
        if len(parts) >= 4 and parts[0] == "models" and parts[2] == "versions":
            return reverse("model_detail", args=[ws, parts[1], parts[3]])
        if len(parts) >= 2 and parts[0] == "models":
            return reverse("model_latest", args=[ws, parts[1]])
        if parts[:1] == ["models"]:
            return reverse("model_list", args=[ws])
    except NoReverseMatch:
        pass
    return jobs
