"""/api/v1/workspaces/<ws>/computes: clusters from Azure ML amlCompute YAML or fields, their nodes,
update and delete; who may do what (SECURITY.md 9)."""

import pytest

from compute.models import ComputeCluster, ComputeNode, NodeState
from tests.jobs.support import make_job

pytestmark = pytest.mark.django_db
BASE = "/api/v1/workspaces/team-ws/computes"
CLUSTER_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
name: gpu-cluster
type: amlcompute
size: STANDARD_NC6s_v3
min_instances: 0
max_instances: 4
idle_time_before_scale_down: 300
description: For training
tags:
  team: vision
"""


def test_create_from_yaml_then_show_and_list(owner, workspace, api_client):
    client = api_client(owner)
    response = client.post(BASE, {"yaml": CLUSTER_YAML}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("name", "type", "size", "min_instances", "max_instances")} == {
        "name": "gpu-cluster",
        "type": "amlcompute",
        "size": "STANDARD_NC6s_v3",
        "min_instances": 0,
        "max_instances": 4,
    }
    assert (body["idle_time_before_scale_down"], body["tags"], body["description"]) == (
        300,
        {"team": "vision"},
        "For training",
    )
    assert body["nodes"] == [] and body["current_node_count"] == 0
    assert client.get(f"{BASE}/gpu-cluster").json()["size"] == "STANDARD_NC6s_v3"
    assert [c["name"] for c in client.get(BASE).json()] == ["cpu-cluster", "gpu-cluster"]
    assert ComputeCluster.objects.get(workspace=workspace, name="gpu-cluster").created_by == owner


def test_create_from_fields(owner, workspace, api_client):
    response = api_client(owner).post(
        BASE,
        {"name": "small", "min_instances": 1, "max_instances": 1, "idle_time_before_scale_down": 60},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert (response.json()["min_instances"], response.json()["size"]) == (1, "Standard_DS3_v2")


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        (CLUSTER_YAML + "bogus: 1\n", "bogus", 11),
        (CLUSTER_YAML.replace("min_instances: 0", "min_instances: lots"), "min_instances", 5),
        (CLUSTER_YAML.replace("min_instances: 0", "min_instances: 5"), "min_instances", 5),
        (CLUSTER_YAML.replace("max_instances: 4", "max_instances: 0"), "max_instances", 6),
        (CLUSTER_YAML.replace("name: gpu-cluster", "name: bad_name!"), "name", 2),
        (CLUSTER_YAML.replace("type: amlcompute", "type: computeinstance"), "type", 3),
        (CLUSTER_YAML.replace("type: amlcompute\n", ""), "type", 1),
        (CLUSTER_YAML.replace("amlCompute.schema", "commandJob.schema"), "$schema", 1),
        (CLUSTER_YAML.replace("name: gpu-cluster\n", ""), "name", 1),
        ("name: [oops\n", "yaml", 2),
    ],
    ids=[
        "unknown-field",
        "not-a-number",
        "min-over-max",
        "max-zero",
        "bad-name",
        "compute-instance",
        "no-type",
        "other-schema",
        "no-name",
        "malformed",
    ],
)
def test_bad_yaml_answers_400_naming_field_and_line(owner, workspace, api_client, text, field, line):
    response = api_client(owner).post(BASE, {"yaml": text}, format="json")
    assert response.status_code == 400, response.content
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == field
    assert f"line {line}" in detail["message"]
    assert not ComputeCluster.objects.exclude(name="cpu-cluster").exists()


def test_a_second_cluster_with_the_same_name_is_a_conflict(owner, workspace, api_client):
    client = api_client(owner)
    assert client.post(BASE, {"yaml": CLUSTER_YAML}, format="json").status_code == 201
    response = client.post(BASE, {"yaml": CLUSTER_YAML.replace("gpu-cluster", "GPU-cluster")}, format="json")
    assert response.status_code == 409
    assert "line 2" in response.json()["error"]["message"]


def test_show_lists_nodes_with_their_state_and_job(owner, workspace, api_client):
    cluster = workspace.compute_clusters.get(name="cpu-cluster")
    job = make_job(workspace, name="busy-job", status="Running")
    busy = ComputeNode.objects.create(cluster=cluster, name="cpu-cluster-a@host", hostname="host", state=NodeState.BUSY)
    job.node = busy
    job.save(update_fields=["node"])
    ComputeNode.objects.create(cluster=cluster, name="cpu-cluster-b@host", hostname="host", state=NodeState.IDLE)
    body = api_client(owner).get(f"{BASE}/cpu-cluster").json()
    assert [(n["node_id"], n["node_state"], n["run_id"]) for n in body["nodes"]] == [
        ("cpu-cluster-a@host", "busy", "busy-job"),
        ("cpu-cluster-b@host", "idle", None),
    ]
    assert (body["current_node_count"], body["busy_node_count"]) == (2, 1)


def test_list_takes_the_same_few_queries_for_many_nodes(owner, workspace, api_client, django_assert_max_num_queries):
    for i in range(5):
        cluster = workspace.compute_clusters.create(name=f"c-{i}")
        for j in range(3):
            ComputeNode.objects.create(cluster=cluster, name=f"c-{i}-{j}@h", hostname="h")
    client = api_client(owner)
    with django_assert_max_num_queries(8):
        assert len(client.get(BASE).json()) == 6


def test_update_changes_the_scale_settings_and_keeps_the_rest(owner, workspace, api_client):
    client = api_client(owner)
    response = client.patch(f"{BASE}/cpu-cluster", {"max_instances": 5}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["min_instances"], response.json()["max_instances"]) == (0, 5)
    response = client.patch(f"{BASE}/cpu-cluster", {"min_instances": 6}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "min_instances"
    assert workspace.compute_clusters.get(name="cpu-cluster").min_instances == 0


def test_delete_a_cluster_that_never_ran_a_job(owner, workspace, api_client):
    client = api_client(owner)
    client.post(BASE, {"yaml": CLUSTER_YAML}, format="json")
    assert client.delete(f"{BASE}/gpu-cluster").status_code == 204
    assert client.get(f"{BASE}/gpu-cluster").status_code == 404


def test_delete_a_cluster_with_a_running_job_is_refused(owner, workspace, api_client):
    make_job(workspace, name="running", status="Running")
    response = api_client(owner).delete(f"{BASE}/cpu-cluster")
    assert response.status_code == 400
    assert "cancel them first" in response.json()["error"]["message"]
    assert workspace.compute_clusters.filter(name="cpu-cluster").exists()


@pytest.mark.parametrize("role", ["reader", "data_scientist"])
def test_reader_and_data_scientist_cannot_create_update_or_delete_compute(request, workspace, api_client, role):
    client = api_client(request.getfixturevalue(role))
    assert client.get(BASE).status_code == 200
    assert client.post(BASE, {"yaml": CLUSTER_YAML}, format="json").status_code == 403
    assert client.patch(f"{BASE}/cpu-cluster", {"max_instances": 9}, format="json").status_code == 403
    assert client.delete(f"{BASE}/cpu-cluster").status_code == 403
    cluster = workspace.compute_clusters.get(name="cpu-cluster")
    assert (workspace.compute_clusters.count(), cluster.max_instances) == (1, 2)


def test_compute_operator_manages_compute(compute_operator, workspace, api_client):
    client = api_client(compute_operator)
    assert client.post(BASE, {"yaml": CLUSTER_YAML}, format="json").status_code == 201
    assert client.patch(f"{BASE}/gpu-cluster", {"max_instances": 2}, format="json").status_code == 200
    assert client.delete(f"{BASE}/gpu-cluster").status_code == 204


def test_outsider_sees_no_compute(outsider, workspace, api_client):
    client = api_client(outsider)
    assert client.get(BASE).status_code == 404
    assert client.get(f"{BASE}/cpu-cluster").status_code == 404
