"""The Models section in a real Chromium against the real studio: register an MLflow model folder
(written by mlflow + scikit-learn in the test) with a progress bar, see its signature and input
example, browse and download its artifacts; a YAML error names the field and the line."""

import io
import re
import uuid
import zipfile

import pytest
from playwright.sync_api import expect

from tests.assets.test_models_services import save_iris_mlflow_model

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
WS = "my-workspace"


@pytest.fixture(scope="session")
def iris_folder(tmp_path_factory):
    return save_iris_mlflow_model(tmp_path_factory.mktemp("browser-mlflow") / "iris-classifier")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_register_mlflow_folder_in_the_browser_and_see_its_signature(page, sign_in, screenshot, iris_folder):
    name = unique("iris")
    sign_in(page)
    page.goto(f"/workspaces/{WS}/models/")
    expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible()
    page.get_by_test_id("register-menu").locator("summary").click()
    page.get_by_role("link", name="From local files").click()
    expect(page.get_by_role("heading", name="Register model")).to_be_visible()

    page.get_by_label("Model type").select_option("mlflow_model")
    page.get_by_test_id("pick-folder").set_input_files(iris_folder)
    expect(page.get_by_test_id("picked")).to_contain_text("iris-classifier/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill("Logistic regression on **iris**.")
    page.get_by_label("Tags").fill("team=flowers\nstage=dev")
    screenshot(page, "models-register")
    page.get_by_role("button", name="Register").click()

    expect(page).to_have_url(re.compile(rf"/models/{name}/1/$"))
    expect(page.get_by_test_id("model-title")).to_have_text(f"{name}:1")
    expect(page.locator(".msg-success")).to_contain_text(f"Registered model {name}:1")
    expect(page.get_by_test_id("model-uri")).to_have_text(
        re.compile(r"^azureml://datastores/workspaceblobstore/paths/LocalUpload/[0-9a-f]{32}/iris-classifier$")
    )
    expect(page.get_by_test_id("lineage")).to_have_text("—")
    expect(page.get_by_test_id("description").locator("strong")).to_have_text("iris")
    expect(page.get_by_test_id("tags")).to_contain_text("team: flowers")
    flavors = page.get_by_test_id("flavors")
    expect(flavors).to_contain_text("python_function")
    expect(flavors).to_contain_text("mlflow.sklearn")
    expect(flavors).to_contain_text("sklearn_version")

    inputs = page.get_by_test_id("signature-inputs").locator("tbody tr")
    expect(inputs).to_have_count(4)
    expect(inputs.first.locator("td")).to_have_text(["sepal length (cm)", "double", "Yes"])
    expect(page.get_by_test_id("signature-outputs").locator("tbody tr")).to_have_count(1)
    example = page.get_by_test_id("input-example")
    expect(example.locator("thead th")).to_have_text(
        ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    )
    expect(example.locator("tbody tr")).to_have_count(3)
    expect(example.locator("tbody tr").first.locator("td")).to_have_text(["5.1", "3.5", "1.4", "0.2"])
    screenshot(page, "models-detail")
    page.get_by_test_id("signature").scroll_into_view_if_needed()
    screenshot(page, "models-signature")

    # Artifacts: htmx swaps the tab, files open as escaped text and download.
    page.evaluate("window.notReloaded = true")
    page.get_by_role("link", name="Artifacts").click()
    expect(page).to_have_url(re.compile(rf"/models/{name}/1/artifacts/$"))
    table = page.get_by_test_id("file-table")
    expect(table.locator("tr[data-path='MLmodel']")).to_be_visible()
    expect(table.locator("tr[data-path='input_example.json']")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "models-artifacts")
    with page.expect_download() as info:
        page.get_by_test_id("download-folder").click()
    archive = zipfile.ZipFile(io.BytesIO(open(info.value.path(), "rb").read()))
    assert set(archive.namelist()) == {p.name for p in iris_folder.iterdir()}
    assert info.value.suggested_filename == f"{name}-1.zip"
    table.locator("tr[data-path='MLmodel']").get_by_role("link", name="View").click()
    expect(page.get_by_test_id("preview").locator("pre.code")).to_contain_text("loader_module: mlflow.sklearn")

    page.goto(f"/workspaces/{WS}/models/")
    row = page.locator(f"[data-testid=models] tr[data-name='{name}']")
    expect(row).to_contain_text("mlflow_model")
    expect(row).to_contain_text("team: flowers")
    screenshot(page, "models-list")
    page.get_by_test_id("list-search").fill("flowers")
    expect(page).to_have_url(re.compile(r"\?search=flowers$"))
    expect(row).to_be_visible()
    screenshot(page, "models-list-search")


def test_yaml_registration_error_names_field_and_line(page, sign_in, screenshot, tmp_path):
    spec = tmp_path / "model.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        f"name: {unique('broken')}\nversion: 1\ntype: pickle_model\n"
        "path: azureml://datastores/workspaceblobstore/paths/models/x\n"
    )
    sign_in(page)
    page.goto(f"/workspaces/{WS}/models/new/?source=yaml")
    page.get_by_label("Model YAML").set_input_files(spec)
    page.get_by_role("button", name="Register").click()
    error = page.get_by_test_id("form-error")
    expect(error).to_contain_text("type:")
    expect(error).to_contain_text("(line 4)")
    expect(page.get_by_test_id("yaml-lines").locator(".yaml-line.bad")).to_have_text("  4  type: pickle_model\n")
    expect(page.get_by_test_id("upload-progress")).to_have_attribute("data-done", "error")
    screenshot(page, "models-register-yaml-error")


def test_register_from_datastore_in_the_browser(page, sign_in, studio):
    name = unique("onnx")
    with studio.client() as client:
        client.post(
            f"/api/v1/workspaces/{WS}/datastores/workspaceblobstore/files",
            data={"path": f"shared/{name}"},
            files={"files": ("model.onnx", b"onnx-bytes")},
        ).raise_for_status()
    sign_in(page)
    page.goto(f"/workspaces/{WS}/models/new/?source=datastore")
    page.get_by_label("Model type").select_option("custom_model")
    page.get_by_label("Path").fill(f"azureml://datastores/workspaceblobstore/paths/shared/{name}/model.onnx")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_test_id("model-title")).to_have_text(f"{name}:1")
    page.get_by_role("link", name="Artifacts").click()
    expect(page.get_by_test_id("file-table").locator("tr[data-path='model.onnx']")).to_be_visible()
