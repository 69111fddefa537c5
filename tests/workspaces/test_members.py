"""Adding members, changing their role and removing them; a workspace always keeps an Owner."""

import pytest

from workspaces.models import Membership
from workspaces.roles import Role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("workspace")]

API = "/api/v1/workspaces/team-ws/members"
HTML = "/workspaces/team-ws/members"
LAST_OWNER = "A workspace must keep at least one Owner."


def role_of(username: str) -> str | None:
    membership = Membership.objects.filter(workspace__name="team-ws", user__username=username).first()
    return membership.role if membership else None


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def newcomer(make_user):
    return make_user("nina")


def test_api_adds_changes_and_removes_a_member(owner, newcomer, api_client):
    client = api_client(owner)
    added = client.post(API, {"username": "nina", "role": "reader"}, format="json")
    assert added.status_code == 201
    assert added.json()["role_display"] == "Reader"
    assert role_of("nina") == Role.READER

    changed = client.patch(f"{API}/nina", {"role": "data_scientist"}, format="json")
    assert changed.json()["role"] == "data_scientist"
    assert role_of("nina") == Role.DATA_SCIENTIST

    assert client.delete(f"{API}/nina").status_code == 204
    assert role_of("nina") is None


def test_html_adds_changes_and_removes_a_member(owner, newcomer, browser_client):
    client = browser_client(owner)
    response = client.post(f"{HTML}/", {"username": "nina", "role": "reader"}, follow=True)
    assert flash(response) == ["Added nina as Reader."]
    assert role_of("nina") == Role.READER

    response = client.post(f"{HTML}/nina/", {"role": "contributor"}, follow=True)
    assert flash(response) == ["nina is now Contributor."]
    assert role_of("nina") == Role.CONTRIBUTOR

    response = client.post(f"{HTML}/nina/", {"action": "remove"}, follow=True)
    assert flash(response) == ["Removed nina from team-ws."]
    assert role_of("nina") is None


def test_removed_member_loses_access_at_once(owner, reader, api_client, browser_client):
    reader_api = api_client(reader)
    assert reader_api.get("/api/v1/workspaces/team-ws").status_code == 200
    api_client(owner).delete(f"{API}/rita")
    assert reader_api.get("/api/v1/workspaces/team-ws").status_code == 404
    assert browser_client(reader).get("/workspaces/team-ws/").status_code == 404


def test_api_refuses_to_remove_the_last_owner(owner, api_client):
    response = api_client(owner).delete(f"{API}/olivia")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"role: {LAST_OWNER}"
    assert role_of("olivia") == Role.OWNER


@pytest.mark.parametrize("role", ["contributor", "reader"])
def test_api_refuses_to_demote_the_last_owner(role, owner, api_client):
    response = api_client(owner).patch(f"{API}/olivia", {"role": role}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"role: {LAST_OWNER}"
    assert role_of("olivia") == Role.OWNER


@pytest.mark.parametrize("post", [{"action": "remove"}, {"role": "reader"}], ids=["remove", "demote"])
def test_html_refuses_to_remove_or_demote_the_last_owner(post, owner, browser_client):
    response = browser_client(owner).post(f"{HTML}/olivia/", post, follow=True)
    assert flash(response) == [LAST_OWNER]
    assert role_of("olivia") == Role.OWNER


def test_an_owner_can_step_down_once_there_is_another(owner, contributor, api_client):
    client = api_client(owner)
    assert client.patch(f"{API}/carl", {"role": "owner"}, format="json").status_code == 200
    assert client.patch(f"{API}/olivia", {"role": "reader"}, format="json").status_code == 200
    assert role_of("olivia") == Role.READER
    assert client.patch(f"{API}/carl", {"role": "reader"}, format="json").status_code == 403


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"username": "ghost", "role": "reader"}, {400}, "username"),
        ({"username": "rita", "role": "reader"}, {400, 409}, "username"),  # 409 if it becomes a Conflict
        ({"username": "nina", "role": "superuser"}, {400}, "role"),
        ({"username": "", "role": "reader"}, {400}, "username"),
    ],
    ids=["unknown-user", "already-member", "unknown-role", "no-user"],
)
def test_bad_new_member_is_refused_naming_the_field(payload, status, field, owner, reader, newcomer, api_client):
    before = Membership.objects.count()
    response = api_client(owner).post(API, payload, format="json")
    assert response.status_code in status
    assert response.json()["error"]["message"].startswith(f"{field}: ")
    assert Membership.objects.count() == before


def test_html_form_shows_an_unknown_user_on_the_username_field(owner, browser_client):
    response = browser_client(owner).post(f"{HTML}/", {"username": "ghost", "role": "reader"})
    assert response.context["form"].errors["username"] == ["No active user named 'ghost'."]


def test_html_role_change_to_an_unknown_role_says_so(owner, reader, browser_client):
    response = browser_client(owner).post(f"{HTML}/rita/", {"role": "superuser"}, follow=True)
    assert flash(response) == ["Choose a role."]
    assert role_of("rita") == Role.READER


def test_changing_an_unknown_member_is_404(owner, newcomer, api_client, browser_client):
    assert api_client(owner).patch(f"{API}/nina", {"role": "reader"}, format="json").status_code == 404
    assert browser_client(owner).post(f"{HTML}/nina/", {"role": "reader"}).status_code == 404


def test_members_page_lists_everyone_with_their_role(owner, reader, data_scientist, browser_client):
    page = browser_client(reader).get(f"{HTML}/")
    assert [(m.user.username, m.role) for m in page.context["memberships"]] == [
        ("dana", "data_scientist"),
        ("olivia", "owner"),
        ("rita", "reader"),
    ]
    assert not page.context["can_manage"]
    assert b"Add a member" not in page.content
