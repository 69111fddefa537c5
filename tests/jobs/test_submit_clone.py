"""The submit form as a returning user meets it: Clone ("Edit and submit") fills it from a job, a
folder uploaded once survives a failed submit, inputs are picked from the workspace's data, an
environment whose build failed cannot be picked, and curated ones say which have mlflow. A job's
Overview shows a failed job's error and the component it ran; Register model offers named outputs."""

import re

import pytest
from django.core.files.base import ContentFile

from assets.models import BuildStatus, DataAsset, Environment, EnvironmentBuild, Model
from jobs.models import Job, JobStatus
from workspaces.storage import datastore_storage, walk_files

from .support import add_log, make_job
from .test_views import SUBMIT, component_form, form, greeter, page_url  # noqa: F401 - greeter is a fixture

pytestmark = pytest.mark.django_db


def artifacts(workspace):
    return datastore_storage(workspace.datastores.get(name="workspaceartifactstore"))


def field_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'<textarea[^>]*name="{name}"[^>]*>\n?([^<]*)</textarea>', html
    )
    return match.group(1) if match else ""


def selected(html: str, name: str) -> str:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    found = re.search(r'<option value="([^"]*)"[^>]*selected', select)
    return found.group(1) if found else ""


@pytest.fixture
def submitted(owner, workspace, browser_client):
    """A job submitted from the form, with its code snapshot."""
    DataAsset.objects.create(
        workspace=workspace,
        name="iris",
        version="1",
        type="uri_folder",
        datastore=workspace.datastores.get(name="workspaceblobstore"),
        path="iris",
    )
    data = form(input_value=["0.01", "azureml:iris:1"], tags="team=fraud")
    response = browser_client(owner).post(SUBMIT, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return Job.objects.get(workspace=workspace)


# -- Clone ---------------------------------------------------------------------------------------------


def test_a_jobs_page_offers_edit_and_submit(owner, reader, submitted, browser_client):
    link = f'href="{SUBMIT}?from={submitted.name}"'
    assert link in browser_client(owner).get(page_url(submitted.name)).content.decode()
    assert link not in browser_client(reader).get(page_url(submitted.name)).content.decode()


def test_clone_fills_the_form_from_the_job(owner, submitted, browser_client):
    html = browser_client(owner).get(f"{SUBMIT}?from={submitted.name}").content.decode()
    assert "Edit and submit" in html
    assert field_value(html, "command") == submitted.command.replace("'", "&#x27;")
    assert selected(html, "environment") == "azureml:AzureML-minimal-py311:1"
    assert selected(html, "compute") == "cpu-cluster"
    assert field_value(html, "experiment_name") == "churn"
    assert field_value(html, "display_name") == "First try"
    assert field_value(html, "tags") == "team=fraud"
    assert field_value(html, "environment_variables") == "EPOCHS=3"
    assert field_value(html, "source_job") == submitted.name
    assert re.search(r'<input type="radio" name="code_source" value="job"[^>]*checked', html)
    rows = html[: html.index("<template")]  # the rows, not the template a new row is made from
    assert re.findall(r'name="input_value" value="([^"]*)"', rows) == ["0.01", "azureml:iris:1"]
    outputs = html[html.index('data-rows="output"') :]
    assert re.findall(r'name="output_name" value="([^"]*)"', outputs)[0] == "model"
    assert re.findall(r'name="output_value" value="([^"]*)"', outputs)[0] == ""  # a new job writes its own folder
    assert field_value(html, "name") == ""


def test_submitting_the_clone_creates_a_new_job_with_the_same_code(owner, workspace, submitted, browser_client):
    client = browser_client(owner)
    data = form(code_source="job", source_job=submitted.name, code_files=[], code_paths=[], display_name="Second")
    response = client.post(f"{SUBMIT}?from={submitted.name}", data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    clone = Job.objects.exclude(pk=submitted.pk).get(workspace=workspace)
    assert clone.display_name == "Second" and clone.name != submitted.name
    storage = artifacts(workspace)
    start = len(submitted.code_path) + 1
    assert [p[start:] for p in sorted(walk_files(storage, submitted.code_path))] == [
        p[len(clone.code_path) + 1 :] for p in sorted(walk_files(storage, clone.code_path))
    ]
    assert clone.code_digest == submitted.code_digest


def test_clone_of_a_job_in_another_workspace_is_404(outsider, submitted, browser_client):
    assert browser_client(outsider).get(f"/workspaces/oscars-ws/jobs/submit/?from={submitted.name}").status_code == 404


# -- the code folder survives a failed submit -----------------------------------------------------------


def test_a_failed_submit_keeps_the_uploaded_folder_and_the_next_try_uses_it(owner, workspace, browser_client):
    client = browser_client(owner)
    response = client.post(SUBMIT, form(command=""))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Kept from your last try: <strong>churn-model/ (2 files)</strong>" in html
    token = field_value(html, "staged_code")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    retry = form(
        code_files=[],
        code_paths=[],
        staged_code=token,
        staged_code_name=field_value(html, "staged_code_name"),
        staged_code_folder=field_value(html, "staged_code_folder"),
    )
    response = client.post(SUBMIT, retry)
    assert response.status_code == 302, response.content.decode()[-3000:]
    job = Job.objects.get(workspace=workspace)
    assert "code: ./churn-model" in job.yaml
    assert sorted(p.rsplit("code/", 1)[1] for p in walk_files(artifacts(workspace), job.code_path)) == [
        "pkg/__init__.py",
        "train.py",
    ]


def test_a_kept_folder_is_not_anothers(owner, contributor, workspace, browser_client):
    html = browser_client(owner).post(SUBMIT, form(command="")).content.decode()
    token = field_value(html, "staged_code")
    response = browser_client(contributor).post(SUBMIT, form(code_files=[], code_paths=[], staged_code=token))
    assert response.status_code == 400
    assert "The folder kept from your last try is gone" in response.content.decode()
    assert not Job.objects.exists()


# -- inputs, environments ---------------------------------------------------------------------------------


def test_inputs_pick_from_the_workspaces_data_assets_and_datastores(owner, submitted, browser_client):
    html = browser_client(owner).get(SUBMIT).content.decode()
    picker = re.search(r"<select class=\"data-pick\".*?</select>", html, re.S).group(0)
    assert '<option value="azureml:iris:1" data-type="uri_folder">iris:1 · uri_folder</option>' in picker
    assert '<option value="azureml://datastores/workspaceblobstore/paths/">workspaceblobstore</option>' in picker
    assert 'list="data-choices"' in html and '<option value="azureml:iris:1"' in html


def test_an_environment_whose_build_failed_is_shown_disabled_and_refused(owner, workspace, browser_client):
    build = EnvironmentBuild.objects.create(
        spec_hash="f" * 64, spec={}, status=BuildStatus.FAILED, error="No matching distribution for torch==0.0"
    )
    Environment.objects.create(workspace=workspace, name="broken-env", version="1", build=build)
    html = browser_client(owner).get(SUBMIT).content.decode()
    option = re.search(r'<option value="azureml:broken-env:1"[^>]*>[^<]*</option>', html).group(0)
    assert "disabled" in option and "build failed" in option and "No matching distribution" in option
    response = browser_client(owner).post(SUBMIT, form(environment="azureml:broken-env:1"))
    assert response.status_code == 400
    errors = re.findall(r'data-field="environment" role="alert">([^<]*)<', response.content.decode())
    assert any("failed to build" in e for e in errors)


def test_curated_environments_say_which_have_mlflow(owner, workspace, browser_client):
    html = browser_client(owner).get(SUBMIT).content.decode()
    assert re.search(r'<option value="azureml:AzureML-sklearn-1.5-py311:\d+"[^>]*>[^<]*with mlflow</option>', html)
    minimal = re.search(r'<option value="azureml:AzureML-minimal-py311:1"[^>]*>([^<]*)</option>', html).group(1)
    assert "mlflow" not in minimal


# -- the Overview ----------------------------------------------------------------------------------------


def test_a_failed_jobs_overview_shows_its_error_and_links_the_log(owner, workspace, browser_client):
    job = make_job(workspace, name="broken", status=JobStatus.FAILED, status_reason="exited with code 1")
    add_log(job, 'loading\nTraceback (most recent call last):\n  File "t.py", line 1\nValueError: bad <input>\n')
    html = browser_client(owner).get(page_url("broken")).content.decode()
    box = html[html.index('data-testid="job-error"') :]
    assert "ValueError: bad &lt;input&gt;" in box and "loading" not in box.split("</pre>")[0]
    assert f'href="{page_url("broken")}?tab=outputs&amp;path=user_logs%2Fstd_log.txt"' in box


def test_a_completed_jobs_overview_has_no_error_box(owner, workspace, browser_client):
    job = make_job(workspace, name="fine", status=JobStatus.COMPLETED)
    add_log(job, "Traceback (most recent call last):\nhandled\n")
    assert 'data-testid="job-error"' not in browser_client(owner).get(page_url("fine")).content.decode()


@pytest.mark.usefixtures("greeter")
def test_a_job_from_a_component_links_it_on_its_overview(owner, workspace, browser_client):
    client = browser_client(owner)
    assert client.post(SUBMIT, component_form()).status_code == 302
    job = Job.objects.get(workspace=workspace)
    assert job.spec["component"] == "greet:1"
    html = client.get(page_url(job.name)).content.decode()
    assert '<a href="/workspaces/team-ws/components/greet/1/">greet:1</a>' in html
    clone = client.get(f"{SUBMIT}?from={job.name}").content.decode()
    assert selected(clone, "component") == "greet:1"


# -- Register model --------------------------------------------------------------------------------------


def test_register_model_offers_and_registers_a_named_output(owner, workspace, submitted, browser_client):
    client = browser_client(owner)
    blob = datastore_storage(workspace.datastores.get(name="workspaceblobstore"))
    blob.save(f"azureml/{submitted.name}/model/model.pkl", ContentFile(b"pickle"))
    artifacts(workspace).save(f"{submitted.artifact_prefix}/outputs/x.txt", ContentFile(b"x"))
    html = client.get(page_url(submitted.name, "?tab=outputs")).content.decode()
    assert '<option value="output:model" data-mlflow="false">model (named output, uri_folder)</option>' in html
    response = client.post(page_url(submitted.name, "register-model"), {"path": "output:model", "name": "churn"})
    assert response.status_code == 302, response
    model = Model.objects.get(name="churn")
    assert (model.path, model.job_name) == (f"azureml/{submitted.name}/model", submitted.name)
