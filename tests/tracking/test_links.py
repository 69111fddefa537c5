"""The tracking URI as a browser page: the client's links into MLflow's web UI
(`<tracking URI>/#/experiments/<id>/runs/<run id>`) open the studio's page for the same thing."""

import pytest

from jobs.models import Experiment
from tracking.links import studio_page

from ..jobs.support import make_job

pytestmark = pytest.mark.django_db

HOME = "/mlflow/v1.0/workspaces/team-ws/"
OPEN = HOME + "open"


def test_the_tracking_uri_is_a_page_that_hands_the_link_to_the_studio(owner, workspace, browser_client):
    response = browser_client(owner).get(HOME)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-open-url="{OPEN}"' in page
    assert "js/mlflow-links.js" in page
    assert (
        'MLFLOW_TRACKING_URI=<span data-testid="tracking-uri">http://testserver/mlflow/v1.0/workspaces/team-ws</span>'
        in page
    )


def test_a_run_link_opens_its_job(owner, workspace, browser_client):
    job = make_job(workspace, name="quiet-run-1")
    response = browser_client(owner).get(OPEN, {"path": f"/experiments/{job.experiment_id}/runs/quiet-run-1"})
    assert (response.status_code, response["Location"]) == (302, "/workspaces/team-ws/jobs/quiet-run-1/")
    tabbed = browser_client(owner).get(OPEN, {"path": "/experiments/1/runs/quiet-run-1/artifacts"})
    assert tabbed["Location"] == "/workspaces/team-ws/jobs/quiet-run-1/"


def test_an_experiment_link_opens_its_jobs(owner, workspace, browser_client):
    experiment = Experiment.objects.create(workspace=workspace, name="churn model")
    client = browser_client(owner)
    assert client.get(OPEN, {"path": f"/experiments/{experiment.pk}"})["Location"] == (
        "/workspaces/team-ws/jobs/?experiment=churn%20model"
    )
    Experiment.objects.create(workspace=workspace, name="Default")
    assert client.get(OPEN, {"path": "/experiments/0"})["Location"] == "/workspaces/team-ws/jobs/?experiment=Default"
    assert client.get(OPEN, {"path": "/experiments/999999"})["Location"] == "/workspaces/team-ws/jobs/?tab=experiments"


def test_an_experiment_of_another_workspace_is_not_found_through_this_one(owner, workspace, browser_client):
    from workspaces.services import workspace_create

    other = workspace_create(user=owner, name="other-ws")
    foreign = Experiment.objects.create(workspace=other, name="secret")
    location = browser_client(owner).get(OPEN, {"path": f"/experiments/{foreign.pk}"})["Location"]
    assert location == "/workspaces/team-ws/jobs/?tab=experiments"


def test_model_links_open_the_model_pages(workspace):
    assert studio_page(workspace, "/models/churn/versions/3") == "/workspaces/team-ws/models/churn/3/"
    assert studio_page(workspace, "/models/churn") == "/workspaces/team-ws/models/churn/"
    assert studio_page(workspace, "/models") == "/workspaces/team-ws/models/"


@pytest.mark.parametrize(
    "link",
    [
        "",
        "/",
        "//evil.test/x",
        "https://evil.test/",
        "/experiments",
        "/compare-runs?runs=[1]",
        "/x/../../admin",
        "\\\\evil",
    ],
)
def test_anything_else_opens_the_jobs_list_and_never_leaves_the_studio(workspace, link):
    target = studio_page(workspace, link)
    assert target.startswith("/workspaces/team-ws/")
    assert target in ("/workspaces/team-ws/jobs/", "/workspaces/team-ws/jobs/?tab=experiments") or "/jobs/" in target


def test_odd_names_are_quoted_into_the_studio_path(workspace):
    assert studio_page(workspace, "/experiments/1/runs/a%3Fb") == "/workspaces/team-ws/jobs/a%253Fb/"
    assert studio_page(workspace, "/experiments/1/runs/..").startswith("/workspaces/team-ws/jobs/")


def test_reader_may_follow_links_and_an_outsider_may_not(reader, outsider, workspace, browser_client):
    assert browser_client(reader).get(HOME).status_code == 200
    assert browser_client(reader).get(OPEN, {"path": "/experiments/1/runs/x"}).status_code == 302
    assert browser_client(outsider).get(HOME).status_code == 404
    assert browser_client(outsider).get(OPEN).status_code == 404


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(HOME)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
