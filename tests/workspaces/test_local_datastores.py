"""Local datastores: only studio administrators register them, and no two workspaces share a folder
(SECURITY.md 35). Through the REST API (the CLI's path too) and the HTML form."""

import pytest

from workspaces.models import Datastore, Membership
from workspaces.roles import Role

pytestmark = pytest.mark.django_db

API = "/api/v1/workspaces/{ws}/datastores"
HTML = "/workspaces/{ws}/datastores/new/"


def local(name: str, root) -> dict:
    return {"name": name, "kind": "local", "root": str(root)}


def test_api_refuses_a_local_datastore_from_a_non_administrator(owner, workspace, api_client, tmp_path):
    """SECURITY 35"""
    response = api_client(owner).post(
        API.format(ws="team-ws"), local("disk", tmp_path / "shared" / "disk"), format="json"
    )
    assert response.status_code == 403
    assert "Only studio administrators" in response.json()["error"]["message"]
    assert not Datastore.objects.filter(name="disk").exists()
    assert not (tmp_path / "shared" / "disk").exists()


def test_html_form_refuses_a_local_datastore_from_a_non_administrator(owner, workspace, browser_client, tmp_path):
    """SECURITY 35"""
    response = browser_client(owner).post(HTML.format(ws="team-ws"), local("disk", tmp_path / "shared" / "disk"))
    assert response.status_code == 403
    assert "Only studio administrators" in response.context["form"].errors["kind"][0]
    assert not Datastore.objects.filter(name="disk").exists()


def test_an_administrator_registers_a_local_datastore_through_the_form(admin_owner, browser_client, tmp_path):
    """SECURITY 35"""
    response = browser_client(admin_owner).post(HTML.format(ws="team-ws"), local("disk", tmp_path / "shared" / "disk"))
    assert response.status_code == 302
    assert Datastore.objects.get(name="disk").root == str(tmp_path / "shared" / "disk")


@pytest.fixture
def admin_in_two_workspaces(admin_owner, outsider, api_client, tmp_path):
    """An administrator owning team-ws and oscars-ws; team-ws has a local datastore at shared/team."""
    Membership.objects.create(workspace_id=outsider.memberships.get().workspace_id, user=admin_owner, role=Role.OWNER)
    response = api_client(admin_owner).post(
        API.format(ws="team-ws"), local("team", tmp_path / "shared" / "team"), format="json"
    )
    assert response.status_code == 201
    (tmp_path / "shared" / "link-to-team").symlink_to(tmp_path / "shared" / "team")
    return api_client(admin_owner)


@pytest.mark.parametrize(
    "root",
    [
        pytest.param("team", id="the-same-folder"),
        pytest.param("team/sub", id="inside-it"),
        pytest.param("", id="holding-it"),
        pytest.param("link-to-team", id="the-same-folder-through-a-link"),
        pytest.param("link-to-team/sub", id="inside-it-through-a-link"),
        pytest.param("team/../team", id="the-same-folder-spelled-otherwise"),
    ],
)
def test_a_local_folder_overlapping_another_workspaces_datastore_is_refused(root, admin_in_two_workspaces, tmp_path):
    """SECURITY 35"""
    response = admin_in_two_workspaces.post(
        API.format(ws="oscars-ws"), local("overlap", tmp_path / "shared" / root), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("root: ")
    assert not Datastore.objects.filter(name="overlap").exists()
    assert not (tmp_path / "shared" / "team" / "sub").exists()


def test_a_folder_beside_another_workspaces_datastore_is_accepted(admin_in_two_workspaces, tmp_path):
    """SECURITY 35: a sibling whose name starts with the other folder's is not inside it."""
    response = admin_in_two_workspaces.post(
        API.format(ws="oscars-ws"), local("beside", tmp_path / "shared" / "team2"), format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "root",
    [
        pytest.param(".", id="the-data-directory"),
        pytest.param("storage", id="the-workspaces-storage"),
        pytest.param("storage/some-account", id="a-storage-account"),
        pytest.param("..", id="a-folder-holding-the-data-directory"),
    ],
)
def test_a_local_folder_overlapping_the_studios_data_directory_is_refused(
    root, settings, admin_owner, api_client, tmp_path
):
    """SECURITY 35: even where the allowed roots would let it."""
    settings.STUDIO_LOCAL_DATASTORE_ROOTS = [tmp_path.parent]
    response = api_client(admin_owner).post(
        API.format(ws="team-ws"), local("studio", (tmp_path / root).resolve()), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("root: ")
    assert not Datastore.objects.filter(name="studio").exists()
