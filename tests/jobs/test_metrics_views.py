"""A job's metrics, images, params and tags in the browser: the Metrics tab and its chart data (downsampled
on the server, fetched incrementally while a job runs), the Images tab (rasters only, never SVG inline),
the Overview's parameters, tags and models, the Compare page, and registering a model from a job's folder."""

import json

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assets.models import Model
from jobs.models import JobStatus
from tracking.models import LatestMetric, Metric
from workspaces.selectors import datastore_by_name
from workspaces.storage import datastore_storage

from .support import make_job

pytestmark = pytest.mark.django_db
BASE = "/workspaces/team-ws/jobs/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def log_metric(job, key, values, *, start_ms=1_700_000_000_000):
    Metric.objects.bulk_create(
        Metric(job=job, key=key, value=v, step=i, timestamp=start_ms + i * 100) for i, v in enumerate(values)
    )
    last = len(values) - 1
    LatestMetric.objects.update_or_create(
        job=job, key=key, defaults={"value": values[-1], "step": last, "timestamp": start_ms + last * 100}
    )


@pytest.fixture
def job(workspace):
    job = make_job(
        workspace,
        name="bright-run-1",
        params={"lr": "0.01", "epochs": "10"},
        tags={"team": "vision", "mlflow.user": "olivia", "mlflow.source.name": "train.py"},
    )
    log_metric(job, "loss", [1 / (i + 1) for i in range(50)])
    log_metric(job, "accuracy", [0.93])
    return job


def artifacts(workspace):
    return datastore_storage(datastore_by_name(workspace=workspace, name="workspaceartifactstore"))


def test_metrics_summary_counts_points_and_gives_latest_values(owner, job, browser_client):
    response = browser_client(owner).get(f"{BASE}{job.name}/metrics")
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is False and body["status"] == "Completed"
    rows = {m["key"]: m for m in body["metrics"]}
    assert rows["loss"]["count"] == 50 and rows["loss"]["step"] == 49
    assert rows["accuracy"]["count"] == 1 and rows["accuracy"]["text"] == "0.93"


def test_series_gives_all_points_of_a_short_metric(owner, job, browser_client):
    body = browser_client(owner).get(f"{BASE}{job.name}/metrics/series?key=loss&x=step").json()
    assert body["full"] is True and body["sampled"] is False
    assert body["x"] == list(range(50))
    assert body["y"][0] == 1.0 and body["count"] == 50


def test_series_x_as_wall_time_is_in_seconds(owner, job, browser_client):
    body = browser_client(owner).get(f"{BASE}{job.name}/metrics/series?key=loss&x=time").json()
    assert body["x"][:2] == [1_700_000_000.0, 1_700_000_000.1]


def test_long_series_is_downsampled_on_the_server(owner, workspace, browser_client):
    job = make_job(workspace, name="long-run")
    log_metric(job, "loss", [float(i % 97) for i in range(20_000)])
    body = browser_client(owner).get(f"{BASE}{job.name}/metrics/series?key=loss").json()
    assert body["sampled"] is True and body["count"] == 20_000
    assert 100 < len(body["x"]) <= 1000 and len(body["x"]) == len(body["y"])


def test_series_after_id_returns_only_new_points(owner, workspace, browser_client):
    job = make_job(workspace, name="live-run", status=JobStatus.RUNNING)
    log_metric(job, "loss", [3.0, 2.0])
    client = browser_client(owner)
    first = client.get(f"{BASE}{job.name}/metrics/series?key=loss").json()
    Metric.objects.create(job=job, key="loss", value=1.0, step=2, timestamp=1_700_000_000_200)
    newer = client.get(f"{BASE}{job.name}/metrics/series?key=loss&after_id={first['last_id']}").json()
    assert newer["full"] is False
    assert newer["x"] == [2] and newer["y"] == [1.0]
    assert newer["last_id"] > first["last_id"]
    assert client.get(f"{BASE}{job.name}/metrics").json()["active"] is True


def test_a_point_logged_while_the_series_is_read_comes_once(owner, workspace, browser_client, monkeypatch):
    """A point that lands between the series' count and its fetch is left for the next `after_id`
    answer, so the chart neither gets it twice nor holds more points than the count says."""
    from django.db.models import QuerySet

    job = make_job(workspace, name="racing-run", status=JobStatus.RUNNING)
    log_metric(job, "loss", [3.0, 2.0])
    aggregate = QuerySet.aggregate

    def aggregate_then_log(self, *args, **kwargs):
        stats = aggregate(self, *args, **kwargs)
        if self.model is Metric and not Metric.objects.filter(job=job, step=2).exists():
            Metric.objects.create(job=job, key="loss", value=1.0, step=2, timestamp=1_700_000_000_200)
        return stats

    monkeypatch.setattr(QuerySet, "aggregate", aggregate_then_log)
    client = browser_client(owner)
    first = client.get(f"{BASE}{job.name}/metrics/series?key=loss").json()
    assert first["count"] == 2 and first["x"] == [0, 1]
    newer = client.get(f"{BASE}{job.name}/metrics/series?key=loss&after_id={first['last_id']}").json()
    assert newer["x"] == [2] and newer["y"] == [1.0]


def test_nan_and_infinity_are_gaps_in_the_series(owner, workspace, browser_client):
    job = make_job(workspace, name="nan-run")
    log_metric(job, "loss", [1.0, None, float("inf"), 0.5])
    body = browser_client(owner).get(f"{BASE}{job.name}/metrics/series?key=loss").json()
    assert body["y"] == [1.0, None, None, 0.5]


def test_bad_after_id_is_a_bad_request(owner, job, browser_client):
    response = browser_client(owner).get(f"{BASE}{job.name}/metrics/series?key=loss&after_id=x")
    assert response.status_code == 400


def test_reader_sees_metrics_and_outsider_gets_404(reader, outsider, job, browser_client):
    for suffix in ("metrics", "metrics/series?key=loss", "?tab=metrics", "?tab=images"):
        assert browser_client(reader).get(f"{BASE}{job.name}/{suffix}").status_code == 200
        assert browser_client(outsider).get(f"{BASE}{job.name}/{suffix}").status_code == 404


def test_metrics_tab_wires_the_chart_script(owner, job, browser_client):
    html = browser_client(owner).get(f"{BASE}{job.name}/?tab=metrics").content.decode()
    assert 'data-summary-url="/workspaces/team-ws/jobs/bright-run-1/metrics"' in html
    assert "vendor/uplot/uPlot.iife.min.js" in html and 'data-active="false"' in html


def test_overview_lists_params_tags_and_hides_system_tags_in_a_collapsible(owner, job, browser_client):
    html = browser_client(owner).get(f"{BASE}{job.name}/").content.decode()
    params = html[html.index('data-testid="job-params"') :]
    assert "<td>lr</td><td><code>0.01</code></td>" in params
    tags = html[html.index('data-testid="job-tags"') :]
    user_part, system_part = tags.split('data-testid="system-tags"', 1)
    assert "vision" in user_part and "mlflow.user" not in user_part
    assert "<summary>System tags (2)</summary>" in system_part and "mlflow.source.name" in system_part
    assert 'data-testid="job-metrics"' in html and "0.93" in html


def test_overview_and_model_detail_link_both_ways(owner, job, workspace, browser_client):
    storage = artifacts(workspace)
    storage.save(f"{job.artifact_prefix}/outputs/model/model.pkl", ContentFile(b"pickle"))
    client = browser_client(owner)
    response = client.post(
        f"{BASE}{job.name}/register-model", {"path": "outputs/model", "name": "risk-model", "type": "custom_model"}
    )
    assert response.status_code == 302 and response["Location"] == "/workspaces/team-ws/models/risk-model/1/"
    model = Model.objects.get(name="risk-model")
    assert model.job_name == job.name and model.path == f"{job.artifact_prefix}/outputs/model"
    assert model.datastore.name == "workspaceartifactstore"
    overview = client.get(f"{BASE}{job.name}/").content.decode()
    assert 'href="/workspaces/team-ws/models/risk-model/1/"' in overview
    detail = client.get("/workspaces/team-ws/models/risk-model/1/").content.decode()
    assert f'href="/workspaces/team-ws/jobs/{job.name}/"' in detail


def test_register_model_error_goes_back_to_outputs_with_a_message(owner, job, browser_client):
    response = browser_client(owner).post(
        f"{BASE}{job.name}/register-model", {"path": "outputs/missing", "name": "m"}, follow=True
    )
    assert b"Could not register the model" in response.content
    assert not Model.objects.exists()


def test_reader_cannot_register_a_model(reader, job, browser_client):
    response = browser_client(reader).post(f"{BASE}{job.name}/register-model", {"path": "outputs", "name": "m"})
    assert response.status_code == 403
    assert not Model.objects.exists()


def test_outputs_tab_offers_mlflow_folders_first_and_lists_mlflow_artifacts(owner, job, workspace, browser_client):
    storage = artifacts(workspace)
    storage.save(f"{job.artifact_prefix}/outputs/metrics.txt", ContentFile(b"x"))
    storage.save(f"{job.artifact_prefix}/model/MLmodel", ContentFile(b"flavors: {}\n"))
    html = browser_client(owner).get(f"{BASE}{job.name}/?tab=outputs").content.decode()
    select = html[html.index('data-testid="register-path"') :]
    assert select.index('value="model"') < select.index('value="outputs"')
    assert "model (MLflow model)" in select
    assert 'data-path="model/MLmodel"' in html


def test_images_tab_shows_rasters_and_offers_svg_only_as_download(owner, job, workspace, browser_client):
    storage = artifacts(workspace)
    storage.save(f"{job.artifact_prefix}/plots/loss.png", ContentFile(PNG))
    storage.save(f"{job.artifact_prefix}/plots/evil.svg", ContentFile(b"<svg onload=alert(1)></svg>"))
    storage.save(f"{job.artifact_prefix}/code/logo.png", ContentFile(PNG))
    client = browser_client(owner)
    html = client.get(f"{BASE}{job.name}/?tab=images").content.decode()
    assert '<img src="/workspaces/team-ws/jobs/bright-run-1/image?path=plots/loss.png"' in html
    assert "logo.png" not in html
    assert 'href="/workspaces/team-ws/jobs/bright-run-1/download?path=plots/evil.svg"' in html
    image = client.get(f"{BASE}{job.name}/image?path=plots/loss.png")
    assert image["Content-Type"] == "image/png" and image["X-Content-Type-Options"] == "nosniff"
    assert b"".join(image.streaming_content) == PNG
    assert client.get(f"{BASE}{job.name}/image?path=plots/evil.svg").status_code == 404
    download = client.get(f"{BASE}{job.name}/download?path=plots/evil.svg")
    assert download["Content-Type"] == "application/octet-stream" and "attachment" in download["Content-Disposition"]


def test_image_path_cannot_leave_the_job_folder(owner, job, browser_client):
    response = browser_client(owner).get(f"{BASE}{job.name}/image?path=../other/x.png")
    assert response.status_code in (400, 404)


def test_list_has_checkboxes_for_compare(owner, job, browser_client):
    html = browser_client(owner).get(BASE).content.decode()
    assert 'form="compare-form" id="pick-bright-run-1" hx-preserve' in html
    assert 'action="/workspaces/team-ws/jobs/compare/"' in html


def test_compare_shows_params_and_metrics_side_by_side_marking_equal_rows(owner, job, workspace, browser_client):
    other = make_job(workspace, name="bright-run-2", params={"lr": "0.1", "epochs": "10"})
    log_metric(other, "loss", [2.0, 1.5, 1.2])
    response = browser_client(owner).get(f"{BASE}compare/?job={job.name}&job={other.name}&job=nope")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Compare 2 jobs" in html
    assert '<tr data-same data-section="params"><th>epochs</th>' in html
    assert '<tr data-section="params"><th>lr</th><td><code>0.01</code></td><td><code>0.1</code></td>' in html
    assert (
        '<tr data-section="metrics"><th>accuracy</th><td class="num"><code>0.93</code></td><td class="num"><code>—</code>'
        in html
    )
    assert 'data-compare-key="loss"' in html and 'data-compare-key="accuracy"' not in html
    jobs = json.loads(html.split('<script id="compare-jobs" type="application/json">')[1].split("</script>")[0])
    assert [j["name"] for j in jobs] == [job.name, other.name]
    assert jobs[1]["series_url"] == "/workspaces/team-ws/jobs/bright-run-2/metrics/series"


def test_compare_ignores_jobs_of_other_workspaces(outsider, owner, job, browser_client):
    assert browser_client(outsider).get(f"{BASE}compare/?job={job.name}").status_code == 404
    html = browser_client(owner).get(f"{BASE}compare/?job={job.name}").content.decode()
    assert "Pick at least two jobs" in html


def test_metrics_summary_queries_do_not_grow_with_the_number_of_metrics(
    owner, job, browser_client, django_assert_num_queries
):
    client = browser_client(owner)
    client.get(f"{BASE}{job.name}/metrics")
    with CaptureQueriesContext(connection) as few:
        client.get(f"{BASE}{job.name}/metrics")
    for i in range(20):
        log_metric(job, f"extra-{i}", [1.0, 2.0])
    with django_assert_num_queries(len(few)):
        assert len(client.get(f"{BASE}{job.name}/metrics").json()["metrics"]) == 22
