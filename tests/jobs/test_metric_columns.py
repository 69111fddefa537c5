"""Metric columns in the Jobs list (Azure ML's "Edit columns"): a column per chosen metric name with
each job's latest value; tracking provides the values (jobs never imports it)."""

import pytest

from jobs import hooks
from tracking.models import LatestMetric

from .support import make_job

pytestmark = pytest.mark.django_db
LIST = "/workspaces/team-ws/jobs/"


def metric(job, key, value, step=0):
    LatestMetric.objects.create(job=job, key=key, value=value, step=step, timestamp=0)


@pytest.fixture
def jobs_with_metrics(workspace):
    a = make_job(workspace, name="job-a")
    b = make_job(workspace, name="job-b")
    metric(a, "accuracy", 0.91234567, step=9)
    metric(a, "loss", 0.25)
    metric(b, "loss", 3.0)
    return a, b


def cells(html: str, job: str) -> list[str]:
    row = html.split(f'<tr data-job="{job}">')[1].split("</tr>")[0]
    return [c.split(">", 1)[1].split("<")[0] for c in row.split('<td class="num nowrap metric-col"')[1:]]


def test_edit_columns_offers_every_metric_name_of_the_workspace(client, reader, jobs_with_metrics):
    client.force_login(reader)
    html = client.get(LIST).content.decode()
    assert 'data-testid="edit-columns"' in html
    assert '<input type="checkbox" name="metric" value="accuracy" >' in html
    assert '<input type="checkbox" name="metric" value="loss" >' in html
    assert "metric-col" not in html.split("<thead>")[1].split("</thead>")[0]


def test_a_chosen_metric_becomes_a_column_with_each_jobs_latest_value(client, reader, jobs_with_metrics):
    client.force_login(reader)
    html = client.get(LIST + "?metric=loss&metric=accuracy").content.decode()
    head = html.split("<thead>")[1].split("</thead>")[0]
    assert head.index(">loss</th>") < head.index(">accuracy</th>")
    assert cells(html, "job-a") == ["0.25", "0.912346"]
    assert cells(html, "job-b") == ["3", "—"]  # job-b never logged accuracy
    assert '<input type="checkbox" name="metric" value="loss" checked>' in html


def test_the_live_refresh_of_the_table_keeps_the_columns(client, reader, jobs_with_metrics):
    client.force_login(reader)
    fragment = client.get(LIST + "?metric=loss", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="jobs-table").content.decode()
    assert fragment.lstrip().startswith('<div id="jobs-table"')
    assert 'data-live-refresh="?metric=loss"' in fragment
    assert cells(fragment, "job-a") == ["0.25"]


def test_without_a_metrics_provider_the_list_offers_no_metric_columns(client, reader, jobs_with_metrics, monkeypatch):
    """jobs knows metrics only through the provider tracking registers."""
    monkeypatch.setattr(hooks, "_provider", None)
    client.force_login(reader)
    html = client.get(LIST + "?metric=loss").content.decode()
    assert 'name="metric" value="accuracy"' not in html and "No metrics logged yet" in html
    assert cells(html, "job-a") == ["—"]  # the column asked for stays, empty
