"""MLflow experiment endpoints, through the client's HTTP protocol (JSON bodies, error codes)."""

import pytest

from jobs.models import Experiment, Job, LifecycleStage
from workspaces.services import workspace_create

pytestmark = pytest.mark.django_db

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/"


def post(client, path, body):
    return client.post(BASE + path, body, format="json")


@pytest.fixture
def client(api_client, owner, workspace):
    return api_client(owner)


def create(client, name, **extra):
    response = post(client, "experiments/create", {"name": name, **extra})
    assert response.status_code == 200, response.content
    return response.json()["experiment_id"]


def test_create_then_get_and_get_by_name(client, workspace):
    experiment_id = create(client, "churn", tags=[{"key": "team", "value": "ml"}])
    experiment = Experiment.objects.get(pk=int(experiment_id))
    assert experiment.workspace == workspace and experiment.tags == {"team": "ml"}

    body = client.get(BASE + "experiments/get", {"experiment_id": experiment_id}).json()["experiment"]
    assert body["name"] == "churn"
    assert body["lifecycle_stage"] == "active"
    assert body["artifact_location"] == f"mlflow-artifacts:/workspaceartifactstore/mlflow/{experiment_id}"
    assert body["tags"] == [{"key": "team", "value": "ml"}]
    assert isinstance(body["creation_time"], int)

    by_name = client.get(BASE + "experiments/get-by-name", {"experiment_name": "churn"}).json()["experiment"]
    assert by_name["experiment_id"] == experiment_id


def test_get_by_name_missing_is_404_resource_does_not_exist(client):
    response = client.get(BASE + "experiments/get-by-name", {"experiment_name": "nope"})
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_get_unknown_or_foreign_experiment_is_404(client, make_user):
    other = workspace_create(user=make_user("other-owner"), name="other-ws")
    foreign = Experiment.objects.create(workspace=other, name="secret")
    for experiment_id in ("999999", str(foreign.pk), "abc"):
        response = client.get(BASE + "experiments/get", {"experiment_id": experiment_id})
        assert response.status_code == 404, experiment_id
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_duplicate_name_is_resource_already_exists(client):
    create(client, "dup")
    response = post(client, "experiments/create", {"name": "dup"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_missing_name_is_invalid(client):
    response = post(client, "experiments/create", {})
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    "location",
    [
        "file:///etc",
        "/etc/passwd",
        "http:///#/../../etc/",
        "s3://bucket/x",
        "mlflow-artifacts:/workspaceartifactstore/../../etc",
        "mlflow-artifacts://evil.example/workspaceartifactstore/x",
        "mlflow-artifacts:/nosuchstore/x",
    ],
)
def test_artifact_location_outside_the_studio_is_refused(client, location):
    response = post(client, "experiments/create", {"name": "x", "artifact_location": location})
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not Experiment.objects.filter(name="x").exists()


def test_artifact_location_in_a_workspace_datastore_is_kept(client):
    experiment_id = create(client, "placed", artifact_location="mlflow-artifacts:/workspaceartifactstore/custom/place")
    body = client.get(BASE + "experiments/get", {"experiment_id": experiment_id}).json()["experiment"]
    assert body["artifact_location"] == "mlflow-artifacts:/workspaceartifactstore/custom/place"


def test_rename_delete_restore(client):
    experiment_id = create(client, "old")
    assert post(client, "experiments/update", {"experiment_id": experiment_id, "new_name": "new"}).status_code == 200
    assert Experiment.objects.get(pk=int(experiment_id)).name == "new"

    assert post(client, "experiments/delete", {"experiment_id": experiment_id}).status_code == 200
    assert Experiment.objects.get(pk=int(experiment_id)).lifecycle_stage == LifecycleStage.DELETED
    response = post(client, "experiments/update", {"experiment_id": experiment_id, "new_name": "newer"})
    assert response.json()["error_code"] == "INVALID_STATE"

    assert post(client, "experiments/restore", {"experiment_id": experiment_id}).status_code == 200
    assert Experiment.objects.get(pk=int(experiment_id)).lifecycle_stage == LifecycleStage.ACTIVE


def test_delete_experiment_deletes_its_runs(client):
    experiment_id = create(client, "with-runs")
    run = post(client, "runs/create", {"experiment_id": experiment_id}).json()["run"]
    post(client, "experiments/delete", {"experiment_id": experiment_id})
    assert Job.objects.get(name=run["info"]["run_id"]).lifecycle_stage == LifecycleStage.DELETED
    post(client, "experiments/restore", {"experiment_id": experiment_id})
    assert Job.objects.get(name=run["info"]["run_id"]).lifecycle_stage == LifecycleStage.ACTIVE


def test_rename_to_existing_name_is_refused(client):
    create(client, "a")
    b = create(client, "b")
    response = post(client, "experiments/update", {"experiment_id": b, "new_name": "a"})
    assert response.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_experiment_tags_set_and_delete(client):
    experiment_id = create(client, "tagged")
    post(client, "experiments/set-experiment-tag", {"experiment_id": experiment_id, "key": "k.1", "value": "v"})
    assert Experiment.objects.get(pk=int(experiment_id)).tags == {"k.1": "v"}
    assert (
        post(client, "experiments/delete-experiment-tag", {"experiment_id": experiment_id, "key": "k.1"}).status_code
        == 200
    )
    assert Experiment.objects.get(pk=int(experiment_id)).tags == {}
    response = post(client, "experiments/delete-experiment-tag", {"experiment_id": experiment_id, "key": "k.1"})
    assert response.status_code == 404


def names(response):
    assert response.status_code == 200, response.content
    return [e["name"] for e in response.json().get("experiments", [])]


def test_search_filters_orders_and_pages(client):
    for name, team in (("alpha", "a"), ("beta", "b"), ("alphabet", "a")):
        create(client, name, tags=[{"key": "team.name", "value": team}])
    assert names(post(client, "experiments/search", {"filter": "name LIKE 'alpha%'", "order_by": ["name"]})) == [
        "alpha",
        "alphabet",
    ]
    assert names(post(client, "experiments/search", {"filter": "name ILIKE 'ALPHA'"})) == ["alpha"]
    assert names(post(client, "experiments/search", {"filter": "tags.`team.name` = 'b'"})) == ["beta"]
    assert names(
        post(
            client,
            "experiments/search",
            {"filter": "name != 'beta' and tags.`team.name` = 'a'", "order_by": ["name DESC"]},
        )
    ) == ["alphabet", "alpha"]

    first = post(client, "experiments/search", {"max_results": 2, "order_by": ["name"]}).json()
    assert [e["name"] for e in first["experiments"]] == ["alpha", "alphabet"]
    second = post(
        client, "experiments/search", {"max_results": 2, "order_by": ["name"], "page_token": first["next_page_token"]}
    )
    assert names(second) == ["beta"]
    assert "next_page_token" not in second.json()


def test_search_view_type(client):
    keep, gone = create(client, "keep"), create(client, "gone")
    post(client, "experiments/delete", {"experiment_id": gone})
    assert "gone" not in names(post(client, "experiments/search", {}))
    assert names(post(client, "experiments/search", {"view_type": "DELETED_ONLY"})) == ["gone"]
    assert {"keep", "gone"} <= set(names(post(client, "experiments/search", {"view_type": "ALL"})))
    assert keep


def test_search_creation_time_filter(client):
    experiment_id = create(client, "timed")
    created = client.get(BASE + "experiments/get", {"experiment_id": experiment_id}).json()["experiment"][
        "creation_time"
    ]
    assert names(post(client, "experiments/search", {"filter": f"creation_time = {created}"})) == ["timed"]
    assert "timed" not in names(post(client, "experiments/search", {"filter": f"creation_time > {created}"}))


@pytest.mark.parametrize(
    "body",
    [
        {"max_results": 50001},
        {"max_results": 0},
        {"filter": "name = "},
        {"filter": "foo.bar = 'x'"},
        {"order_by": ["tags.x"]},
        {"page_token": "not-a-token"},
    ],
)
def test_search_bad_arguments_are_invalid(client, body):
    response = post(client, "experiments/search", body)
    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_reader_reads_but_cannot_create(api_client, reader, owner):
    create(api_client(owner), "readable")
    reader_client = api_client(reader)
    assert reader_client.get(BASE + "experiments/get-by-name", {"experiment_name": "readable"}).status_code == 200
    response = post(reader_client, "experiments/create", {"name": "mine"})
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_outsider_sees_no_workspace(api_client, outsider):
    response = api_client(outsider).get(BASE + "experiments/get-by-name", {"experiment_name": "x"})
    assert response.status_code == 404
