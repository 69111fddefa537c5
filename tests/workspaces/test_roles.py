"""What each built-in role may do in a workspace, through the REST API and the HTML views
(SECURITY.md 9).

Each action is done once through each interface by each role: an allowed role sees it happen, a
denied role gets 403 and nothing changes. Compute and jobs have only REST routes so far.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from compute.models import ComputeCluster
from compute.services import cluster_create
from jobs.models import Job
from workspaces.models import Datastore, Membership, Workspace
from workspaces.roles import Role
from workspaces.storage import datastore_storage

pytestmark = pytest.mark.django_db

WS = "/workspaces/team-ws"
API = "/api/v1/workspaces/team-ws"
ROLES = ["owner", "contributor", "data_scientist", "compute_operator", "reader"]


@pytest.fixture
def target(make_user, workspace):
    """A Reader whose role the actors try to change."""
    user = make_user("tess")
    Membership.objects.create(workspace=workspace, user=user, role=Role.READER)
    return user


@pytest.fixture
def newcomer(make_user):
    return make_user("nina")


@pytest.fixture
def cluster(owner, workspace):
    return cluster_create(workspace=workspace, user=owner, name="old-cluster", min_instances=0, max_instances=1)


def _blobstore(workspace):
    return datastore_storage(workspace.datastores.get(name="workspaceblobstore"))


def _file(name="data.csv"):
    return SimpleUploadedFile(name, b"a,b\n1,2\n", content_type="text/csv")


@dataclass
class Action:
    allowed: set[str]
    api: Callable  # (client) -> response
    html: Callable | None  # (client) -> response; None where there is no HTML route yet
    happened: Callable  # (workspace) -> bool
    needs: tuple[str, ...] = ()


ACTIONS = {
    "upload data": Action(
        allowed={"owner", "contributor", "data_scientist"},
        api=lambda c: c.post(f"{API}/datastores/workspaceblobstore/files", {"files": [_file()]}, format="multipart"),
        html=lambda c: c.post(f"{WS}/datastores/workspaceblobstore/upload", {"files": [_file()]}),
        happened=lambda ws: _blobstore(ws).exists("data.csv"),
    ),
    "register a datastore": Action(
        allowed={"owner", "contributor", "data_scientist"},
        api=lambda c: c.post(
            f"{API}/datastores",
            {"name": "lake", "kind": "azure_blob", "account_name": "acct", "container_name": "raw"},
            format="json",
        ),
        html=lambda c: c.post(
            f"{WS}/datastores/new/",
            {"name": "lake", "kind": "azure_blob", "account_name": "acct", "container_name": "raw"},
        ),
        happened=lambda ws: Datastore.objects.filter(workspace=ws, name="lake").exists(),
    ),
    "add a member": Action(
        allowed={"owner"},
        api=lambda c: c.post(f"{API}/members", {"username": "nina", "role": "reader"}, format="json"),
        html=lambda c: c.post(f"{WS}/members/", {"username": "nina", "role": "reader"}),
        happened=lambda ws: Membership.objects.filter(workspace=ws, user__username="nina").exists(),
        needs=("newcomer",),
    ),
    "change a member's role": Action(
        allowed={"owner"},
        api=lambda c: c.patch(f"{API}/members/tess", {"role": "contributor"}, format="json"),
        html=lambda c: c.post(f"{WS}/members/tess/", {"role": "contributor"}),
        happened=lambda ws: Membership.objects.get(workspace=ws, user__username="tess").role == Role.CONTRIBUTOR,
        needs=("target",),
    ),
    "remove a member": Action(
        allowed={"owner"},
        api=lambda c: c.delete(f"{API}/members/tess"),
        html=lambda c: c.post(f"{WS}/members/tess/", {"action": "remove"}),
        happened=lambda ws: not Membership.objects.filter(workspace=ws, user__username="tess").exists(),
        needs=("target",),
    ),
    "change workspace settings": Action(
        allowed={"owner", "contributor"},
        api=lambda c: c.patch(API, {"display_name": "Renamed"}, format="json"),
        html=lambda c: c.post(f"{WS}/settings/", {"display_name": "Renamed", "description": ""}),
        happened=lambda ws: Workspace.objects.get(pk=ws.pk).display_name == "Renamed",
    ),
    "create compute": Action(
        allowed={"owner", "contributor", "compute_operator"},
        api=lambda c: c.post(f"{API}/computes", {"name": "new-cluster", "max_instances": 1}, format="json"),
        html=None,
        happened=lambda ws: ComputeCluster.objects.filter(workspace=ws, name="new-cluster").exists(),
    ),
    "delete compute": Action(
        allowed={"owner", "contributor", "compute_operator"},
        api=lambda c: c.delete(f"{API}/computes/old-cluster"),
        html=None,
        happened=lambda ws: not ComputeCluster.objects.filter(workspace=ws, name="old-cluster").exists(),
        needs=("cluster",),
    ),
}

READ_DATASTORES = {
    "api": f"{API}/datastores",
    "html": f"{WS}/datastores/",
}


def _matrix():
    for action_name, action in ACTIONS.items():
        for role in ROLES:
            for via in ("api", "html") if action.html else ("api",):
                verdict = "can" if role in action.allowed else "cannot"
                yield pytest.param(action_name, role, via, id=f"{role} {verdict} {action_name} via {via}")


@pytest.mark.parametrize(("action_name", "role", "via"), list(_matrix()))
def test_role_matrix(action_name, role, via, request, workspace, api_client, browser_client):
    action = ACTIONS[action_name]
    for fixture in action.needs:
        request.getfixturevalue(fixture)
    user = request.getfixturevalue(role)
    client = api_client(user) if via == "api" else browser_client(user)

    response = getattr(action, via)(client)

    if role in action.allowed:
        assert response.status_code < 400, response.content[:500]
        assert action.happened(workspace)
    else:
        assert response.status_code == 403, response.content[:500]
        assert not action.happened(workspace)


@pytest.mark.parametrize("via", ["api", "html"])
@pytest.mark.parametrize("role", ROLES)
def test_who_can_browse_datastores(role, via, request, workspace, api_client, browser_client):
    user = request.getfixturevalue(role)
    client = api_client(user) if via == "api" else browser_client(user)
    status = client.get(READ_DATASTORES[via]).status_code
    assert status == (403 if role == "compute_operator" else 200)


def test_compute_operator_cannot_download_data(compute_operator, workspace, api_client):
    _blobstore(workspace).save("secret.csv", _file())
    response = api_client(compute_operator).get(
        f"{API}/datastores/workspaceblobstore/files/content", {"path": "secret.csv"}
    )
    assert response.status_code == 403


def test_denied_api_call_says_which_role_is_missing_what(reader, api_client):
    response = api_client(reader).post(f"{API}/members", {"username": "nina", "role": "owner"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "AuthorizationFailed",
        "message": "Your role (Reader) in team-ws does not allow this.",
    }


def test_reader_cannot_make_themself_owner(reader, api_client):
    response = api_client(reader).patch(f"{API}/members/rita", {"role": "owner"}, format="json")
    assert response.status_code == 403
    assert Membership.objects.get(user=reader).role == Role.READER


def test_reader_cannot_create_a_token_for_someone_else(reader, owner, api_client):
    """Tokens are personal: there is no way to name another user, an extra field is ignored."""
    created = api_client(reader).post("/api/v1/tokens", {"name": "for olivia", "user": "olivia"}, format="json")
    assert created.status_code == 201
    assert not owner.api_tokens.filter(name="for olivia").exists()
    assert reader.api_tokens.filter(name="for olivia").exists()


def test_reader_cannot_create_users(reader, api_client):
    response = api_client(reader).post("/api/v1/users", {"username": "mallory", "password": "x" * 20}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["compute_operator", "reader"])
def test_role_without_data_write_cannot_submit_a_job(role, request, workspace, api_client):
    spec = "command: echo hi\nenvironment: azureml:AzureML-sklearn-1.5@latest\ncompute: azureml:cpu-cluster\n"
    response = api_client(request.getfixturevalue(role)).post(f"{API}/jobs", {"spec": spec}, format="json")
    assert response.status_code == 403
    assert not Job.objects.exists()
