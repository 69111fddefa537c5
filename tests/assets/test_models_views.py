"""The Models pages: list, register (three sources), detail tabs, artifacts, downloads, archive."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.mlmodels import services
from assets.models import Model
from workspaces.storage import datastore_storage

from .test_models_services import MODEL_YAML, save_iris_mlflow_model, uploads_of

pytestmark = pytest.mark.django_db
PAGES = "/workspaces/team-ws/models/"


@pytest.fixture(scope="session")
def iris_model(tmp_path_factory):
    return save_iris_mlflow_model(tmp_path_factory.mktemp("mlflow-views") / "iris")


@pytest.fixture
def iris(workspace, owner, iris_model):
    return services.model_create_from_upload(
        workspace=workspace,
        user=owner,
        fields=services.ModelFields(
            name="iris", type="mlflow_model", tags={"team": "flowers"}, description="# Iris\n<script>x()</script>"
        ),
        files=uploads_of(iris_model),
    )


def page(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_list_shows_newest_version_type_and_tags(owner, workspace, browser_client, iris):
    services.model_create_from_upload(
        workspace=workspace,
        user=owner,
        fields=services.ModelFields(name="iris", type="custom_model", tags={"stage": "dev"}),
        files=[("m.pkl", SimpleUploadedFile("m", b"m"))],
    )
    html = page(browser_client(owner), PAGES)
    assert 'data-testid="models"' in html
    assert "/workspaces/team-ws/models/iris/2/" in html
    assert "(2 versions)" in html
    assert "stage: dev" in html  # the newest version's tags
    assert "team: flowers" not in html


def test_list_search_with_htmx_returns_only_the_table(owner, workspace, browser_client, iris):
    response = browser_client(owner).get(PAGES, {"search": "nothing"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="models-table">')
    assert "No models match" in html
    assert "<html" not in html


def test_list_search_matches_tags_and_stays_in_the_url(owner, workspace, browser_client, iris):
    client = browser_client(owner)
    iris.tags = {"team": "flowers"}
    iris.save()
    html = client.get(PAGES, {"search": "FLOWERS"}).content.decode()
    assert "/workspaces/team-ws/models/iris/" in html and 'name="search" value="FLOWERS"' in html
    assert "No models match" in client.get(PAGES, {"search": "nothing"}).content.decode()


def test_list_page_runs_a_fixed_number_of_queries(
    owner, workspace, browser_client, iris, django_assert_max_num_queries
):
    client = browser_client(owner)
    for i in range(5):
        services.model_create_from_upload(
            workspace=workspace,
            user=owner,
            fields=services.ModelFields(name=f"m{i}"),
            files=[("m.pkl", SimpleUploadedFile("m", b"m"))],
        )
    with django_assert_max_num_queries(12):
        page(client, PAGES)


def test_detail_shows_attributes_flavors_signature_and_example(owner, workspace, browser_client, iris):
    html = page(browser_client(owner), f"{PAGES}iris/1/")
    assert "azureml:iris:1" in html
    assert iris.uri in html
    assert 'data-testid="lineage">—' in html
    assert "mlflow.sklearn" in html
    for column in ("sepal length (cm)", "petal width (cm)"):
        assert column in html
    example = html[html.index('data-testid="input-example"') :]
    assert "<td>5.1</td>" in example
    # The markdown description is rendered, its script is not.
    assert "<h1>Iris</h1>" in html
    assert "<script>x()</script>" not in html


def test_tabs_swap_only_the_panel_for_htmx(owner, workspace, browser_client, iris):
    response = browser_client(owner).get(
        f"{PAGES}iris/1/artifacts/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="tab-panel"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="tab-panel"')
    assert 'data-path="MLmodel"' in html
    assert "<html" not in html
    model = Model.objects.get(name="iris")
    assert f'data-copy="{model.uri}"' in html
    assert f'href="{PAGES}iris/1/artifacts/file?path=MLmodel"' in html
    assert f'href="{PAGES}iris/1/download"' in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_artifact_file_view_escapes_text(owner, workspace, browser_client):
    services.model_create_from_upload(
        workspace=workspace,
        user=owner,
        fields=services.ModelFields(name="web"),
        files=[("web/index.html", SimpleUploadedFile("index.html", b"<script>alert(1)</script>"))],
    )
    html = page(browser_client(owner), f"{PAGES}web/1/artifacts/file", path="index.html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


def test_download_all_is_a_zip_and_a_file_is_an_attachment(owner, workspace, browser_client, iris):
    client = browser_client(owner)
    whole = client.get(f"{PAGES}iris/1/download")
    assert whole["Content-Type"] == "application/zip"
    one = client.get(f"{PAGES}iris/1/download", {"path": "MLmodel"})
    assert one["Content-Disposition"] == 'attachment; filename="MLmodel"'
    assert client.get(f"{PAGES}iris/1/download", {"path": "../x"}).status_code == 400


def test_register_from_datastore_form(owner, workspace, browser_client):
    datastore_storage(workspace.datastores.get(name="workspaceblobstore")).save("m/model.onnx", io.BytesIO(b"o"))
    response = browser_client(owner).post(
        f"{PAGES}new/?source=datastore",
        {
            "datastore": "workspaceblobstore",
            "path": "m/model.onnx",
            "name": "onnx",
            "type": "custom_model",
            "tags": "a=b",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{PAGES}onnx/1/"
    assert Model.objects.get().tags == {"a": "b"}


def test_register_from_datastore_form_shows_field_errors(owner, workspace, browser_client):
    response = browser_client(owner).post(
        f"{PAGES}new/?source=datastore",
        {"datastore": "workspaceblobstore", "path": "nothing/here", "name": "x", "type": "custom_model"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-field="path"' in html and "Nothing at" in html
    assert not Model.objects.exists()


def test_browser_upload_endpoint_registers_and_answers_json(owner, workspace, browser_client, iris_model):
    files = uploads_of(iris_model)
    response = browser_client(owner).post(
        f"{PAGES}new/upload",
        {
            "source": "local",
            "name": "iris",
            "type": "mlflow_model",
            "tags": "team=flowers",
            "files": [upload for _, upload in files],
            "relative_paths": [name for name, _ in files],
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["url"] == f"{PAGES}iris/1/"
    assert Model.objects.get().signature["inputs"]


def test_browser_upload_errors_name_fields(owner, workspace, browser_client):
    response = browser_client(owner).post(
        f"{PAGES}new/upload",
        {
            "source": "local",
            "name": "bad name!",
            "type": "mlflow_model",
            "files": [SimpleUploadedFile("a", b"a")],
            "relative_paths": ["a.pkl"],
        },
    )
    assert response.status_code == 400
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert "name" in fields


def test_browser_yaml_upload_errors_name_field_and_line(owner, workspace, browser_client):
    response = browser_client(owner).post(
        f"{PAGES}new/upload",
        {
            "source": "yaml",
            "yaml": SimpleUploadedFile("model.yml", MODEL_YAML.replace("name: iris-yaml\n", "").encode()),
        },
    )
    assert response.status_code == 400
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "name"
    assert "line" in detail["message"]


def test_archive_and_restore_from_the_detail_page(owner, workspace, browser_client, iris):
    client = browser_client(owner)
    assert client.post(f"{PAGES}iris/1/archive").status_code == 302
    iris.refresh_from_db()
    assert iris.is_archived
    assert "iris" not in page(client, PAGES).split('id="models-table"')[1]
    assert client.post(f"{PAGES}iris/1/restore").status_code == 302
    iris.refresh_from_db()
    assert not iris.is_archived


def test_reader_sees_no_register_archive_or_edit_and_cannot_post(reader, workspace, browser_client, iris):
    client = browser_client(reader)
    assert "+ Register" not in page(client, PAGES)
    detail = page(client, f"{PAGES}iris/1/")
    assert "Archive" not in detail and "Edit description" not in detail
    assert client.get(f"{PAGES}new/").status_code == 403
    assert client.post(f"{PAGES}iris/1/archive").status_code == 403
    assert client.post(f"{PAGES}iris/1/edit", {"description": "x"}).status_code == 403
    assert (
        client.post(
            f"{PAGES}new/upload", {"name": "x", "files": [SimpleUploadedFile("a", b"a")], "relative_paths": ["a"]}
        ).status_code
        == 403
    )
    iris.refresh_from_db()
    assert not iris.is_archived and Model.objects.count() == 1


TENSOR_MLMODEL = b"""flavors:
  python_function: {loader_module: mlflow.pytorch, python_version: 3.11.7}
  pytorch: {pytorch_version: 2.4.0}
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 28, 28]}}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 10]}}]'
  params: '[{"name": "temperature", "type": "double", "default": 0.7, "shape": null}]'
saved_input_example_info: {artifact_path: input_example.json, type: ndarray, format: tf-serving}
"""


def test_tensor_signature_shows_shapes_params_and_an_array_example(owner, workspace, browser_client):
    services.model_create_from_upload(
        workspace=workspace,
        user=owner,
        fields=services.ModelFields(name="mnist", type="mlflow_model"),
        files=[
            ("mnist/MLmodel", SimpleUploadedFile("MLmodel", TENSOR_MLMODEL)),
            (
                "mnist/input_example.json",
                SimpleUploadedFile("input_example.json", b'{"inputs": [[0.1, 0.2], [0.3, 0.4]]}'),
            ),
        ],
    )
    html = page(browser_client(owner), f"{PAGES}mnist/1/")
    signature = html[html.index('data-testid="signature"') :]
    assert "<th>Shape</th>" in signature
    assert "tensor (float32)" in signature and "(-1, 28, 28)" in signature and "(-1, 10)" in signature
    params = signature[signature.index('data-testid="signature-params"') :]
    assert "<code>temperature</code>" in params and "<td>0.7</td>" in params
    example = signature[signature.index('data-testid="input-example"') :]
    assert "<td>0.3</td>" in example


def test_owner_edits_description_and_tags_on_the_detail_page(owner, workspace, browser_client, iris):
    response = browser_client(owner).post(
        f"{PAGES}iris/1/edit", {"description": "## Better", "tags": "team=roses\nstage=prod"}
    )
    assert response.status_code == 302
    iris.refresh_from_db()
    assert (iris.description, iris.tags) == ("## Better", {"team": "roses", "stage": "prod"})


def test_a_bad_edit_names_the_field_by_its_label(owner, workspace, browser_client, iris):
    page = browser_client(owner).post(f"{PAGES}iris/1/edit", {"tags": "=x"}, follow=True).content.decode()
    assert "Tags: Line 1: write tags as name=value" in page and "* tags" not in page
