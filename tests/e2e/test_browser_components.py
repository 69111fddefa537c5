"""The Components section in a real Chromium against the real studio: register a command component
from its YAML, code folder and conda file, see its interface and highlighted command, browse its
code; a bad binding is refused naming the field and the line."""

import re
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
WS = "my-workspace"

COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: {name}
version: 1
display_name: Train iris classifier
description: Fits a **logistic regression** and saves it with MLflow.
tags:
  team: flowers
inputs:
  training_data:
    type: uri_folder
    description: Folder with iris.csv
  max_iter:
    type: integer
    default: 200
    min: 10
    max: 1000
  penalty:
    type: string
    enum: [l2, none]
    default: l2
  c:
    type: number
    optional: true
outputs:
  model:
    type: mlflow_model
code: ./src
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
  conda_file: ./conda.yml
command: >-
  python train.py --data ${{{{inputs.training_data}}}} --max-iter ${{{{inputs.max_iter}}}}
  --penalty ${{{{inputs.penalty}}}} $[[--c ${{{{inputs.c}}}}]] --out ${{{{outputs.model}}}}
"""
CONDA = "name: iris\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - scikit-learn\n    - mlflow\n"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


@pytest.fixture
def component_files(tmp_path):
    def make(name: str, *, command_fix=None):
        text = COMPONENT.format(name=name)
        if command_fix:
            text = text.replace(*command_fix)
        (tmp_path / "component.yml").write_text(text)
        (tmp_path / "conda.yml").write_text(CONDA)
        src = tmp_path / "src"
        (src / "lib").mkdir(parents=True, exist_ok=True)
        (src / "train.py").write_text("import argparse\n\nprint('<b>training</b>')\n")
        (src / "lib" / "data.py").write_text("def load(path):\n    return path\n")
        return tmp_path

    return make


def test_register_component_with_code_folder_and_see_its_interface(page, sign_in, screenshot, component_files):
    name = unique("train_iris")
    folder = component_files(name)
    sign_in(page)
    page.goto(f"/workspaces/{WS}/components/")
    expect(page.get_by_role("heading", name="Components", exact=True)).to_be_visible()
    page.get_by_test_id("new-component").click()
    expect(page.get_by_role("heading", name="New component")).to_be_visible()
    page.get_by_label("Component YAML").set_input_files(folder / "component.yml")
    page.get_by_test_id("pick-code").set_input_files(folder / "src")
    expect(page.get_by_test_id("picked")).to_contain_text("src/ — 2 files")
    page.get_by_label("Conda file").set_input_files(folder / "conda.yml")
    screenshot(page, "components-register")
    page.get_by_role("button", name="Register").click()

    expect(page).to_have_url(re.compile(rf"/components/{name}/1/$"))
    expect(page.get_by_test_id("component-title")).to_have_text("Train iris classifier")
    expect(page.locator(".msg-success")).to_contain_text(f"Registered component {name}:1")
    inputs = page.get_by_test_id("inputs")
    expect(inputs.locator("tbody tr")).to_have_count(4)
    expect(inputs.locator("tr[data-input='max_iter'] td")).to_have_text(
        ["max_iter", "integer", "200", "No", "—", "10", "1000", "—"]
    )
    expect(inputs.locator("tr[data-input='penalty'] td").nth(4)).to_have_text("l2, none")
    expect(inputs.locator("tr[data-input='c'] td").nth(3)).to_have_text("Yes")
    expect(page.get_by_test_id("outputs").locator("tr[data-output='model'] td").nth(1)).to_have_text("mlflow_model")
    command = page.get_by_test_id("command-text")
    expect(command.locator(".binding-inputs")).to_have_count(4)
    expect(command.locator(".binding-outputs")).to_have_text(["${{outputs.model}}"])
    expect(command.locator(".opt.binding")).to_have_text(["${{inputs.c}}"])
    expect(page.get_by_test_id("environment")).to_contain_text("Inline")
    expect(page.get_by_test_id("inline-environment")).to_contain_text("scikit-learn")
    expect(page.get_by_test_id("code-uri")).to_have_text(
        re.compile(r"^azureml://datastores/workspaceblobstore/paths/LocalUpload/[0-9a-f]{32}/src/$")
    )
    screenshot(page, "components-detail")
    page.get_by_test_id("command").scroll_into_view_if_needed()
    screenshot(page, "components-interface")

    page.evaluate("window.notReloaded = true")
    page.get_by_role("link", name="Code", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/components/{name}/1/code/$"))
    table = page.get_by_test_id("file-table")
    expect(table.locator("tr[data-path='train.py']")).to_be_visible()
    table.locator("a.folder", has_text="lib").click()
    expect(table.locator("tr[data-path='lib/data.py']")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "components-code")
    page.goto(f"/workspaces/{WS}/components/{name}/1/code/")
    page.get_by_test_id("file-table").locator("tr[data-path='train.py']").get_by_role("link", name="View").click()
    expect(page.get_by_test_id("preview").locator("pre.code")).to_contain_text("print('<b>training</b>')")
    expect(page.get_by_test_id("preview").locator("b")).to_have_count(0)

    page.goto(f"/workspaces/{WS}/components/{name}/1/")
    page.get_by_role("link", name="YAML", exact=True).click()
    expect(page.get_by_test_id("yaml")).to_contain_text("conda_file: ./conda.yml")

    page.goto(f"/workspaces/{WS}/components/")
    expect(page.locator(f"[data-testid=components] tr[data-name='{name}']")).to_contain_text("Train iris classifier")
    screenshot(page, "components-list")


def test_bad_binding_is_refused_naming_command_and_line(page, sign_in, screenshot, component_files, studio):
    name = unique("broken")
    folder = component_files(name, command_fix=("${{inputs.penalty}}", "${{inputs.regularisation}}"))
    sign_in(page)
    page.goto(f"/workspaces/{WS}/components/new/")
    page.get_by_label("Component YAML").set_input_files(folder / "component.yml")
    page.get_by_test_id("pick-code").set_input_files(folder / "src")
    page.get_by_label("Conda file").set_input_files(folder / "conda.yml")
    page.get_by_role("button", name="Register").click()
    error = page.get_by_test_id("form-error")
    expect(error).to_contain_text("command: ${{inputs.regularisation}} names no declared input")
    expect(error).to_contain_text("(line 34)")
    bad_line = page.get_by_test_id("yaml-lines").locator(".yaml-line.bad")
    expect(bad_line).to_have_count(1)
    expect(bad_line).to_contain_text("34")
    expect(bad_line).to_contain_text("${{inputs.regularisation}}")
    screenshot(page, "components-register-error")
    with studio.client() as client:
        assert client.get(f"/api/v1/workspaces/{WS}/components/{name}/versions/1").status_code == 404
