"""Environments through the browser routes and the REST API: pages, forms, errors, roles."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assets.environments import envbuild, services
from assets.models import BuildStatus, Environment, EnvironmentBuild

pytestmark = pytest.mark.django_db

API = "/api/v1/workspaces/team-ws/environments"
PAGES = "/workspaces/team-ws/environments/"
CONDA = "dependencies:\n  - python=3.11\n  - pip:\n    - six\n"
ENV_YAML = """$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
name: six-env
version: 1
image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
conda_file: conda.yml
tags:
  team: fraud
"""


def make(workspace, user, name="six-env", **fields):
    fields.setdefault("pip_requirements", "six\n")
    return services.environment_create(workspace=workspace, user=user, name=name, **fields)


# REST API -----------------------------------------------------------------------------------------


def test_create_from_pip_requirements(workspace, owner, api_client):
    response = api_client(owner).post(
        API, {"name": "six-env", "pip_requirements": "six\n", "tags": {"team": "fraud"}}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["id"], body["build_status"]) == ("azureml:six-env:1", "NotStarted")
    assert body["build"]["requirements"] == ["six"] and body["tags"] == {"team": "fraud"}
    assert body["python_path"] is None  # not built yet


def test_create_from_yaml_with_the_conda_file_content(workspace, owner, api_client):
    response = api_client(owner).post(API, {"yaml": ENV_YAML, "conda_file": CONDA}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["conda_file"] == CONDA
    assert response.json()["build"]["requirements"] == ["six"]


def test_bad_yaml_is_a_400_naming_the_field_and_line(workspace, owner, api_client):
    response = api_client(owner).post(
        API, {"yaml": ENV_YAML.replace("tags:\n  team: fraud", "tags: [fraud]"), "conda_file": CONDA}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "UserError"
    assert error["message"] == "tags: Not a valid mapping type (line 6)."
    assert not Environment.objects.filter(workspace=workspace).exists()


def test_a_bad_conda_entry_is_a_400_naming_the_entry(workspace, owner, api_client):
    response = api_client(owner).post(API, {"name": "x", "conda_file": "dependencies:\n  - numpy=1|2\n"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("conda_file: dependencies[0]: 'numpy=1|2'")


def test_duplicate_name_and_version_is_a_409(workspace, owner, api_client):
    client = api_client(owner)
    assert (
        client.post(API, {"name": "six-env", "version": "1", "pip_requirements": "six"}, format="json").status_code
        == 201
    )
    response = client.post(API, {"name": "six-env", "version": "1", "pip_requirements": "six"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "Conflict"
    assert "six-env:1 already exists" in response.json()["error"]["message"]


def test_list_shows_the_latest_version_of_each_and_curated_on_request(workspace, owner, api_client):
    make(workspace, owner, version="1")
    make(workspace, owner, version="2", pip_requirements="six==1.17.0")
    client = api_client(owner)
    assert [(e["name"], e["version"]) for e in client.get(API).json()] == [("six-env", "2")]
    curated = {e["name"] for e in client.get(API, {"curated": "true"}).json()}
    assert {"AzureML-minimal-py311", "AzureML-sklearn-1.5-py311"} <= curated
    versions = client.get(f"{API}/six-env/versions").json()
    assert [v["version"] for v in versions] == ["2", "1"]


def test_archived_environments_leave_the_list_but_stay_reachable(workspace, owner, api_client):
    make(workspace, owner)
    client = api_client(owner)
    assert client.post(f"{API}/six-env/versions/1/archive").json()["is_archived"] is True
    assert client.get(API).json() == []
    assert [e["name"] for e in client.get(API, {"include_archived": "true"}).json()] == ["six-env"]
    assert client.get(f"{API}/six-env/versions/1").status_code == 200
    assert client.post(f"{API}/six-env/versions/1/restore").json()["is_archived"] is False


def test_patch_changes_description_and_tags(workspace, owner, api_client):
    make(workspace, owner)
    response = api_client(owner).patch(
        f"{API}/six-env/versions/1", {"description": "**six**", "tags": {"a": "b"}}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["description"], response.json()["tags"]) == ("**six**", {"a": "b"})


def test_build_log_reads_whole_lines_from_an_offset(workspace, owner, api_client):
    environment = make(workspace, owner)
    log = envbuild.log_path(environment.build.spec_hash)
    log.parent.mkdir(parents=True)
    log.write_bytes(b"first line\nsecond line\npartial")
    client = api_client(owner)
    body = client.get(f"{API}/six-env/versions/1/build-log").json()
    assert (body["content"], body["next_offset"], body["finished"]) == ("first line\nsecond line\n", 23, False)
    body = client.get(f"{API}/six-env/versions/1/build-log", {"offset": 11}).json()
    assert body["content"] == "second line\n"
    # Once the build has ended the last, unfinished line is given too, and the log is finished.
    EnvironmentBuild.objects.filter(pk=environment.build_id).update(status=BuildStatus.FAILED, error="boom")
    body = client.get(f"{API}/six-env/versions/1/build-log", {"offset": 23}).json()
    assert (body["content"], body["finished"], body["status"], body["error"]) == ("partial", True, "Failed", "boom")


def test_rebuild_of_a_failed_build_queues_it_again(workspace, owner, api_client):
    environment = make(workspace, owner)
    EnvironmentBuild.objects.filter(pk=environment.build_id).update(status=BuildStatus.FAILED, error="boom")
    response = api_client(owner).post(f"{API}/six-env/versions/1/build")
    assert response.status_code == 202
    assert response.json()["build"]["status"] == "NotStarted" and response.json()["build"]["error"] == ""


def test_another_workspaces_environment_is_not_found(workspace, owner, outsider, api_client):
    make(workspace, owner)
    response = api_client(outsider).get("/api/v1/workspaces/oscars-ws/environments/six-env/versions/1")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", ""),
        ("post", "/six-env/versions/1/build"),
        ("post", "/six-env/versions/1/archive"),
        ("post", "/six-env/versions/1/restore"),
        ("patch", "/six-env/versions/1"),
    ],
)
def test_reader_cannot_create_rebuild_archive_or_edit(workspace, owner, reader, api_client, method, path):
    make(workspace, owner)
    response = getattr(api_client(reader), method)(API + path, {"name": "x", "pip_requirements": "six"}, format="json")
    assert response.status_code == 403
    assert Environment.objects.filter(workspace=workspace).count() == 1
    assert not Environment.objects.get(name="six-env").is_archived


def test_reader_can_read(workspace, owner, reader, api_client):
    make(workspace, owner)
    client = api_client(reader)
    assert client.get(API).status_code == 200
    assert client.get(f"{API}/six-env/versions/1/build-log").status_code == 200


# Pages --------------------------------------------------------------------------------------------


def test_list_page_has_custom_and_curated_tabs(workspace, owner, browser_client):
    make(workspace, owner)
    client = browser_client(owner)
    page = client.get(PAGES).content.decode()
    assert "Custom environments" in page and "Curated environments" in page
    assert "six-env" in page and "AzureML-sklearn" not in page
    curated = client.get(PAGES + "?tab=curated").content.decode()
    assert "AzureML-sklearn-1.5-py311" in curated and "six-env" not in curated


def test_list_page_queries_do_not_grow_with_rows(workspace, owner, browser_client):
    client = browser_client(owner)
    make(workspace, owner, name="env-0")
    with CaptureQueriesContext(connection) as few:
        client.get(PAGES)
    for i in range(1, 6):
        make(workspace, owner, name=f"env-{i}", pip_requirements=f"six\nidna=={i}.0")
    with CaptureQueriesContext(connection) as many:
        client.get(PAGES)
    assert len(many) == len(few)


def test_htmx_refresh_returns_only_the_table(workspace, owner, browser_client):
    make(workspace, owner)
    response = browser_client(owner).get(PAGES, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="environments")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="environments"')
    assert "<html" not in html and "six-env" in html
    # A build in progress makes the table refresh itself.
    assert 'hx-trigger="every 3s"' in html


def test_create_page_builds_from_pip_requirements(workspace, owner, browser_client):
    response = browser_client(owner).post(
        PAGES + "new/",
        {"source": "pip", "name": "six-env", "pip_requirements": "six\n", "tags": "team=fraud", "python": "3.11"},
    )
    assert response.status_code == 302
    assert response["Location"] == PAGES + "six-env/1/"
    environment = Environment.objects.get(name="six-env")
    assert environment.tags == {"team": "fraud"} and environment.pip_requirements == "six\n"


def test_create_page_takes_an_uploaded_yaml_and_its_conda_file(workspace, owner, browser_client):
    response = browser_client(owner).post(
        PAGES + "new/",
        {
            "source": "yaml",
            "yaml_file": SimpleUploadedFile("env.yml", ENV_YAML.encode()),
            "yaml_conda_file": SimpleUploadedFile("conda.yml", CONDA.encode()),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Environment.objects.get(name="six-env").build.spec["requirements"] == ["six"]


def test_create_page_shows_the_yaml_error_with_its_line(workspace, owner, browser_client):
    bad = ENV_YAML.replace("tags:\n  team: fraud", "tags: [fraud]")
    response = browser_client(owner).post(
        PAGES + "new/",
        {
            "source": "yaml",
            "yaml_file": SimpleUploadedFile("env.yml", bad.encode()),
            "yaml_conda_file": SimpleUploadedFile("conda.yml", CONDA.encode()),
        },
    )
    assert response.status_code == 400
    assert "tags: Not a valid mapping type (line 6)." in response.content.decode()


def test_create_page_shows_a_duplicate_version_on_the_version_field(workspace, owner, browser_client):
    make(workspace, owner, version="1")
    response = browser_client(owner).post(
        PAGES + "new/", {"source": "pip", "name": "six-env", "version": "1", "pip_requirements": "six"}
    )
    assert response.status_code == 400
    assert 'data-field="version"' in response.content.decode()


def test_detail_page_shows_spec_image_and_python(workspace, owner, browser_client):
    make(workspace, owner, description="Has **six**.")
    page = browser_client(owner).get(PAGES + "six-env/1/").content.decode()
    assert "image mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest runs on the studio's Python 3.11" in page
    assert "<strong>six</strong>" in page  # markdown description
    assert 'data-testid="spec"' in page and "azureml:six-env:1" in page


def test_log_tab_streams_from_the_events_route(workspace, owner, browser_client):
    make(workspace, owner)
    page = browser_client(owner).get(PAGES + "six-env/1/?tab=log").content.decode()
    assert f'data-log-stream="{PAGES}six-env/1/build-log/events"' in page


def test_rebuild_button_only_for_a_failed_build_and_only_for_writers(workspace, owner, reader, browser_client):
    environment = make(workspace, owner)
    rebuild = 'data-show-on-status="Failed" hidden'
    assert rebuild in browser_client(owner).get(PAGES + "six-env/1/").content.decode()
    EnvironmentBuild.objects.filter(pk=environment.build_id).update(status=BuildStatus.FAILED, error="boom")
    owner_page = browser_client(owner).get(PAGES + "six-env/1/").content.decode()
    assert 'data-show-on-status="Failed" >' in owner_page and "Archive" in owner_page
    reader_page = browser_client(reader).get(PAGES + "six-env/1/").content.decode()
    assert "Rebuild" not in reader_page and "Archive</button>" not in reader_page


def test_reader_cannot_open_create_or_rebuild_or_archive(workspace, owner, reader, browser_client):
    make(workspace, owner)
    client = browser_client(reader)
    assert client.get(PAGES + "new/").status_code == 403
    assert client.post(PAGES + "new/", {"source": "pip", "name": "x", "pip_requirements": "six"}).status_code == 403
    assert client.post(PAGES + "six-env/1/build").status_code == 403
    assert client.post(PAGES + "six-env/1/archive").status_code == 403
    assert Environment.objects.filter(workspace=workspace).count() == 1


def test_curated_environment_page_offers_a_build_but_no_archive(workspace, owner, browser_client):
    page = browser_client(owner).get(PAGES + "AzureML-sklearn-1.5-py311/1/").content.decode()
    assert "Build image" in page and ">Archive</button>" not in page
    assert "scikit-learn==1.5.2" in page


def test_build_log_download_is_an_attachment(workspace, owner, browser_client):
    environment = make(workspace, owner)
    log = envbuild.log_path(environment.build.spec_hash)
    log.parent.mkdir(parents=True)
    log.write_text("<script>alert(1)</script>\n")
    response = browser_client(owner).get(PAGES + "six-env/1/build-log")
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"].startswith("text/plain")
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>\n"
