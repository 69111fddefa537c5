"""The Data pages: list with the archived toggle, the create wizard's server-side sources, the
detail tabs (Overview, Explore, Profile, Files) as full pages and as htmx fragments."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.data import services
from assets.data.services import DataAssetSpec
from assets.models import DataAsset
from assets.versioning import asset_set_archived

from .data_support import CSV, _fast_password_hashing, put_file  # noqa: F401

pytestmark = pytest.mark.django_db
BASE = "/workspaces/team-ws/data/"


@pytest.fixture
def iris(workspace, owner):
    put_file(workspace, "raw/iris.csv", CSV)
    return services.data_asset_create(
        workspace=workspace,
        user=owner,
        spec=DataAssetSpec(
            name="iris",
            type="uri_file",
            path="raw/iris.csv",
            description="# Iris\n<script>x()</script>",
            tags={"src": "uci"},
        ),
    )


@pytest.fixture
def browser(owner, workspace, browser_client):
    return browser_client(owner)


def test_list_shows_one_row_per_name_with_its_latest_version(browser, iris, workspace, owner):
    services.data_asset_create(
        workspace=workspace, user=owner, spec=DataAssetSpec(name="iris", type="uri_file", path="raw/iris.csv")
    )
    page = browser.get(BASE).content.decode()
    assert page.count('href="/workspaces/team-ws/data/iris/2/"') == 1
    assert "(2 versions)" in page and 'data-testid="create-data"' in page


def test_list_search_keeps_the_query_in_the_url_and_htmx_gets_only_the_rows(browser, iris, workspace, owner):
    services.data_asset_create(
        workspace=workspace,
        user=owner,
        spec=DataAssetSpec(name="titanic", type="uri_file", path="raw/iris.csv", tags={"team": "kaggle"}),
    )
    page = browser.get(BASE, {"search": "kaggle"}).content.decode()
    assert "titanic" in page and "/data/iris/1/" not in page
    assert 'name="search" value="kaggle"' in page and 'hx-push-url="true"' in page
    assert "search=kaggle&amp;archived=1" in page  # the archived toggle keeps the search
    rows = browser.get(BASE, {"search": "uci"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="data-rows").content.decode()
    assert rows.lstrip().startswith('<div id="data-rows">')
    assert "/data/iris/1/" in rows and "titanic" not in rows and "<html" not in rows
    none = browser.get(BASE, {"search": "nothing"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="data-rows")
    assert "No data assets match" in none.content.decode()


def test_list_queries_do_not_grow_with_the_number_of_assets(browser, workspace, owner, django_assert_max_num_queries):
    put_file(workspace, "a.csv", CSV)
    for i in range(15):
        services.data_asset_create(
            workspace=workspace, user=owner, spec=DataAssetSpec(name=f"d{i}", type="uri_file", path="a.csv")
        )
    with django_assert_max_num_queries(12):
        assert browser.get(BASE).status_code == 200


def test_archived_assets_are_hidden_until_the_toggle_and_the_toggle_is_a_fragment(browser, iris):
    asset_set_archived(asset=iris, archived=True)
    assert "iris" not in browser.get(BASE).content.decode().split('id="data-assets"')[1]
    fragment = browser.get(BASE + "?archived=1", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<section class="card data-assets"')
    assert "<html" not in fragment and "Archived" in fragment


def test_reader_sees_no_create_button_and_cannot_open_the_wizard(reader, browser_client, iris):
    client = browser_client(reader)
    assert 'data-testid="create-data"' not in client.get(BASE).content.decode()
    assert client.get(BASE + "create/").status_code == 403
    assert client.post(BASE + "create/?source=datastore", {"name": "x"}).status_code == 403


def test_reader_cannot_archive_edit_or_delete_through_the_pages(reader, browser_client, iris):
    client = browser_client(reader)
    for action in ("archive", "edit", "delete"):
        assert client.post(f"{BASE}iris/1/{action}", {"description": "x"}).status_code == 403
    iris.refresh_from_db()
    assert (iris.is_archived, iris.description.startswith("# Iris")) == (False, True)
    page = client.get(f"{BASE}iris/1/").content.decode()
    assert "Archive" not in page and "Delete" not in page


def test_wizard_from_a_datastore_path(browser, workspace):
    put_file(workspace, "raw/a.csv", CSV)
    response = browser.post(
        BASE + "create/?source=datastore",
        {"name": "a", "type": "uri_file", "datastore": "workspaceblobstore", "path": "raw/a.csv", "tags": "k=v\nx: y"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}a/1/"
    assert DataAsset.objects.get().tags == {"k": "v", "x": "y"}


def test_wizard_errors_are_shown_on_the_field_they_name(browser, workspace):
    response = browser.post(
        BASE + "create/?source=datastore",
        {"name": "a", "type": "uri_file", "datastore": "workspaceblobstore", "path": "../../etc/passwd"},
    )
    assert response.status_code == 200
    assert 'data-field="path"' in response.content.decode()
    assert not DataAsset.objects.exists()


def test_wizard_duplicate_version_is_shown_on_version(browser, iris):
    response = browser.post(
        BASE + "create/?source=uri",
        {
            "name": "iris",
            "version": "1",
            "type": "uri_file",
            "path": "azureml://datastores/workspaceblobstore/paths/raw/iris.csv",
        },
    )
    assert 'data-field="version"' in response.content.decode()
    assert "iris:1 already exists" in response.content.decode()


def test_wizard_from_a_yaml_file_shows_errors_with_their_line(browser, workspace):
    bad = SimpleUploadedFile("data.yml", b"name: a\ntype: uri_file\npath: azureml://datastores/nope/paths/a.csv\n")
    page = browser.post(BASE + "create/?source=yaml", {"yaml_file": bad}).content.decode()
    assert "No datastore named &#x27;nope&#x27;" in page and "(line 3)" in page
    put_file(workspace, "a.csv", CSV)
    good = b"name: a\ntype: uri_file\npath: azureml://datastores/workspaceblobstore/paths/a.csv\n"
    response = browser.post(BASE + "create/?source=yaml", {"yaml": good.decode()})
    assert response.status_code == 302


def test_the_local_source_page_carries_the_chunked_uploader(browser):
    page = browser.get(BASE + "create/").content.decode()
    assert (
        "data-chunked-upload" in page
        and "js/data-upload.js" in page
        and 'data-api="/api/v1/workspaces/team-ws/data"' in page
    )


def test_overview_shows_uri_markdown_sanitized_and_the_job_yaml(browser, iris):
    page = browser.get(f"{BASE}iris/1/").content.decode()
    assert "azureml://datastores/workspaceblobstore/paths/raw/iris.csv" in page
    assert "<h1>Iris</h1>" in page and "<script>x()" not in page
    assert "inputs:\n  my_data:\n    type: uri_file\n    path: azureml:iris:1\n" in page
    assert 'aria-selected="true" data-testid="tab-overview"' in page


def test_latest_redirects_to_the_newest_version(browser, iris):
    assert browser.get(f"{BASE}iris/")["Location"] == f"{BASE}iris/1/"
    assert browser.get(f"{BASE}nope/").status_code == 404


def test_explore_tab_shows_the_rows_and_as_htmx_only_the_panel(browser, iris):
    page = browser.get(f"{BASE}iris/1/explore/").content.decode()
    assert 'data-testid="explore-table"' in page and "versicolor" in page and "<html" in page
    assert "<td>7.0</td>" in page and "<td>3.0</td>" in page  # as written in the CSV, not 7 and 3
    fragment = browser.get(
        f"{BASE}iris/1/explore/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="tab-panel"
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="tab-panel">')
    assert "<html" not in fragment and "versicolor" in fragment


def test_profile_tab_shows_statistics_and_says_how_many_rows(browser, iris):
    page = browser.get(f"{BASE}iris/1/profile/").content.decode()
    assert 'data-testid="profile-table"' in page
    assert "over the first 4 rows (at most 10,000)" in page
    assert "Decimal" in page and "String" in page
    # id, species: none missing; length, width: 1 of 4
    assert re.findall(r'data-testid="missing-percent">([^<]+)<', page) == ["0.0%", "0.0%", "25.0%", "25.0%"]


def test_files_tab_lists_the_files_with_downloads(browser, iris):
    page = browser.get(f"{BASE}iris/1/files/").content.decode()
    assert "iris.csv" in page and f"{BASE}iris/1/download" in page
    download = browser.get(f"{BASE}iris/1/download")
    assert download["Content-Disposition"].startswith("attachment") and b"".join(download.streaming_content) == CSV


def test_edit_archive_restore_and_delete_through_the_pages(browser, iris):
    browser.post(f"{BASE}iris/1/edit", {"description": "**new**", "tags": "a=b"})
    iris.refresh_from_db()
    assert (iris.description, iris.tags) == ("**new**", {"a": "b"})
    browser.post(f"{BASE}iris/1/archive")
    iris.refresh_from_db()
    assert iris.is_archived
    assert 'data-testid="archived"' in browser.get(f"{BASE}iris/1/").content.decode()
    browser.post(f"{BASE}iris/1/restore")
    iris.refresh_from_db()
    assert not iris.is_archived
    assert browser.post(f"{BASE}iris/1/delete")["Location"] == BASE
    assert not DataAsset.objects.exists()


def test_explore_of_an_unreadable_file_says_why(browser, workspace, owner):
    put_file(workspace, "m.pkl", b"\x80binary")
    services.data_asset_create(
        workspace=workspace, user=owner, spec=DataAssetSpec(name="m", type="uri_file", path="m.pkl")
    )
    page = browser.get(f"{BASE}m/1/explore/").content.decode()
    assert "No preview" in page and "CSV, TSV, Parquet and JSON Lines" in page


def test_a_bad_edit_names_the_field_by_its_label(browser, iris):
    page = browser.post(f"{BASE}iris/1/edit", {"description": "x", "tags": "no separator"}, follow=True)
    text = page.content.decode()
    assert "Tags: Line 1: write tags as name=value" in text and "tags: " not in text
    iris.refresh_from_db()
    assert iris.description.startswith("# Iris")
