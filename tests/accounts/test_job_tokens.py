"""A job's MLFLOW_TRACKING_TOKEN reaches its own workspace only, and only while the job runs."""

import pytest

from accounts.services import token_create
from workspaces.services import workspace_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def job_token(owner, workspace):
    token, raw = token_create(user=owner, name="job frosty_pear_1")
    token.workspace = workspace
    token.job_name = "frosty_pear_1"
    token.save()
    return token, raw


def _client(api_client, raw):
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_job_token_reads_its_own_workspace(api_client, job_token, workspace):
    response = _client(api_client, job_token[1]).get(f"/api/v1/workspaces/{workspace.name}/datastores")
    assert response.status_code == 200


def test_job_token_cannot_reach_another_workspace_of_the_same_user(api_client, job_token, owner):
    other = workspace_create(user=owner, name="other-ws")
    response = _client(api_client, job_token[1]).get(f"/api/v1/workspaces/{other.name}/datastores")
    assert response.status_code == 404


def test_job_token_lists_only_its_workspace_and_cannot_mint_tokens(api_client, job_token, owner, workspace):
    workspace_create(user=owner, name="other-ws")
    client = _client(api_client, job_token[1])
    assert client.get("/api/v1/workspaces").status_code == 403
    assert client.post("/api/v1/tokens", {"name": "escalate"}, format="json").status_code == 403


def test_job_token_is_not_listed_among_personal_tokens(browser_client, owner, job_token):
    page = browser_client(owner).get("/accounts/tokens/")
    assert job_token[0].name not in page.content.decode()
