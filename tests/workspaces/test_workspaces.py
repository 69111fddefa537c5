"""Creating and changing workspaces through the REST API and the HTML pages, with bad input."""

import pytest

from workspaces.models import Datastore, Membership, StorageAccount, Workspace

pytestmark = pytest.mark.django_db

BAD_NAMES = [
    pytest.param("", "Enter a workspace name", id="empty"),
    pytest.param("   ", "Enter a workspace name", id="blank"),
    pytest.param("x" * 34, "At most 33 characters", id="too-long"),
    pytest.param("x" * 500, "At most 33 characters", id="far-too-long"),
    pytest.param("../etc", "letters, digits", id="path"),
    pytest.param("<b>x</b>", "letters, digits", id="markup"),
]


def counts() -> tuple[int, int, int, int]:
    return (
        Workspace.objects.count(),
        StorageAccount.objects.count(),
        Datastore.objects.count(),
        Membership.objects.count(),
    )


@pytest.mark.parametrize("name", ["team-ws", "TEAM-WS"])
def test_api_refuses_a_duplicate_workspace_name_with_409_naming_the_field(name, owner, workspace, api_client):
    before = counts()
    response = api_client(owner).post("/api/v1/workspaces", {"name": name}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "Conflict"
    assert error["message"] == f"name: A workspace named {name!r} already exists."
    assert counts() == before


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_api_refuses_a_bad_workspace_name_naming_the_field(name, message, owner, workspace, api_client):
    before = counts()
    response = api_client(owner).post("/api/v1/workspaces", {"name": name}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "UserError"
    assert error["message"].startswith("name: ")
    assert message in error["message"]
    assert [d["field"] for d in error["details"]] == ["name"]
    assert counts() == before


def test_api_refuses_a_workspace_without_a_name_field(owner, api_client):
    response = api_client(owner).post("/api/v1/workspaces", {"display_name": "No name"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("name: ")
    assert not Workspace.objects.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        *BAD_NAMES,
        pytest.param("team-ws", "already exists", id="duplicate"),
        pytest.param("TEAM-WS", "already exists", id="duplicate-other-case"),
    ],
)
def test_html_form_shows_a_bad_workspace_name_on_the_name_field(name, message, owner, workspace, browser_client):
    before = counts()
    response = browser_client(owner).post("/workspaces/", {"name": name})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["name"]
    assert message in errors["name"][0] or (len(name) > 200 and "at most 200" in errors["name"][0])
    assert b'data-field="name"' in response.content
    assert counts() == before


def test_markup_in_a_refused_name_is_shown_escaped(owner, browser_client):
    response = browser_client(owner).post("/workspaces/", {"name": "<script>alert(1)</script>"})
    assert b"<script>alert(1)" not in response.content
    assert b"&lt;script&gt;alert(1)" in response.content


def test_api_creates_a_workspace_with_its_caller_as_owner(owner, api_client):
    response = api_client(owner).post(
        "/api/v1/workspaces", {"name": "fraud-detection", "display_name": "Fraud"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["role"] == "owner"
    assert response.json()["storage_account"] == Workspace.objects.get(name="fraud-detection").storage_account.name
    assert Membership.objects.get(workspace__name="fraud-detection").user == owner


def test_html_form_creates_a_workspace_and_opens_it(owner, browser_client):
    response = browser_client(owner).post("/workspaces/", {"name": "churn", "display_name": "Churn"})
    assert response.status_code == 302
    assert response["Location"] == "/workspaces/churn/"
    assert Workspace.objects.get(name="churn").datastores.count() == 4


def test_workspace_list_shows_only_the_users_workspaces(workspace, outsider, api_client, browser_client):
    assert [w["name"] for w in api_client(outsider).get("/api/v1/workspaces").json()] == ["oscars-ws"]
    page = browser_client(outsider).get("/workspaces/").content.decode()
    assert "oscars-ws" in page
    assert "team-ws" not in page


def test_admin_sees_every_workspace(workspace, outsider, admin_user, api_client):
    names = [w["name"] for w in api_client(admin_user).get("/api/v1/workspaces").json()]
    assert names == ["oscars-ws", "team-ws"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"display_name": "x" * 101}, "display_name"), ({"description": "x" * 10_001}, "description")],
)
def test_api_refuses_oversized_settings_naming_the_field(payload, field, owner, workspace, api_client):
    response = api_client(owner).patch("/api/v1/workspaces/team-ws", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"{field}: ")
    assert Workspace.objects.get(pk=workspace.pk).display_name == "Team workspace"


def test_html_settings_form_refuses_an_oversized_display_name(owner, workspace, browser_client):
    response = browser_client(owner).post("/workspaces/team-ws/settings/", {"display_name": "x" * 150})
    assert response.status_code == 200
    assert "display_name" in response.context["form"].errors
    assert Workspace.objects.get(pk=workspace.pk).display_name == "Team workspace"


def test_workspace_name_cannot_be_changed_through_settings(owner, workspace, api_client):
    response = api_client(owner).patch("/api/v1/workspaces/team-ws", {"name": "renamed"}, format="json")
    assert response.status_code == 200
    assert Workspace.objects.filter(name="team-ws").exists()
