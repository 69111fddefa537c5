"""Jobs are archived and restored (as Azure ML): hidden from the Jobs list and the API's list unless
archived jobs are asked for; the job page, the list, the REST API and the CLI all do it."""

import httpx
import pytest

from cli import job as job_cli
from cli.client import StudioClient
from cli.commands import Context
from jobs import services
from jobs.models import Job, JobStatus

from .support import make_job

pytestmark = pytest.mark.django_db
LIST = "/workspaces/team-ws/jobs/"
API = "/api/v1/workspaces/team-ws/jobs"


def listed(html: str) -> list[str]:
    return [part.split('"')[0] for part in html.split('<tr data-job="')[1:]]


def test_an_archived_job_leaves_the_list_unless_archived_jobs_are_included(client, owner, workspace):
    make_job(workspace, name="kept")
    services.job_archive(job=make_job(workspace, name="put-away"))
    client.force_login(owner)
    assert listed(client.get(LIST).content.decode()) == ["kept"]
    html = client.get(LIST + "?include_archived=on").content.decode()
    assert sorted(listed(html)) == ["kept", "put-away"]
    assert "Include archived" in html and "Archived</span>" in html


def test_archive_and_restore_from_the_job_page(client, contributor, workspace):
    job = make_job(workspace, name="paged")
    client.force_login(contributor)
    assert 'data-testid="archive-job"' in client.get(f"{LIST}paged/").content.decode()
    response = client.post(f"{LIST}paged/archive")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.is_archived
    html = client.get(f"{LIST}paged/").content.decode()
    assert 'data-testid="restore-job"' in html and 'data-testid="archived"' in html
    client.post(f"{LIST}paged/restore")
    job.refresh_from_db()
    assert not job.is_archived


def test_archive_the_jobs_checked_in_the_list(client, contributor, workspace):
    for name in ("a1", "a2", "a3"):
        make_job(workspace, name=name)
    client.force_login(contributor)
    response = client.post(f"{LIST}archive", {"job": ["a1", "a3", "not-a-job"]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == LIST
    assert sorted(Job.objects.filter(is_archived=True).values_list("name", flat=True)) == ["a1", "a3"]


def test_a_reader_cannot_archive(client, reader, workspace):
    make_job(workspace, name="not-yours")
    client.force_login(reader)
    assert 'data-testid="archive-job"' not in client.get(f"{LIST}not-yours/").content.decode()
    assert client.post(f"{LIST}not-yours/archive").status_code == 403
    assert not Job.objects.get(name="not-yours").is_archived


def test_the_api_archives_restores_and_lists_archived_jobs_on_request(api_client, contributor, workspace):
    make_job(workspace, name="api-job", status=JobStatus.COMPLETED)
    api = api_client(contributor)
    body = api.post(f"{API}/api-job/archive").json()
    assert body["is_archived"] is True
    assert [j["name"] for j in api.get(API).json()["value"]] == []
    assert [j["name"] for j in api.get(API, {"include_archived": "true"}).json()["value"]] == ["api-job"]
    assert api.post(f"{API}/api-job/restore").json()["is_archived"] is False
    assert [j["name"] for j in api.get(API).json()["value"]] == ["api-job"]


def test_cli_job_archive_and_restore_post_to_the_job():
    calls = []

    def handler(request):
        calls.append((request.method, request.url.path))
        return httpx.Response(200, json={"name": "j1", "is_archived": request.url.path.endswith("archive")})

    client = StudioClient("http://studio.test", "token", transport=httpx.MockTransport(handler))
    args = type("Args", (), {"workspace_name": "ws", "name": "j1"})()
    assert job_cli.archive(Context(args=args, client=client))["is_archived"] is True
    assert job_cli.restore(Context(args=args, client=client))["is_archived"] is False
    assert calls == [
        ("POST", "/api/v1/workspaces/ws/jobs/j1/archive"),
        ("POST", "/api/v1/workspaces/ws/jobs/j1/restore"),
    ]
