"""One lifecycle for the four asset kinds (assets/versioning.py): archive and restore a version or a
whole asset, the same route shape for each kind, curated environments left alone, search."""

import pytest
from django.urls import reverse

from assets.data import selectors as data_selectors
from assets.data.services import DataAssetSpec, data_asset_create
from assets.environments.services import environment_create
from assets.models import DataAsset, Environment
from assets.versioning import asset_set_archived_all

from .data_support import CSV, _fast_password_hashing, put_file  # noqa: F401

pytestmark = pytest.mark.django_db

API = "/api/v1/workspaces/team-ws"
KINDS = [("data", "data"), ("model", "models"), ("component", "components"), ("environment", "environments")]


def data(workspace, owner, name="iris", **fields):
    put_file(workspace, "a.csv", CSV)
    spec = DataAssetSpec(name=name, type="uri_file", path="a.csv", **fields)
    return data_asset_create(workspace=workspace, user=owner, spec=spec)


@pytest.mark.parametrize(("url_name", "prefix"), KINDS)
def test_every_kind_has_the_same_archive_routes(url_name, prefix):
    ws = ["team-ws"]
    assert reverse(f"{url_name}_archive", args=[*ws, "n", "1"]).endswith("/n/1/archive")
    assert reverse(f"{url_name}_restore", args=[*ws, "n", "1"]).endswith("/n/1/restore")
    assert reverse(f"api_{url_name}_archive", args=[*ws, "n", "1"]) == f"{API}/{prefix}/n/versions/1/archive"
    assert reverse(f"api_{url_name}_restore", args=[*ws, "n", "1"]) == f"{API}/{prefix}/n/versions/1/restore"
    assert reverse(f"api_{url_name}_archive_all", args=[*ws, "n"]) == f"{API}/{prefix}/n/archive"
    assert reverse(f"api_{url_name}_restore_all", args=[*ws, "n"]) == f"{API}/{prefix}/n/restore"


def test_archiving_a_whole_asset_archives_every_version_and_restoring_brings_them_back(workspace, owner, api_client):
    data(workspace, owner), data(workspace, owner), data(workspace, owner, name="other")
    client = api_client(owner)
    response = client.post(f"{API}/data/iris/archive")
    assert response.status_code == 200, response.content
    assert [(v["version"], v["is_archived"]) for v in response.json()] == [("2", True), ("1", True)]
    assert [a["name"] for a in client.get(f"{API}/data").json()] == ["other"]
    assert client.get(f"{API}/data/iris").status_code == 404  # no @latest
    assert client.get(f"{API}/data/iris/versions/1").status_code == 200  # still usable by version
    response = client.post(f"{API}/data/iris/restore")
    assert [v["is_archived"] for v in response.json()] == [False, False]
    assert not DataAsset.objects.filter(is_archived=True).exists()


def test_whole_asset_archive_of_an_unknown_name_is_404_and_readers_cannot(workspace, owner, reader, api_client):
    data(workspace, owner)
    assert api_client(owner).post(f"{API}/models/nope/archive").status_code == 404
    assert api_client(reader).post(f"{API}/data/iris/archive").status_code == 403
    assert api_client(reader).post(f"{API}/data/iris/versions/1/archive").status_code == 403
    assert not DataAsset.objects.get().is_archived


def test_curated_environments_cannot_be_archived_through_the_api_or_the_page(
    workspace, owner, api_client, browser_client
):
    response = api_client(owner).post(f"{API}/environments/AzureML-minimal-py311/versions/1/archive")
    assert response.status_code == 400
    assert "Curated" in response.json()["error"]["message"]
    page = browser_client(owner).post("/workspaces/team-ws/environments/AzureML-minimal-py311/1/archive", follow=True)
    assert "cannot be changed" in page.content.decode()
    assert not Environment.objects.filter(is_curated=True, is_archived=True).exists()


def test_whole_asset_archive_leaves_other_workspaces_and_curated_versions_alone(workspace, owner):
    environment_create(workspace=workspace, user=owner, name="six-env", pip_requirements="six\n")
    assert (
        asset_set_archived_all(model=Environment, workspace=workspace, name="AzureML-minimal-py311", archived=True)
        == []
    )
    versions = asset_set_archived_all(model=Environment, workspace=workspace, name="six-env", archived=True)
    assert [(v.name, v.is_archived) for v in versions] == [("six-env", True)]


def test_data_search_matches_name_description_and_tags(workspace, owner):
    data(workspace, owner, name="iris", description="Fisher's flowers", tags={"source": "uci"})
    data(workspace, owner, name="titanic", tags={"team": "kaggle"})

    def names(search):
        rows = data_selectors.data_asset_names(workspace=workspace, search=search)
        return [row["asset"].name for row in rows]

    assert names("IRI") == ["iris"]
    assert names("flowers") == ["iris"]
    assert names("kaggle") == ["titanic"]
    assert names("team") == ["titanic"]
    assert names("") == ["iris", "titanic"]
