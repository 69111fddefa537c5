"""Token APIs accept only JSON from the studio's own origin and host (SECURITY.md 8)."""

import json

import pytest

from accounts.models import ApiToken
from workspaces.models import Datastore, Workspace

pytestmark = pytest.mark.django_db

# (url, a JSON body that would create something)
TOKEN_APIS = [
    pytest.param("/api/v1/workspaces", {"name": "csrf-ws"}, id="workspaces"),
    pytest.param("/api/v1/tokens", {"name": "csrf-token"}, id="tokens"),
    pytest.param(
        "/api/v1/workspaces/team-ws/datastores",
        {"name": "csrf_store", "kind": "azure_blob", "account_name": "acct", "container_name": "c"},
        id="datastores",
    ),
]


def nothing_created() -> bool:
    return (
        not Workspace.objects.filter(name="csrf-ws").exists()
        and not ApiToken.objects.filter(name="csrf-token").exists()
        and not Datastore.objects.filter(name="csrf_store").exists()
    )


@pytest.mark.parametrize(("url", "body"), TOKEN_APIS)
def test_text_plain_post_is_refused_with_415(url, body, owner, workspace, api_client):
    response = api_client(owner).post(url, json.dumps(body), content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UnsupportedMediaType"
    assert nothing_created()


@pytest.mark.parametrize(("url", "body"), TOKEN_APIS)
def test_form_encoded_post_is_refused_with_415(url, body, owner, workspace, api_client):
    response = api_client(owner).post(url, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert nothing_created()


@pytest.mark.parametrize(("url", "body"), TOKEN_APIS)
def test_post_from_a_foreign_origin_is_refused_with_403(url, body, owner, workspace, api_client):
    response = api_client(owner).post(url, body, format="json", HTTP_ORIGIN="https://evil.test")
    assert response.status_code == 403
    assert "https://evil.test" in response.json()["error"]["message"]
    assert nothing_created()


@pytest.mark.parametrize(("url", "body"), TOKEN_APIS)
def test_post_from_the_studios_own_origin_goes_through(url, body, owner, workspace, api_client):
    response = api_client(owner).post(url, body, format="json", HTTP_ORIGIN="http://testserver")
    assert response.status_code == 201


@pytest.mark.parametrize(("url", "body"), TOKEN_APIS)
def test_post_to_a_foreign_host_is_refused_with_400(url, body, owner, workspace, api_client):
    response = api_client(owner).post(url, body, format="json", HTTP_HOST="evil.test")
    assert response.status_code == 400
    assert nothing_created()


def test_a_null_origin_is_foreign(owner, api_client):
    response = api_client(owner).post("/api/v1/tokens", {"name": "x"}, format="json", HTTP_ORIGIN="null")
    assert response.status_code == 403


def test_same_host_on_another_scheme_is_foreign(owner, api_client):
    response = api_client(owner).post("/api/v1/tokens", {"name": "x"}, format="json", HTTP_ORIGIN="https://testserver")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("trusted", "origin"),
    [
        ("https://studio.example.com", "https://studio.example.com"),
        ("https://*.example.com", "https://ml.example.com"),
    ],
)
def test_origins_in_csrf_trusted_origins_are_accepted(trusted, origin, owner, api_client, settings):
    settings.CSRF_TRUSTED_ORIGINS = [trusted]
    response = api_client(owner).post("/api/v1/tokens", {"name": "x"}, format="json", HTTP_ORIGIN=origin)
    assert response.status_code == 201


def test_wildcard_trusted_origin_does_not_cover_a_look_alike(owner, api_client, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com"]
    response = api_client(owner).post(
        "/api/v1/tokens", {"name": "x"}, format="json", HTTP_ORIGIN="https://evil-example.com"
    )
    assert response.status_code == 403


def test_signed_in_session_post_from_a_foreign_origin_is_refused(owner, browser_client):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(
        "/api/v1/tokens", {"name": "x"}, content_type="application/json", HTTP_ORIGIN="https://evil.test"
    )
    assert response.status_code == 403
    assert not ApiToken.objects.filter(user=owner).exists()


@pytest.mark.parametrize(
    "header",
    ["Bearer stu_not-a-real-token", "Bearer not-even-the-prefix", "Bearer", "Token a b"],
)
def test_bad_authorization_header_gets_401(header, workspace):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/workspaces")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="studio"'
    assert response.json()["error"]["code"] == "Unauthorized"


def test_token_of_a_deactivated_user_gets_401(owner, api_client):
    client = api_client(owner)
    owner.is_active = False
    owner.save()
    assert client.get("/api/v1/workspaces").status_code == 401
