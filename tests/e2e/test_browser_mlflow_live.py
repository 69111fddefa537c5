"""Real command jobs that log with MLflow, watched in a real Chromium against the real studio.

Two jobs are submitted through the REST API (a `spec` YAML and a `code` zip, as `studio job create`
sends them) on `cpu-cluster` in the curated sklearn environment, whose mlflow client needs no setup
inside a job. Each logs a param and an 80-point "loss", one point every 0.2 s. The first job's
Metrics tab must show the chart growing while the job is Running and hold all 80 points once it has
Completed; then the two finished jobs are compared from the jobs list: both params side by side and
one overlaid chart. Screenshots: docs/screenshots/jobs-metrics-live-real.png, jobs-compare-real.png.

Unlike test_browser_job_metrics.py nothing is written into the database behind the studio's back:
every point goes from `mlflow.log_metric` in the job's process through the tracking API.
"""

import io
import time
import uuid
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WS = "my-workspace"
API = f"/api/v1/workspaces/{WS}"
CODE = Path(__file__).parent / "mlflow_live_job"
ENVIRONMENT = "azureml:AzureML-sklearn-1.5-py311@latest"
STEPS = 80
TERMINAL = ("Completed", "Failed", "Canceled")
# A fresh studio builds the environment (uv, from its cache after the first time) and starts a node.
START_TIMEOUT = 600  # s until the first job's chart shows up
END_TIMEOUT = 180  # s from then until both jobs have ended


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(CODE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(CODE).as_posix())
    return buffer.getvalue()


def submit(admin_api, *, display: str, experiment: str, learning_rate: str) -> str:
    spec = (
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "code: .\n"
        f"command: python train.py --learning-rate {learning_rate} --steps {STEPS} --delay 0.2\n"
        f"environment: {ENVIRONMENT}\n"
        "compute: azureml:cpu-cluster\n"
        f"experiment_name: {experiment}\n"
        f"display_name: {display}\n"
    )
    response = admin_api.post(
        f"{API}/jobs", data={"spec": spec}, files={"code": ("code.zip", code_zip(), "application/zip")}
    )
    assert response.status_code == 201, response.text
    return response.json()["name"]


def job_status(admin_api, name: str) -> str:
    return admin_api.get(f"{API}/jobs/{name}").raise_for_status().json()["status"]


def job_log(admin_api, name: str) -> str:
    text, offset = "", 0
    while True:
        response = admin_api.get(f"{API}/jobs/{name}/log", params={"from": offset}).raise_for_status()
        text += response.text
        if int(response.headers["X-Next-Offset"]) == offset:
            return text
        offset = int(response.headers["X-Next-Offset"])


def wait_ended(admin_api, name: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    job = {}
    while time.monotonic() < deadline:
        job = admin_api.get(f"{API}/jobs/{name}").raise_for_status().json()
        if job["status"] in TERMINAL:
            break
        time.sleep(1)
    assert job.get("status") == "Completed", (
        f"{name}: {job.get('status')} {job.get('status_reason', '')}\n{job_log(admin_api, name)[-4000:]}"
    )
    return job


def points(page, key: str = "loss") -> int:
    return int(page.locator(f'[data-metric="{key}"]').get_attribute("data-points") or 0)


def test_live_metrics_of_a_real_mlflow_job_then_compare(admin_page, admin_api, screenshot):
    page = admin_page
    tag = uuid.uuid4().hex[:6]
    experiment = f"mlflow-live-{tag}"
    first_display, second_display = f"live lr=0.01 {tag}", f"live lr=0.05 {tag}"
    started = time.monotonic()
    first = submit(admin_api, display=first_display, experiment=experiment, learning_rate="0.01")
    second = submit(admin_api, display=second_display, experiment=experiment, learning_rate="0.05")

    # The Metrics tab, open before the job runs: the loss chart appears once points arrive.
    page.goto(f"/workspaces/{WS}/jobs/{first}/?tab=metrics")
    metrics = page.get_by_test_id("metrics-tab")
    chart = page.locator('[data-metric="loss"]')
    try:
        expect(chart.locator("canvas")).to_be_visible(timeout=START_TIMEOUT * 1000)
    except AssertionError:
        status = job_status(admin_api, first)
        raise AssertionError(f"no loss chart; job {first} is {status}\n{job_log(admin_api, first)[-4000:]}") from None
    chart_at = time.monotonic() - started

    # Two readings a few seconds apart, both while the job is Running (checked on the server after the second).
    before = points(page)
    assert job_status(admin_api, first) == "Running"
    expect(page.locator("[data-live-note]")).to_be_visible()
    page.wait_for_timeout(3_000)
    screenshot(page, "jobs-metrics-live-real")
    after = points(page)
    status_after = job_status(admin_api, first)
    assert status_after == "Running", f"the job ended ({status_after}) before the second reading"
    expect(page.locator("#job-live")).to_have_attribute("data-status", "Running")
    assert 2 <= before < after < STEPS, (before, after)
    assert int(chart.get_attribute("data-logged")) >= after

    # The job completes: the poll stops with every point in the chart and the header says so.
    expect(metrics).to_have_attribute("data-active", "false", timeout=END_TIMEOUT * 1000)
    wait_ended(admin_api, first, timeout=60)
    expect(chart).to_have_attribute("data-points", str(STEPS))
    expect(chart).to_have_attribute("data-logged", str(STEPS))
    expect(page.locator("[data-live-note]")).to_be_hidden()
    expect(page.locator("#job-live")).to_have_attribute("data-status", "Completed")
    # learning_rate is a param, not a metric: nothing in the single-value table.
    expect(page.get_by_test_id("single-metrics")).to_be_hidden()
    log = job_log(admin_api, first)
    assert "training done" in log, log[-4000:]

    # Compare the two finished jobs from the jobs list.
    wait_ended(admin_api, second, timeout=END_TIMEOUT)
    page.goto(f"/workspaces/{WS}/jobs/?search={tag}")
    compare = page.get_by_test_id("compare-jobs")
    expect(compare).to_be_disabled()
    page.get_by_label(f"Select {first_display}").check()
    page.get_by_label(f"Select {second_display}").check()
    expect(compare).to_be_enabled()
    compare.click()
    expect(page.get_by_role("heading", name="Compare 2 jobs")).to_be_visible()
    table = page.get_by_test_id("compare-table")
    learning_rate = table.locator("tr[data-section=params]", has=page.locator("th", has_text="learning_rate"))
    # One column per job, in the order the list showed them (newest first): match each by its header.
    headers = table.locator("thead th a").all_inner_texts()
    assert sorted(headers) == sorted([first_display, second_display]), headers
    by_job = {first_display: "0.01", second_display: "0.05"}
    expect(learning_rate.locator("td")).to_have_text([by_job[h] for h in headers])
    charts = page.get_by_test_id("compare-charts")
    loss = charts.locator('[data-compare-key="loss"]')
    expect(loss.locator("canvas")).to_be_visible()
    expect(loss).to_have_attribute("data-points", str(2 * STEPS))
    expect(loss.locator(".u-legend")).to_contain_text(first_display)
    expect(loss.locator(".u-legend")).to_contain_text(second_display)
    screenshot(page, "jobs-compare-real", full_page=True)
    print(f"chart after {chart_at:.0f} s, readings {before} -> {after}, done after {time.monotonic() - started:.0f} s")
