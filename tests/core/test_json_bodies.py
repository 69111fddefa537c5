"""JSON nested a thousand levels deep, to the REST API: a 400 saying so, never a 500 (SECURITY.md 23)."""

import base64
import json

import pytest

from core.json_bodies import MAX_DEPTH, loads, nested_too_deep

pytestmark = pytest.mark.django_db

DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(
    "url",
    ["/api/v1/workspaces", "/api/v1/tokens", "/api/v1/workspaces/team-ws/jobs", "/api/v1/workspaces/team-ws/models"],
)
def test_json_nested_1000_deep_to_the_api_is_a_400_saying_so(owner, workspace, api_client, url, deep):
    """SECURITY 23"""
    response = api_client(owner).post(url, '{"name": ' + deep + "}", content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["message"] == f"The request body is nested more than {MAX_DEPTH} levels deep."


@pytest.mark.parametrize("tags", [DEEP_OBJECT, "not json"], ids=["deep", "not-json"])
def test_json_text_of_tags_nested_1000_deep_or_broken_in_a_form_is_a_400(owner, workspace, api_client, tags):
    """SECURITY 23: tags given as JSON text in a multipart form."""
    response = api_client(owner).post(
        "/api/v1/workspaces/team-ws/models", {"name": "m", "tags": tags}, format="multipart"
    )
    assert response.status_code == 400, response.content[:300]
    detail = response.json()["error"]["details"][0]
    assert detail == {"field": "tags", "message": 'Give a JSON object, e.g. {"team": "risk"}.'}


def test_a_list_cursor_nested_1000_deep_is_a_400_naming_the_cursor(owner, workspace, api_client):
    """SECURITY 23: a forged `cursor` of the jobs list."""
    cursor = base64.urlsafe_b64encode(DEEP_ARRAY.encode()).decode()
    response = api_client(owner).get("/api/v1/workspaces/team-ws/jobs", {"cursor": cursor})
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["details"][0]["field"] == "cursor"


def test_depth_is_counted_in_levels_of_objects_and_lists():
    assert not nested_too_deep(loads("[" * MAX_DEPTH + "]" * MAX_DEPTH))
    assert nested_too_deep(json.loads('{"a": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}"))
    assert not nested_too_deep({"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})
