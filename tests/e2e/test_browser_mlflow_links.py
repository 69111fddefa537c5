"""The links the real mlflow client prints ("View run … at: <tracking URI>/#/experiments/<id>/runs/<id>")
open the studio's pages in Chromium: the run's job and the experiment's jobs."""

import re
import uuid

import pytest
from mlflow import MlflowClient
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WS = "my-workspace"
CLEARED_ENV = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT")


def test_the_links_the_client_prints_open_the_run_and_its_experiment(
    admin_page, studio, monkeypatch, capsys, screenshot
):
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", studio.token())
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(tracking_uri=f"{studio.url}/mlflow/v1.0/workspaces/{WS}")
    tag = uuid.uuid4().hex[:6]
    experiment_id = client.create_experiment(f"links-{tag}")
    run = client.create_run(experiment_id, run_name=f"linked run {tag}")
    capsys.readouterr()
    client.set_terminated(run.info.run_id)
    printed = capsys.readouterr().out
    run_url = re.search(r"View run .* at: (\S+)", printed).group(1)
    experiment_url = re.search(r"View experiment at: (\S+)", printed).group(1)
    assert run_url.startswith(f"{studio.url}/mlflow/v1.0/workspaces/{WS}/#/experiments/{experiment_id}/runs/")

    page = admin_page
    page.goto(run_url)
    expect(page).to_have_url(re.compile(rf"/workspaces/{WS}/jobs/{run.info.run_id}/$"))
    expect(page.locator("h1")).to_contain_text(f"linked run {tag}")

    page.goto(experiment_url)
    expect(page).to_have_url(re.compile(rf"/workspaces/{WS}/jobs/\?experiment=links-{tag}$"))
    expect(page.get_by_role("link", name=f"linked run {tag}")).to_be_visible()

    page.goto(f"{studio.url}/mlflow/v1.0/workspaces/{WS}/")  # the tracking URI itself, no route
    expect(page.get_by_role("heading", name="MLflow tracking server")).to_be_visible()
    screenshot(page, "mlflow-tracking-uri")
