"""Personal API tokens: shown once, listed by hint only, revoked for good."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiToken, hash_token

pytestmark = pytest.mark.django_db


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_api_shows_a_new_token_once_and_it_works(owner, api_client):
    client = api_client(owner)
    created = client.post("/api/v1/tokens", {"name": "laptop"}, format="json")
    assert created.status_code == 201
    raw = created.json()["token"]
    assert raw.startswith("stu_")
    assert created.json()["hint"] == raw[:10]

    listing = client.get("/api/v1/tokens")
    assert raw not in listing.content.decode()
    assert "token" not in listing.json()[0]
    assert {t["name"] for t in listing.json()} == {"test", "laptop"}

    me = bearer(raw).get("/api/v1/workspaces")
    assert me.status_code == 200


def test_only_the_hash_of_a_token_is_stored(owner, api_client):
    raw = api_client(owner).post("/api/v1/tokens", {"name": "laptop"}, format="json").json()["token"]
    token = ApiToken.objects.get(name="laptop")
    assert token.key_hash == hash_token(raw)
    assert raw not in {token.key_hash, token.hint, token.name}


def test_html_page_shows_a_new_token_once(owner, browser_client):
    client = browser_client(owner)
    response = client.post("/accounts/tokens/", {"name": "notebook"})
    assert response.status_code == 200
    raw = response.context["new_token"]
    assert raw.startswith("stu_")
    assert raw in response.content.decode()

    again = client.get("/accounts/tokens/").content.decode()
    assert raw not in again
    assert "notebook" in again
    assert raw[:10] in again

    assert bearer(raw).get("/api/v1/workspaces").status_code == 200


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_token_needs_a_sensible_name(name, owner, api_client, browser_client):
    response = api_client(owner).post("/api/v1/tokens", {"name": name}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("name: ")
    page = browser_client(owner).post("/accounts/tokens/", {"name": name})
    assert "name" in page.context["form"].errors
    assert page.context["new_token"] is None
    assert not ApiToken.objects.exclude(name="test").exists()


def test_api_revoked_token_gets_401_afterwards(owner, api_client):
    client = api_client(owner)
    created = client.post("/api/v1/tokens", {"name": "ci"}, format="json").json()
    assert bearer(created["token"]).get("/api/v1/workspaces").status_code == 200

    assert client.delete(f"/api/v1/tokens/{created['id']}").status_code == 204

    assert bearer(created["token"]).get("/api/v1/workspaces").status_code == 401
    assert client.get("/api/v1/workspaces").status_code == 200  # the other token still works
    listed = {t["name"]: t for t in client.get("/api/v1/tokens").json()}
    assert listed["ci"]["revoked_at"] is not None


def test_a_token_can_revoke_itself(owner, api_client):
    client = api_client(owner)
    token = ApiToken.objects.get(user=owner)
    assert client.delete(f"/api/v1/tokens/{token.pk}").status_code == 204
    assert client.get("/api/v1/workspaces").status_code == 401


def test_html_revoked_token_gets_401_afterwards(owner, browser_client):
    client = browser_client(owner)
    raw = client.post("/accounts/tokens/", {"name": "ci"}).context["new_token"]
    token = ApiToken.objects.get(name="ci")

    response = client.post(f"/accounts/tokens/{token.pk}/revoke")
    assert response.status_code == 302
    assert bearer(raw).get("/api/v1/workspaces").status_code == 401


def test_nobody_can_revoke_someone_elses_token(owner, reader, api_client, browser_client):
    raw = api_client(owner).post("/api/v1/tokens", {"name": "mine"}, format="json").json()["token"]
    token = ApiToken.objects.get(name="mine")
    assert api_client(reader).delete(f"/api/v1/tokens/{token.pk}").status_code == 404
    assert browser_client(reader).post(f"/accounts/tokens/{token.pk}/revoke").status_code == 404
    assert bearer(raw).get("/api/v1/workspaces").status_code == 200


def test_token_list_shows_only_ones_own_tokens(owner, reader, api_client):
    api_client(owner)
    assert [t["name"] for t in api_client(reader).get("/api/v1/tokens").json()] == ["test"]
    assert ApiToken.objects.count() == 2


def test_api_token_command_prints_a_working_token(owner, capsys):
    call_command("api_token", "olivia")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("stu_")
    assert ApiToken.objects.get(user=owner).name == "command line"
    assert bearer(raw).get("/api/v1/workspaces").status_code == 200


def test_api_token_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No active user named 'ghost'"):
        call_command("api_token", "ghost")
