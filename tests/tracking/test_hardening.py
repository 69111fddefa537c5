"""Bad input that must be answered with a clear 400, not a stalled process or a 500 (SECURITY.md 23),
and credentials that stop working as soon as they change."""

import base64
import json

import pytest

from jobs.models import Experiment, Job

pytestmark = pytest.mark.django_db

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/"
ARTIFACTS = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow-artifacts/artifacts/"


@pytest.fixture
def client(api_client, owner, workspace):
    return api_client(owner)


def _post(client, path, body):
    return client.post(BASE + path, json.dumps(body), content_type="application/json")


def _error(response, status=400, code="INVALID_PARAMETER_VALUE") -> str:
    assert response.status_code == status, response.content[:500]
    assert response.json()["error_code"] == code
    return response.json()["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("runs/search", {"experiment_ids": ["0"], "filter": "params.p LIKE '%a%a%a%b'"}),
        ("runs/search", {"experiment_ids": ["0"], "filter": "tags.t ILIKE '%a%%%b%c'"}),
        ("experiments/search", {"filter": "name LIKE '%a%b%c%'"}),
        ("logged-models/search", {"experiment_ids": ["0"], "filter": "name LIKE '%a%b%c'"}),
    ],
)
def test_like_patterns_with_many_wildcards_are_refused(client, path, body):
    assert "'%' more than 2 times" in _error(_post(client, path, body))


def test_registry_search_refuses_many_wildcards_and_a_long_filter(client):
    url = BASE + "registered-models/search"
    assert "'%' more than 2 times" in _error(client.get(url, {"filter": "name LIKE '%a%a%a%b'"}))
    assert "at most" in _error(client.get(url, {"filter": "name = '" + "x" * 5000 + "'"}))


def test_like_with_two_wildcards_still_matches(client, workspace):
    experiment = Experiment.objects.create(workspace=workspace, name="like-exp")
    Job.objects.create(workspace=workspace, experiment=experiment, name="r1", type="run", params={"p": "xaby"})
    body = {"experiment_ids": [str(experiment.pk)], "filter": "params.p LIKE '%ab%'"}
    response = _post(client, "runs/search", body)
    assert response.status_code == 200
    assert [run["info"]["run_id"] for run in response.json()["runs"]] == ["r1"]


@pytest.mark.parametrize("path", ["registered-models/search", "model-versions/search"])
@pytest.mark.parametrize("value", ["1e999", "-1e999"])
def test_registry_max_results_out_of_range_is_a_400(client, path, value):
    """JSON's 1e999 is infinity once parsed: no whole number of results."""
    response = client.post(BASE + path, '{"max_results": ' + value + "}", content_type="application/json")
    _error(response)


def test_artifact_with_an_overlong_name_is_a_400(client):
    response = client.put(
        ARTIFACTS + "workspaceartifactstore/mlflow/" + "a" * 300, b"data", content_type="application/octet-stream"
    )
    assert "too long" in _error(response)


def test_basic_auth_stops_working_when_the_password_changes(client, owner):
    owner.set_password("first-pass-1")
    owner.save()
    from rest_framework.test import APIClient

    basic = APIClient()

    def call(password):
        token = base64.b64encode(f"{owner.username}:{password}".encode()).decode()
        return basic.get(
            BASE + "experiments/get-by-name", {"experiment_name": "nope"}, HTTP_AUTHORIZATION=f"Basic {token}"
        )

    assert call("first-pass-1").status_code == 404  # signed in: the experiment does not exist
    owner.set_password("second-pass-2")
    owner.save()
    assert call("first-pass-1").status_code == 401
    assert call("second-pass-2").status_code == 404
