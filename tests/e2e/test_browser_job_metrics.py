"""A job's metrics in a real Chromium against the real studio: the chart of a running job gains points
as they are logged and stops polling when the job ends; smoothing, log scale and a combined chart;
the Images tab, params and tags; comparing two finished jobs from the jobs list; registering a model
from a job's folder, linked both ways. Screenshots land in docs/screenshots/ (jobs-metrics-*.png,
jobs-compare*.png, jobs-images.png, models-lineage.png).

Runs and their metrics are written into the running studio's database by a Django shell in the
studio's environment, as the MLflow client's calls would leave them."""

import json
import re
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.studio_process import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
WS = "my-workspace"

SEED = textwrap.dedent(
    """
    import io, json, math, os, time
    from django.core.files.base import ContentFile
    from django.utils import timezone
    from jobs.models import Experiment, Job, JobStatus, JobStatusEvent
    from tracking.models import LatestMetric, Metric
    from workspaces.models import Workspace
    from workspaces.selectors import datastore_by_name
    from workspaces.storage import datastore_storage

    seed = json.loads(os.environ["SEED"])
    ws = Workspace.objects.get(name=seed["workspace"])
    experiment, _ = Experiment.objects.get_or_create(workspace=ws, name="metrics-e2e")
    store = datastore_storage(datastore_by_name(workspace=ws, name="workspaceartifactstore"))
    now_ms = int(time.time() * 1000)

    def log(job, key, step, value, at):
        Metric.objects.create(job=job, key=key, value=value, step=step, timestamp=at)
        LatestMetric.objects.update_or_create(job=job, key=key, defaults={"value": value, "step": step, "timestamp": at})

    for spec in seed["jobs"]:
        status = JobStatus.RUNNING if spec.get("live") else JobStatus.COMPLETED
        job = Job.objects.create(
            workspace=ws, name=spec["name"], display_name=spec["display"], experiment=experiment, status=status,
            params=spec["params"], tags=spec["tags"], started_at=timezone.now(), heartbeat_at=timezone.now(),
            ended_at=None if spec.get("live") else timezone.now(), command="python train.py",
        )
        JobStatusEvent.objects.create(job=job, status=status)
        for key, values in spec.get("metrics", {}).items():
            Metric.objects.bulk_create(
                Metric(job=job, key=key, value=v, step=i, timestamp=now_ms - (len(values) - i) * 1000)
                for i, v in enumerate(values)
            )
            last = len(values) - 1
            LatestMetric.objects.create(job=job, key=key, value=values[-1], step=last, timestamp=now_ms)
        if spec.get("figure"):
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
            ax.plot([v for v in spec["metrics"]["loss"]], color="#0078d4")
            ax.set_title("training loss")
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
            store.save(f"{job.artifact_prefix}/plots/loss_curve.png", ContentFile(buffer.getvalue()))
            fig, ax = plt.subplots(figsize=(3, 3), dpi=80)
            ax.imshow([[50, 3], [4, 43]], cmap="Blues")
            ax.set_title("confusion matrix")
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
            store.save(f"{job.artifact_prefix}/confusion_matrix.png", ContentFile(buffer.getvalue()))
            store.save(f"{job.artifact_prefix}/plots/architecture.svg", ContentFile(b"<svg xmlns='http://www.w3.org/2000/svg'/>"))
            store.save(f"{job.artifact_prefix}/outputs/model/model.pkl", ContentFile(b"not really a pickle"))
        if spec.get("live"):
            for step in range(spec["live"]):
                at = int(time.time() * 1000)
                log(job, "loss", step, 2.0 * math.exp(-step / 10) + 0.05, at)
                log(job, "accuracy", step, 1 - math.exp(-step / 8), at)
                if step == 0:
                    log(job, "learning_rate", 0, 0.001, at)
                time.sleep(0.2)
            Job.objects.filter(pk=job.pk).update(status=JobStatus.COMPLETED, ended_at=timezone.now())
            JobStatusEvent.objects.create(job=job, status=JobStatus.COMPLETED)
    """
)


def seed(studio, jobs: list[dict], *, background: bool = False):
    """Write `jobs` (and their metrics) into the running studio's database."""
    env = {**studio.env, "SEED": json.dumps({"workspace": WS, "jobs": jobs})}
    command = [sys.executable, "manage.py", "shell", "-c", SEED]
    if background:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    return None


def finished_job(name: str, display: str, lr: str, scale: float, figure: bool = False) -> dict:
    return {
        "name": name,
        "display": display,
        "params": {"learning_rate": lr, "epochs": "40", "batch_size": "64"},
        "tags": {"team": "vision", "mlflow.user": "admin", "mlflow.source.name": "train.py", "mlflow.runName": display},
        "metrics": {
            "loss": [scale * 2.0 / (1 + i / 5) + 0.02 * ((i * 7) % 5) for i in range(400)],
            "accuracy": [min(0.99, 0.5 + scale * 0.45 * (1 - 1 / (1 + i / 30))) for i in range(400)],
            "test_auc": [0.9 + scale * 0.05],
            "warmup_lr": [0.001, 0.005, 0.01],
        },
        "figure": figure,
    }


def points(page, key: str) -> int:
    return int(page.locator(f'[data-metric="{key}"]').get_attribute("data-points") or 0)


def test_running_job_chart_grows_then_stops(admin_page, studio, screenshot):
    page = admin_page
    name = f"live-{uuid.uuid4().hex[:8]}"
    process = seed(
        studio,
        [{"name": name, "display": "Live training", "params": {"lr": "0.001"}, "tags": {}, "live": 45}],
        background=True,
    )
    try:
        url = f"/workspaces/{WS}/jobs/{name}/?tab=metrics"
        deadline = time.monotonic() + 30
        while page.request.get(url).status != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        page.goto(url)
        chart = page.locator('[data-metric="loss"]')
        expect(chart.locator("canvas")).to_be_visible(timeout=15_000)
        expect(page.locator("[data-live-note]")).to_be_visible()
        first = points(page, "loss")
        page.wait_for_function(
            f"""() => parseInt(document.querySelector('[data-metric="loss"]').dataset.points) > {first + 5}""",
            timeout=15_000,
        )
        screenshot(page, "jobs-metrics-live")
        expect(page.get_by_test_id("single-metrics")).to_contain_text("learning_rate")
        # The job ends: the poll stops with every point in the chart.
        expect(page.locator("#job-metrics")).to_have_attribute("data-active", "false", timeout=20_000)
        expect(chart).to_have_attribute("data-points", "45", timeout=5_000)
        expect(page.locator("[data-live-note]")).to_be_hidden()
        assert process.wait(timeout=30) == 0, process.stdout.read().decode()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()


def test_chart_options_compare_images_and_model_lineage(admin_page, studio, screenshot):
    page = admin_page
    tag = uuid.uuid4().hex[:6]
    first, second = f"resnet-a-{tag}", f"resnet-b-{tag}"
    seed(
        studio,
        [
            finished_job(first, f"resnet lr=0.01 {tag}", "0.01", 1.0, figure=True),
            finished_job(second, f"resnet lr=0.05 {tag}", "0.05", 0.7),
        ],
    )

    # Overview: params, tags, system tags folded away.
    page.goto(f"/workspaces/{WS}/jobs/{first}/")
    expect(page.get_by_test_id("job-params")).to_contain_text("learning_rate")
    tags = page.get_by_test_id("job-tags")
    expect(tags).to_contain_text("vision")
    expect(tags.get_by_text("mlflow.source.name")).to_be_hidden()
    tags.get_by_text("System tags (3)").click()
    expect(tags.get_by_text("mlflow.source.name")).to_be_visible()
    screenshot(page, "jobs-overview-params-tags", full_page=True)

    # Metrics: charts, the single-value table, options and a combined chart.
    page.get_by_role("navigation", name="Job").get_by_role("link", name="Metrics", exact=True).click()
    expect(page.locator('[data-metric="loss"] canvas')).to_be_visible()
    expect(page.locator('[data-metric="accuracy"] canvas')).to_be_visible()
    expect(page.get_by_test_id("single-metrics")).to_contain_text("test_auc")
    assert points(page, "loss") == 400
    # Off the chart, the legend shows the latest value; a step axis has whole-number ticks only.
    latest = 2.0 / (1 + 399 / 5) + 0.02 * ((399 * 7) % 5)
    expect(page.locator('[data-metric="loss"] .u-legend')).to_contain_text(f"{latest:.6g}")
    expect(page.locator('[data-metric="loss"] .u-legend')).not_to_contain_text("--")
    warmup = page.locator('[data-metric="warmup_lr"]')
    expect(warmup.locator(".u-legend")).to_contain_text("0.01")
    ticks = [float(t) for t in warmup.get_attribute("data-x-ticks").split()]
    assert ticks and all(t == int(t) for t in ticks), ticks
    screenshot(page, "jobs-metrics")
    page.get_by_label("Smoothing").fill("0.8")
    page.get_by_label("Log scale").check()
    page.get_by_test_id("overlay-button").click()
    page.locator("[data-overlay-choices]").get_by_label("accuracy").check()
    page.locator("[data-overlay-choices]").get_by_label("loss").check()
    page.get_by_test_id("overlay-button").click()
    combined = page.get_by_test_id("combined-chart")
    expect(combined.locator("h2")).to_have_text("accuracy · loss")
    expect(combined.locator(".u-legend")).to_contain_text("loss")
    page.get_by_label("X-axis").select_option("time")
    expect(page.locator('[data-metric="loss"] .u-legend')).to_contain_text("Wall time")
    screenshot(page, "jobs-metrics-options")

    # Images: rasters in a grid, SVG only as a download link.
    page.get_by_role("navigation", name="Job").get_by_role("link", name="Images", exact=True).click()
    grid = page.get_by_test_id("image-grid")
    expect(grid.locator("figure")).to_have_count(2)
    expect(grid).to_contain_text("plots/loss_curve.png")
    image = grid.locator("img").first
    image.scroll_into_view_if_needed()
    # The image may still be on its way: wait for it to load (or fail) rather than read it at once.
    assert image.evaluate(
        "img => img.complete ? img.naturalWidth > 0 : new Promise(done => {"
        " img.addEventListener('load', () => done(img.naturalWidth > 0));"
        " img.addEventListener('error', () => done(false)); })"
    )
    expect(page.get_by_test_id("svg-list")).to_contain_text("plots/architecture.svg")
    screenshot(page, "jobs-images")

    # Register a model from the job's outputs; the model and the job link to each other.
    page.get_by_role("navigation", name="Job").get_by_role("link", name="Outputs + logs", exact=True).click()
    page.get_by_test_id("register-model").locator("summary").click()
    page.get_by_test_id("register-path").select_option("outputs/model")
    page.get_by_test_id("register-name").fill(f"resnet-{tag}")
    screenshot(page, "jobs-register-model")
    page.get_by_test_id("register-submit").click()
    expect(page).to_have_url(re.compile(rf"/models/resnet-{tag}/1/$"))
    lineage = page.get_by_test_id("lineage")
    expect(lineage).to_have_text(first)
    screenshot(page, "models-lineage")
    lineage.get_by_role("link").click()
    expect(page.get_by_test_id("job-models")).to_contain_text(f"resnet-{tag}:1")

    # Compare the two from the jobs list.
    page.goto(f"/workspaces/{WS}/jobs/?search={tag}")
    compare = page.get_by_test_id("compare-jobs")
    expect(compare).to_be_disabled()
    page.get_by_label(f"Select resnet lr=0.01 {tag}").check()
    page.get_by_label(f"Select resnet lr=0.05 {tag}").check()
    expect(compare).to_be_enabled()
    compare.click()
    expect(page.get_by_role("heading", name="Compare 2 jobs")).to_be_visible()
    table = page.get_by_test_id("compare-table")
    epochs = table.locator("tr", has=page.locator("th", has_text="epochs"))
    expect(epochs).to_be_visible()
    expect(table.locator("tr", has=page.locator("th", has_text="learning_rate"))).to_contain_text("0.05")
    charts = page.get_by_test_id("compare-charts")
    expect(charts.locator('[data-compare-key="loss"] canvas')).to_be_visible()
    expect(charts.locator('[data-compare-key="loss"]')).to_have_attribute("data-points", "800")
    expect(charts.locator('[data-compare-key="loss"] .u-legend')).to_contain_text(f"resnet lr=0.05 {tag}")
    screenshot(page, "jobs-compare", full_page=True)
    page.get_by_test_id("only-differences").check()
    expect(epochs).to_be_hidden()
    expect(table.locator("tr", has=page.locator("th", has_text="learning_rate"))).to_be_visible()
    screenshot(page, "jobs-compare-differences")
