"""The Components pages: list, register upload endpoint, detail (interface, highlighted command,
environment link), code browsing with escaped text, YAML tab, archive; the Reader's view."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.components import services
from assets.models import Component, Environment

from .test_components_services import CODE, COMPONENT_YAML, code_files

pytestmark = pytest.mark.django_db
PAGES = "/workspaces/team-ws/components/"


@pytest.fixture
def environment(workspace):
    return Environment.objects.create(workspace=workspace, name="sklearn-env", version="1", image="python:3.11")


@pytest.fixture
def component(workspace, owner, environment):
    return services.component_create(workspace=workspace, user=owner, yaml_text=COMPONENT_YAML, code_files=code_files())


def page(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_list_shows_the_component(owner, browser_client, component):
    html = page(browser_client(owner), PAGES)
    assert f"{PAGES}train_model/1/" in html
    assert "Train a model" in html and "team: ml" in html


def test_detail_shows_interface_command_and_environment_link(owner, browser_client, component):
    html = page(browser_client(owner), f"{PAGES}train_model/1/")
    interface = html[html.index('data-testid="inputs"') :]
    assert 'data-input="max_epochs"' in interface
    row = interface[interface.index('data-input="max_epochs"') : interface.index('data-input="learning_rate"')]
    assert "<code>10</code>" in row and "<td>1</td>" in row and "<td>100</td>" in row
    mode = interface[interface.index('data-input="mode"') :]
    assert "<code>fast</code>, <code>slow</code>" in mode
    assert 'data-output="model_output"' in html
    assert '<span class="binding binding-inputs">${{inputs.training_data}}</span>' in html
    assert '<span class="opt-mark">$[[</span><span class="opt">--lr </span>' in html
    assert '<span class="binding binding-outputs">${{outputs.model_output}}</span>' in html
    assert 'href="/workspaces/team-ws/environments/sklearn-env/1/"' in html


def test_command_text_is_escaped_never_markup(owner, workspace, browser_client, environment):
    text = COMPONENT_YAML.replace("python train.py", "python train.py '<script>alert(1)</script>'").replace(
        "Train a model", "<img src=x onerror=alert(2)>"
    )
    services.component_create(workspace=workspace, user=owner, yaml_text=text, code_files=code_files())
    html = page(browser_client(owner), f"{PAGES}train_model/1/")
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_code_tab_and_file_view_escape_text(owner, workspace, browser_client, environment):
    files = {**CODE, "report.html": b"<script>alert(3)</script>"}
    services.component_create(workspace=workspace, user=owner, yaml_text=COMPONENT_YAML, code_files=code_files(files))
    client = browser_client(owner)
    panel = client.get(
        f"{PAGES}train_model/1/code/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="tab-panel"
    ).content.decode()
    assert panel.lstrip().startswith('<div id="tab-panel"')
    assert 'data-path="utils"' in panel and 'data-path="train.py"' in panel
    component = Component.objects.get(name="train_model")
    code_uri = f"azureml://datastores/{component.datastore.name}/paths/{component.code_path}/"
    assert f'data-copy="{code_uri}"' in panel
    assert f'href="{PAGES}train_model/1/code/file?path=train.py"' in panel
    assert f'href="{PAGES}train_model/1/code/download?path=utils"' in panel
    nested = client.get(
        f"{PAGES}train_model/1/code/", {"path": "utils"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="tab-panel"
    ).content.decode()
    assert f'data-copy="{code_uri}utils/"' in nested
    viewed = page(client, f"{PAGES}train_model/1/code/file", path="report.html")
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in viewed and "<script>alert(3)" not in viewed
    download = client.get(f"{PAGES}train_model/1/code/download", {"path": "report.html"})
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"] == 'attachment; filename="report.html"'


def test_yaml_tab_shows_the_yaml_as_given(owner, browser_client, component):
    html = page(browser_client(owner), f"{PAGES}train_model/1/yaml/")
    assert "$[[--lr ${{inputs.learning_rate}}]]" in html


def test_upload_endpoint_registers_and_strips_nothing_it_should_keep(owner, workspace, browser_client, environment):
    response = browser_client(owner).post(
        f"{PAGES}new/upload",
        {
            "yaml": SimpleUploadedFile("component.yml", COMPONENT_YAML.encode()),
            "files": [SimpleUploadedFile(n.rsplit("/", 1)[-1], c) for n, c in CODE.items()],
            "relative_paths": list(CODE),
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["url"] == f"{PAGES}train_model/1/"


def test_upload_endpoint_errors_name_field_and_line(owner, browser_client, environment):
    response = browser_client(owner).post(
        f"{PAGES}new/upload",
        {"yaml": SimpleUploadedFile("c.yml", COMPONENT_YAML.replace("${{inputs.mode}}", "${{inputs.speed}}").encode())},
    )
    assert response.status_code == 400
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "command" and "(line 33)" in detail["message"]
    assert not Component.objects.exists()


def test_reader_sees_no_new_or_archive_and_cannot_post(reader, browser_client, component):
    client = browser_client(reader)
    assert "+ New component" not in page(client, PAGES)
    assert "Archive" not in page(client, f"{PAGES}train_model/1/")
    assert client.get(f"{PAGES}new/").status_code == 403
    assert client.post(f"{PAGES}new/upload", {"yaml": SimpleUploadedFile("c.yml", b"x")}).status_code == 403
    assert client.post(f"{PAGES}train_model/1/archive").status_code == 403
    component.refresh_from_db()
    assert not component.is_archived


def test_interface_lists_inputs_in_the_yaml_order(owner, browser_client, component):
    html = page(browser_client(owner), f"{PAGES}train_model/1/")
    positions = [
        html.index(f'data-input="{name}"') for name in ("training_data", "max_epochs", "learning_rate", "mode")
    ]
    assert positions == sorted(positions)
