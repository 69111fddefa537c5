"""The Compute page: clusters with their nodes (live by htmx polling), create, scale settings, delete;
who may do what (SECURITY.md 9: Data Scientist and Reader cannot create or delete compute)."""

import re

import pytest

from compute.models import ComputeCluster, ComputeNode, NodeState
from jobs.models import Job, JobStatus
from tests.jobs.support import make_job

pytestmark = pytest.mark.django_db
LIST = "/workspaces/team-ws/compute/"
NEW = "/workspaces/team-ws/compute/new/"


def detail(name: str, suffix: str = "") -> str:
    return f"/workspaces/team-ws/compute/{name}/{suffix}"


def error_of(html: str, field: str) -> list[str]:
    return re.findall(rf'<small class="error" data-field="{field}" role="alert">([^<]*)</small>', html)


@pytest.fixture
def busy_cluster(workspace):
    cluster = workspace.compute_clusters.get(name="cpu-cluster")
    job = make_job(workspace, name="busy-job", display_name="Training run", status=JobStatus.RUNNING, compute=cluster)
    node = ComputeNode.objects.create(
        cluster=cluster, name="cpu-cluster-a@host1", hostname="host1", state=NodeState.BUSY
    )
    Job.objects.filter(pk=job.pk).update(node=node, node_name=node.name)
    ComputeNode.objects.create(cluster=cluster, name="cpu-cluster-b@host1", hostname="host1", state=NodeState.IDLE)
    ComputeNode.objects.create(
        cluster=cluster, name="cpu-cluster-c@host2", hostname="host2", state=NodeState.STARTING, managed=False
    )
    return cluster


def test_list_shows_each_cluster_with_its_settings_nodes_and_the_job_each_runs(owner, busy_cluster, browser_client):
    html = browser_client(owner).get(LIST).content.decode()
    row = html.split('<tr data-cluster="cpu-cluster">')[1].split("</tr>")[0]
    assert "<code>Standard_DS3_v2</code>" in row
    assert re.search(r'<td class="num">0</td>\s*<td class="num">2</td>\s*<td class="nowrap">120 s</td>', row)
    assert re.search(r"<b>1</b> starting</span><span><b>1</b> idle</span><span><b>1</b> busy", row)
    assert '<a href="/workspaces/team-ws/jobs/busy-job/">Training run</a>' in row
    assert ".venv/bin/python manage.py computenode team-ws &lt;cluster&gt;" in html


def test_the_list_polls_every_two_seconds_and_htmx_gets_the_fragment(owner, busy_cluster, browser_client):
    client = browser_client(owner)
    assert 'hx-trigger="every 2s"' in client.get(LIST).content.decode()
    ComputeNode.objects.filter(state=NodeState.BUSY).update(state=NodeState.IDLE)
    Job.objects.filter(name="busy-job").update(status=JobStatus.COMPLETED)
    fragment = client.get(LIST, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="clusters").content.decode()
    assert fragment.lstrip().startswith('<section class="card flush" id="clusters"')
    assert "<b>2</b> idle" in fragment and "<b>0</b> busy" in fragment
    assert "sidenav" not in fragment


def test_detail_lists_nodes_with_their_state_host_and_how_to_join_one(owner, busy_cluster, browser_client):
    client = browser_client(owner)
    html = client.get(detail("cpu-cluster")).content.decode()
    assert re.findall(r'data-node-state="(\w+)"', html) == ["busy", "idle", "starting"]
    assert '<span class="tag" title="Joined from another host with manage.py computenode">joined</span>' in html
    assert ".venv/bin/python manage.py computenode team-ws cpu-cluster" in html
    fragment = client.get(detail("cpu-cluster"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="nodes").content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="nodes"')


def test_compute_operator_sees_the_job_name_but_no_link_to_jobs_it_cannot_read(
    compute_operator, busy_cluster, browser_client
):
    html = browser_client(compute_operator).get(LIST).content.decode()
    assert "<code>busy-job</code>" in html
    assert "/jobs/busy-job/" not in html


@pytest.mark.parametrize("role", ["owner", "contributor", "compute_operator"])
def test_those_with_compute_write_create_a_cluster(request, workspace, browser_client, role):
    data = {
        "name": "gpu-cluster",
        "size": "Standard_NC6s_v3",
        "min_instances": "0",
        "max_instances": "4",
        "idle_time_before_scale_down": "300",
        "tags": "team=vision",
    }
    response = browser_client(request.getfixturevalue(role)).post(NEW, data)
    assert response.status_code == 302 and response["Location"] == detail("gpu-cluster")
    cluster = ComputeCluster.objects.get(workspace=workspace, name="gpu-cluster")
    assert (cluster.size, cluster.max_instances, cluster.idle_time_before_scale_down) == ("Standard_NC6s_v3", 4, 300)
    assert cluster.tags == {"team": "vision"}


def test_the_form_suggests_common_azure_sizes(owner, workspace, browser_client):
    html = browser_client(owner).get(NEW).content.decode()
    assert 'list="vm-sizes"' in html and '<option value="Standard_DS11_v2">' in html


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "1bad"}, "name", "starting with a letter"),
        ({"name": "cpu-cluster"}, "name", "already exists"),
        ({"min_instances": "5", "max_instances": "2"}, "min_instances", "Must not exceed max_instances (2)."),
        ({"max_instances": "0"}, "max_instances", "greater than or equal to 1"),
    ],
)
def test_create_errors_land_on_their_fields(owner, workspace, browser_client, fields, field, message):
    data = {"name": "new-one", "size": "Standard_DS3_v2", "min_instances": "0", "max_instances": "2"}
    data |= {"idle_time_before_scale_down": "120", **fields}
    response = browser_client(owner).post(NEW, data)
    assert response.status_code == 400
    assert any(message in e.replace("&#x27;", "'") for e in error_of(response.content.decode(), field))
    assert ComputeCluster.objects.filter(workspace=workspace).count() == 1


@pytest.mark.parametrize("role", ["data_scientist", "reader"])
def test_data_scientist_and_reader_cannot_create_change_or_delete_compute(request, workspace, browser_client, role):
    client = browser_client(request.getfixturevalue(role))
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, {"name": "x-cluster", "max_instances": "1"}).status_code == 403
    scale = {"min_instances": "1", "max_instances": "3", "idle_time_before_scale_down": "60"}
    assert client.post(detail("cpu-cluster"), scale).status_code == 403
    assert client.post(detail("cpu-cluster", "delete")).status_code == 403
    assert client.get(detail("cpu-cluster")).status_code == 200  # reading is allowed
    assert workspace.compute_clusters.get(name="cpu-cluster").max_instances == 2


def test_scale_settings_are_saved(owner, workspace, browser_client):
    scale = {"min_instances": "1", "max_instances": "5", "idle_time_before_scale_down": "30"}
    response = browser_client(owner).post(detail("cpu-cluster"), scale)
    assert response.status_code == 302
    cluster = workspace.compute_clusters.get(name="cpu-cluster")
    assert (cluster.min_instances, cluster.max_instances, cluster.idle_time_before_scale_down) == (1, 5, 30)


def test_scale_settings_that_do_not_fit_are_refused_on_their_field(owner, workspace, browser_client):
    scale = {"min_instances": "3", "max_instances": "2", "idle_time_before_scale_down": "30"}
    response = browser_client(owner).post(detail("cpu-cluster"), scale)
    assert response.status_code == 400
    assert error_of(response.content.decode(), "min_instances") == ["Must not exceed max_instances (2)."]


def test_reader_sees_scale_settings_but_no_form(reader, workspace, browser_client):
    html = browser_client(reader).get(detail("cpu-cluster")).content.decode()
    assert 'data-testid="scale-form"' not in html and 'data-testid="delete-compute"' not in html
    assert "<dt>Maximum nodes</dt><dd>2</dd>" in html


def test_an_unused_cluster_is_deleted(owner, workspace, browser_client):
    workspace.compute_clusters.create(name="spare")
    response = browser_client(owner).post(detail("spare", "delete"))
    assert response.status_code == 302 and response["Location"] == LIST
    assert not workspace.compute_clusters.filter(name="spare").exists()


def test_delete_is_refused_while_jobs_are_active(owner, busy_cluster, browser_client):
    client = browser_client(owner)
    assert 'data-testid="delete-compute" disabled' in client.get(detail("cpu-cluster")).content.decode()
    response = client.post(detail("cpu-cluster", "delete"), follow=True)
    assert "still has jobs that are not finished" in response.content.decode()
    assert ComputeCluster.objects.filter(name="cpu-cluster").exists()


def test_a_missing_cluster_is_404_and_another_workspace_is_404(owner, outsider, workspace, browser_client):
    assert browser_client(owner).get(detail("no-such")).status_code == 404
    assert browser_client(outsider).get(LIST).status_code == 404
