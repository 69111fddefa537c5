"""Jobs in the browser: the list (filters, sorts, paging with a bounded number of queries), the submit
form (its fields become the YAML job_submit checks; errors land on the fields they name), a job's page
(Overview, Outputs + logs, Code), cancel and downloads."""

import io
import re
import zipfile
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jobs.models import Experiment, Job, JobStatus
from workspaces.storage import datastore_storage, walk_files

from .support import add_log, finish, make_job

pytestmark = pytest.mark.django_db
LIST = "/workspaces/team-ws/jobs/"
SUBMIT = "/workspaces/team-ws/jobs/submit/"


def page_url(name: str, suffix: str = "") -> str:
    return f"/workspaces/team-ws/jobs/{name}/{suffix}"


def listed(response) -> list[str]:
    return re.findall(r'<tr data-job="([^"]+)">', response.content.decode())


@pytest.fixture
def several_jobs(workspace):
    gpu = workspace.compute_clusters.create(name="gpu-cluster")
    cpu = workspace.compute_clusters.get(name="cpu-cluster")
    now = timezone.now()
    plan = [
        ("job-0", JobStatus.COMPLETED, "exp-a", {"team": "nlp"}, cpu, "Baseline"),
        ("job-1", JobStatus.FAILED, "exp-a", {"team": "vision"}, gpu, "Resnet"),
        ("job-2", JobStatus.RUNNING, "exp-b", {"team": "nlp"}, gpu, "Bert large"),
        ("job-3", JobStatus.COMPLETED, "exp-b", {}, cpu, "bert small"),
    ]
    for i, (name, status, experiment, tags, compute, display) in enumerate(plan):
        job = make_job(
            workspace, name=name, status=status, experiment=experiment, tags=tags, compute=compute, display_name=display
        )
        Job.objects.filter(pk=job.pk).update(created_at=now - timedelta(days=10 - i))


# -- the list ---------------------------------------------------------------------------------------


def test_list_shows_jobs_newest_first_with_status_badges(owner, several_jobs, browser_client):
    response = browser_client(owner).get(LIST)
    assert response.status_code == 200
    assert listed(response) == ["job-3", "job-2", "job-1", "job-0"]
    html = response.content.decode()
    assert 'class="status st-running"' in html and 'class="status st-failed"' in html
    assert "+ Submit job" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=Completed", ["job-3", "job-0"]),
        ("experiment=exp-a", ["job-1", "job-0"]),
        ("compute=gpu-cluster", ["job-2", "job-1"]),
        ("tag=team=nlp", ["job-2", "job-0"]),
        ("tag=team", ["job-2", "job-1", "job-0"]),
        ("search=bert", ["job-3", "job-2"]),
        ("search=job-1", ["job-1"]),
        ("sort=display_name", ["job-0", "job-2", "job-1", "job-3"]),
        ("sort=-name", ["job-3", "job-2", "job-1", "job-0"]),
        ("sort=name&status=Completed", ["job-0", "job-3"]),
        ("status=NoSuchStatus", ["job-3", "job-2", "job-1", "job-0"]),
    ],
)
def test_list_filters_and_sorts(owner, several_jobs, browser_client, query, expected):
    assert listed(browser_client(owner).get(f"{LIST}?{query}")) == expected


def test_list_filters_by_a_date_range_including_its_last_day(owner, several_jobs, browser_client):
    day_of = Job.objects.get(name="job-1").created_at.date()
    response = browser_client(owner).get(f"{LIST}?created_after={day_of}&created_before={day_of + timedelta(days=1)}")
    assert listed(response) == ["job-2", "job-1"]


def test_a_filter_that_matches_nothing_says_so(owner, several_jobs, browser_client):
    response = browser_client(owner).get(f"{LIST}?search=nothing-like-this")
    assert "No jobs match these filters" in response.content.decode()


def test_htmx_request_for_the_table_gets_only_the_table(owner, several_jobs, browser_client):
    response = browser_client(owner).get(f"{LIST}?status=Failed", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="jobs-table")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="jobs-table"')
    assert listed(response) == ["job-1"]
    assert "<nav" not in html and "sidenav" not in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_the_table_refreshes_its_durations_only_while_a_listed_job_is_active(owner, several_jobs, browser_client):
    """Status changes and new jobs are pushed (data-live-stream); a slow refresh keeps durations current."""
    client = browser_client(owner)
    assert 'hx-trigger="every 30s"' in client.get(LIST).content.decode()
    assert 'hx-trigger="every 30s"' not in client.get(f"{LIST}?status=Completed").content.decode()


def bulk_jobs(workspace, count: int) -> None:
    experiment = Experiment.objects.create(workspace=workspace, name="bulk")
    cluster = workspace.compute_clusters.get(name="cpu-cluster")
    Job.objects.bulk_create(
        [
            Job(
                workspace=workspace,
                name=f"bulk-{i:05d}",
                experiment=experiment,
                compute=cluster,
                status=JobStatus.COMPLETED,
                tags={"i": str(i % 7)},
            )
            for i in range(count)
        ],
        batch_size=1000,
    )


def test_list_pages_fifty_jobs_with_the_same_few_queries_for_ten_thousand_jobs(
    owner, workspace, browser_client, django_assert_max_num_queries
):
    bulk_jobs(workspace, 10_000)
    client = browser_client(owner)
    client.get(LIST)  # the session's first use
    # session, user, access (2), the live version, count, page, the metric names, the shell's workspace
    # menu (3), computes, session save (3)
    for query in ("", "?page=137", "?sort=-status&tag=i=3&page=3", "?search=bulk-099"):
        with django_assert_max_num_queries(15):
            response = client.get(LIST + query)
        assert response.status_code == 200
        assert 1 <= len(listed(response)) <= 50
    page = client.get(f"{LIST}?page=200").content.decode()
    assert "9951–10000 of 10000" in page
    assert "Page 200 of 200" in page


def test_experiments_tab_lists_experiments_with_their_job_count_and_link(owner, several_jobs, browser_client):
    html = browser_client(owner).get(f"{LIST}?tab=experiments").content.decode()
    rows = re.findall(
        r'<a href="/workspaces/team-ws/jobs/\?experiment=([^"]+)">[^<]+</a></td>\s*<td class="num">(\d+)', html
    )
    assert sorted(rows) == [("exp-a", "2"), ("exp-b", "2")]


def test_reader_sees_jobs_but_cannot_submit(reader, several_jobs, browser_client):
    client = browser_client(reader)
    assert "+ Submit job" not in client.get(LIST).content.decode()
    assert client.get(SUBMIT).status_code == 403
    assert client.post(SUBMIT, {"command": "echo hi"}).status_code == 403


def test_compute_operator_cannot_see_jobs(compute_operator, several_jobs, browser_client):
    assert browser_client(compute_operator).get(LIST).status_code == 403


def test_outsider_gets_404(outsider, several_jobs, browser_client):
    client = browser_client(outsider)
    assert client.get(LIST).status_code == 404
    assert client.get(page_url("job-1")).status_code == 404


# -- submitting -------------------------------------------------------------------------------------


def folder(*files: tuple[str, bytes]) -> dict:
    """The multipart fields a browser sends for a folder picked with webkitdirectory."""
    return {
        "code_files": [SimpleUploadedFile(path.rsplit("/", 1)[-1], content) for path, content in files],
        "code_paths": [path for path, _ in files],
    }


def form(**fields) -> dict:
    data = {
        "code_source": "upload",
        "command": "python train.py --lr ${{inputs.lr}} --data ${{inputs.data}} --out ${{outputs.model}}",
        "environment": "azureml:AzureML-minimal-py311:1",
        "compute": "cpu-cluster",
        "experiment_name": "churn",
        "display_name": "First try",
        "description": "A *first* run",
        "tags": "team=fraud\nstage=dev",
        "environment_variables": "EPOCHS=3",
        "timeout": "600",
        "input_name": ["lr", "data"],
        "input_type": ["number", "uri_folder"],
        "input_value": ["0.01", "azureml://datastores/workspaceblobstore/paths/raw/"],
        "input_mode": ["", "download"],
        "output_name": ["model"],
        "output_type": ["uri_folder"],
        "output_value": [""],
        "output_mode": ["upload"],
    }
    data.update(folder(("churn-model/train.py", b"print('hi')\n"), ("churn-model/pkg/__init__.py", b"")))
    data.update(fields)
    return data


def test_the_form_lists_environments_and_computes(owner, workspace, browser_client):
    html = browser_client(owner).get(SUBMIT).content.decode()
    assert '<option value="azureml:AzureML-minimal-py311:1"' in html
    assert '<option value="cpu-cluster" selected>' in html
    assert "webkitdirectory" in html


def test_submitting_the_form_creates_the_job_its_yaml_describes(owner, workspace, browser_client):
    response = browser_client(owner).post(SUBMIT, form())
    assert response.status_code == 302, response.content.decode()[-3000:]
    job = Job.objects.get(workspace=workspace)
    assert response["Location"] == page_url(job.name)
    assert (job.display_name, job.experiment.name, job.description) == ("First try", "churn", "A *first* run")
    assert job.tags == {"team": "fraud", "stage": "dev"}
    assert job.timeout == 600
    assert job.compute.name == "cpu-cluster" and job.environment.name == "AzureML-minimal-py311"
    assert job.spec["literal_inputs"] == {"lr": 0.01}
    assert job.spec["data_inputs"]["data"]["mode"] == "download"
    assert job.spec["outputs"]["model"]["mode"] == "upload"
    assert job.spec["environment_variables"] == {"EPOCHS": "3"}
    assert "code: ./churn-model" in job.yaml and "$schema:" in job.yaml
    storage = datastore_storage(workspace.datastores.get(name="workspaceartifactstore"))
    assert sorted(walk_files(storage, job.code_path)) == [
        f"{job.code_path}/pkg/__init__.py",
        f"{job.code_path}/train.py",
    ]


def test_a_job_without_code_runs_just_its_command(owner, workspace, browser_client):
    no_rows = {f"{kind}_{part}": [] for kind in ("input", "output") for part in ("name", "type", "value", "mode")}
    data = form(code_source="none", command="echo hello", **no_rows)
    assert browser_client(owner).post(SUBMIT, data).status_code == 302
    job = Job.objects.get(workspace=workspace)
    assert (job.code_path, job.command) == ("", "echo hello")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"command": "python train.py ${{inputs.nope}}"}, "command", "${{inputs.nope}} names no declared input"),
        ({"tags": "no equals sign"}, "tags", "write tags as name=value"),
        ({"code_files": [], "code_paths": []}, "code_files", "Choose the folder with your code"),
        ({"environment": "azureml:not-offered:1"}, "environment", "Select a valid choice"),
        ({"timeout": "-5"}, "timeout", "greater than or equal to 1"),
    ],
)
def test_errors_land_on_the_field_they_name(owner, workspace, browser_client, fields, field, message):
    response = browser_client(owner).post(SUBMIT, form(**fields))
    assert response.status_code == 400
    html = response.content.decode()
    errors = re.findall(rf'<small class="error" data-field="{field}" role="alert">([^<]*)</small>', html)
    assert any(message in e.replace("&#x27;", "'") for e in errors), errors or html[-4000:]
    assert not Job.objects.exists()


def test_errors_about_an_input_land_on_its_row(owner, workspace, browser_client):
    data = form(input_value=["0.01", "azureml:no-such-data:1"])
    response = browser_client(owner).post(SUBMIT, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "An input or output needs a fix: see below." in html
    row_error = re.search(r'data-row-error="data">([^<]*)<', html).group(1)
    assert "no-such-data" in row_error
    assert 'value="azureml:no-such-data:1"' in html  # what was typed stays
    assert "path: azureml:no-such-data:1" in html  # the submitted YAML is shown
    assert not Job.objects.exists()


def test_a_literal_that_is_not_its_type_is_refused_on_its_row(owner, workspace, browser_client):
    html = browser_client(owner).post(SUBMIT, form(input_value=["fast", "azureml:x:1"])).content.decode()
    assert "&#x27;fast&#x27; is not a number." in re.search(r'data-row-error="lr">([^<]*)<', html).group(1)


def test_a_job_name_in_use_is_refused_on_the_name_field(owner, workspace, browser_client):
    make_job(workspace, name="taken")
    html = browser_client(owner).post(SUBMIT, form(name="taken")).content.decode()
    assert "A job named &#x27;taken&#x27; already exists" in html
    assert 'data-field="name"' in html


# -- a job's page -----------------------------------------------------------------------------------


@pytest.fixture
def finished_job(workspace, owner):
    job = make_job(
        workspace,
        name="done-job",
        display_name="Finished run",
        command="python train.py",
        description="Trained **well**. <script>alert(1)</script>",
        created_by=owner,
        tags={"team": "nlp"},
        exit_code=0,
        spec={
            "literal_inputs": {"lr": 0.1},
            "data_inputs": {
                "train": {
                    "type": "uri_folder",
                    "mode": "ro_mount",
                    "datastore": "workspaceblobstore",
                    "path": "data/train",
                    "uri": "azureml://datastores/workspaceblobstore/paths/data/train",
                    "asset": "azureml:train-set:2",
                }
            },
            "outputs": {
                "model": {
                    "type": "uri_folder",
                    "mode": "rw_mount",
                    "datastore": "workspaceblobstore",
                    "path": "azureml/done-job/model",
                    "uri": "azureml://datastores/workspaceblobstore/paths/azureml/done-job/model/",
                }
            },
        },
    )
    finish(job, seconds=75)
    add_log(job, "hello <b>there</b>\n", "\x1b[31mred\x1b[0m\n")
    storage = datastore_storage(workspace.datastores.get(name="workspaceartifactstore"))
    for path, content in {
        "outputs/report.html": b"<script>alert('x')</script>",
        "outputs/sub/metrics.csv": b"a,b\n1,2\n",
        "logs/train.log": b"step 1\n",
        "user_logs/std_log.txt": b"hello\n",
        "system_logs/lifecycle.log": b"Completed\n",
        "code/train.py": b"print('hi')\n",
    }.items():
        storage.save(f"{job.artifact_prefix}/{path}", ContentFile(content))
    Job.objects.filter(pk=job.pk).update(code_path=f"{job.artifact_prefix}/code")
    job.refresh_from_db()
    return job


def test_overview_shows_properties_timeline_inputs_outputs_and_sanitized_markdown(owner, finished_job, browser_client):
    html = browser_client(owner).get(page_url("done-job")).content.decode()
    assert "Finished run" in html and 'class="status st-completed status-lg"' in html
    assert "<strong>well</strong>" in html and "<script>alert(1)</script>" not in html
    assert re.search(r"<dt>Duration</dt><dd>1m 15s</dd>", html)
    assert "/workspaces/team-ws/data/train-set/2/" in html
    assert "/workspaces/team-ws/datastores/workspaceblobstore/?path=data%2Ftrain" in html
    assert "azureml://datastores/workspaceblobstore/paths/azureml/done-job/model/" in html
    assert "/workspaces/team-ws/compute/cpu-cluster/" in html
    assert html.count('<li class="st-') == 2  # NotStarted, Completed
    assert "hx-trigger" not in html.split('id="job-live"')[1].split(">")[0]  # a finished job is not polled
    assert 'data-testid="cancel-job"' not in html


def test_an_active_job_listens_to_its_status_and_the_refresh_brings_the_overview_along(
    owner, workspace, browser_client
):
    make_job(workspace, name="busy", status=JobStatus.RUNNING)
    client = browser_client(owner)
    html = client.get(page_url("busy")).content.decode()
    assert 'data-live-stream="/workspaces/team-ws/jobs/busy/events"' in html and 'data-testid="cancel-job"' in html
    Job.objects.filter(name="busy").update(status=JobStatus.COMPLETED, status_reason="")
    poll = client.get(page_url("busy"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-live").content.decode()
    assert poll.lstrip().startswith('<div id="job-live"')
    assert "data-live-stream" not in poll and "hx-trigger" not in poll  # ended: nothing more to hear
    assert '<div id="overview" class="job-grid" hx-swap-oob="true">' in poll
    assert 'data-testid="cancel-job"' not in poll


def test_cancel_ends_a_job_not_yet_on_a_node(owner, workspace, browser_client):
    make_job(workspace, name="waiting", status=JobStatus.QUEUED)
    response = browser_client(owner).post(page_url("waiting", "cancel"))
    assert response.status_code == 302 and response["Location"] == page_url("waiting")
    assert Job.objects.get(name="waiting").status == JobStatus.CANCELED


def test_cancel_of_a_running_job_asks_its_node(owner, workspace, browser_client):
    make_job(workspace, name="running", status=JobStatus.RUNNING)
    browser_client(owner).post(page_url("running", "cancel"))
    assert Job.objects.get(name="running").status == JobStatus.CANCEL_REQUESTED


def test_cancel_of_an_ended_job_says_why_not(owner, finished_job, browser_client):
    response = browser_client(owner).post(page_url("done-job", "cancel"), follow=True)
    assert "has already ended" in response.content.decode()


@pytest.mark.parametrize("role", ["reader", "compute_operator"])
def test_reader_and_compute_operator_cannot_cancel(request, workspace, browser_client, role):
    make_job(workspace, name="running", status=JobStatus.RUNNING)
    user = request.getfixturevalue(role)
    assert browser_client(user).post(page_url("running", "cancel")).status_code == 403
    assert Job.objects.get(name="running").status == JobStatus.RUNNING


def test_outputs_tab_opens_on_the_live_log_with_the_tree_of_the_job_folder(owner, finished_job, browser_client):
    html = browser_client(owner).get(page_url("done-job") + "?tab=outputs").content.decode()
    paths = re.findall(r'data-path="([^"]+)"', html)
    assert paths == [
        "outputs/sub/metrics.csv",
        "outputs/report.html",
        "logs/train.log",
        "user_logs/std_log.txt",
        "system_logs/lifecycle.log",
    ]
    assert 'data-log-stream="/workspaces/team-ws/jobs/done-job/stream" data-log-from="0"' in html
    assert "code/train.py" not in html


def test_the_live_log_is_listed_before_the_job_uploads_it(owner, workspace, browser_client):
    make_job(workspace, name="busy", status=JobStatus.RUNNING)
    html = browser_client(owner).get(page_url("busy") + "?tab=outputs").content.decode()
    assert re.findall(r'data-path="([^"]+)"', html) == ["user_logs/std_log.txt"]
    assert '<span class="live">live</span>' in html


def test_a_long_log_opens_at_its_end(owner, workspace, browser_client):
    job = make_job(workspace, name="chatty", status=JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(log_size=5 * 1024 * 1024)
    html = browser_client(owner).get(page_url("chatty") + "?tab=outputs").content.decode()
    assert f'data-log-from="{3 * 1024 * 1024}"' in html


def test_a_file_is_shown_as_escaped_text(owner, finished_job, browser_client):
    html = browser_client(owner).get(page_url("done-job") + "?tab=outputs&path=outputs/report.html").content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<script>alert('x')" not in html


def test_the_code_tab_browses_the_snapshot(owner, finished_job, browser_client):
    html = browser_client(owner).get(page_url("done-job") + "?tab=code").content.decode()
    assert re.findall(r'data-path="([^"]+)"', html) == ["code/train.py"]
    assert "print(&#x27;hi&#x27;)" in html  # the first file is opened


def test_htmx_click_in_the_tree_swaps_the_files_pane_only(owner, finished_job, browser_client):
    response = browser_client(owner).get(
        page_url("done-job") + "?tab=outputs&path=logs/train.log", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-files"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card files-pane" id="job-files">')
    assert "step 1" in html


def test_downloads_are_attachments(owner, finished_job, browser_client):
    client = browser_client(owner)
    response = client.get(page_url("done-job", "download") + "?path=outputs/report.html")
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"<script>alert('x')</script>"


def test_download_all_zips_outputs_and_logs_without_the_code(owner, finished_job, browser_client):
    response = browser_client(owner).get(page_url("done-job", "download") + "?path=all")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == [
        "logs/train.log",
        "outputs/report.html",
        "outputs/sub/metrics.csv",
        "system_logs/lifecycle.log",
        "user_logs/std_log.txt",
    ]


def test_a_folder_downloads_as_a_zip(owner, finished_job, browser_client):
    response = browser_client(owner).get(page_url("done-job", "download") + "?path=code")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["train.py"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("../dcid.other-job/outputs/x", 400),
        ("outputs/%2e%2e/%2e%2e/x", 400),
        ("/etc/passwd", 400),
        ("secrets.txt", 404),
        ("outputs/missing.txt", 404),
    ],
)
def test_paths_outside_the_job_folders_are_refused(owner, finished_job, browser_client, path, status):
    assert browser_client(owner).get(page_url("done-job", "download") + f"?path={path}").status_code == status


def test_the_log_downloads_whole_even_while_the_job_runs(owner, workspace, browser_client):
    job = make_job(workspace, name="busy", status=JobStatus.RUNNING)
    add_log(job, "one\n", "tw", "o ✓\n")
    response = browser_client(owner).get(page_url("busy", "log"))
    assert response["Content-Disposition"] == 'attachment; filename="busy-std_log.txt"'
    assert b"".join(response.streaming_content) == "one\ntwo ✓\n".encode()


def test_a_missing_job_is_404(owner, workspace, browser_client):
    assert browser_client(owner).get(page_url("no-such-job")).status_code == 404


def test_when_a_job_ends_the_page_asks_for_the_tree_alone(owner, finished_job, browser_client):
    response = browser_client(owner).get(
        page_url("done-job") + "?tab=outputs&path=logs/train.log", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-tree"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<nav class="tree" id="job-tree"')
    assert 'aria-current="true" data-path="logs/train.log"' in html
    assert "job-log" not in html


def test_the_status_poll_of_the_files_tabs_does_not_list_the_files(owner, finished_job, browser_client):
    html = (
        browser_client(owner)
        .get(page_url("done-job") + "?tab=outputs", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-live")
        .content.decode()
    )
    assert html.lstrip().startswith('<div id="job-live"') and "job-tree" not in html


def test_a_tree_too_long_to_list_says_so_and_offers_the_zip(owner, finished_job, browser_client, monkeypatch):
    monkeypatch.setattr("jobs.selectors.MAX_TREE_ENTRIES", 3)
    for target in ("job-tree", None):
        headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": target} if target else {}
        html = browser_client(owner).get(page_url("done-job") + "?tab=outputs", **headers).content.decode()
        assert "Only the first 3 entries are listed" in html
        assert "/workspaces/team-ws/jobs/done-job/download?path=all" in html


def test_an_unreadable_artifact_store_is_reported_and_the_live_log_still_opens(
    owner, finished_job, browser_client, monkeypatch
):
    def broken(*args, **kwargs):
        raise ConnectionError("storage account unreachable")

    monkeypatch.setattr("jobs.selectors.list_folder", broken)
    response = browser_client(owner).get(page_url("done-job") + "?tab=outputs")
    html = response.content.decode()
    assert response.status_code == 200
    assert "The job&#x27;s folder could not be read: storage account unreachable" in html
    assert 'data-log-stream="/workspaces/team-ws/jobs/done-job/stream"' in html


COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: greet
version: 1
display_name: Greeter
inputs:
  who:
    type: string
  times:
    type: integer
    default: 2
  data:
    type: uri_folder
    optional: true
outputs:
  out:
    type: uri_folder
code: ./src
environment: azureml:AzureML-minimal-py311:1
command: python greet.py --who ${{inputs.who}} --times ${{inputs.times}} $[[--data ${{inputs.data}}]] --out ${{outputs.out}}
"""


@pytest.fixture
def greeter(workspace, owner):
    from assets.components.services import component_create

    files = [
        ("greet.py", SimpleUploadedFile("greet.py", b"print('hello')\n")),
        ("lib/x.py", SimpleUploadedFile("x.py", b"")),
    ]
    return component_create(workspace=workspace, user=owner, yaml_text=COMPONENT, code_files=files)


def component_form(**fields) -> dict:
    data = form(code_source="component", component="greet:1", command="", environment="", code_files=[], code_paths=[])
    data.update(input_name=["who"], input_type=["string"], input_value=["world"], input_mode=[""])
    data.update(output_name=[], output_type=[], output_value=[], output_mode=[])
    data.update(fields)
    return data


def test_the_form_offers_registered_components_with_their_interface(owner, greeter, browser_client):
    html = browser_client(owner).get(SUBMIT).content.decode()
    assert 'value="component"' in html
    option = re.search(r'<option value="greet:1"[^>]*>', html).group(0)
    assert 'data-command="python greet.py --who ${{inputs.who}}' in option
    assert "&quot;name&quot;: &quot;times&quot;" in option and "&quot;default&quot;: &quot;2&quot;" in option


def test_without_components_the_form_does_not_offer_them(owner, workspace, browser_client):
    assert 'value="component"' not in browser_client(owner).get(SUBMIT).content.decode()


def test_a_job_from_a_component_runs_its_command_code_and_environment(owner, workspace, greeter, browser_client):
    response = browser_client(owner).post(SUBMIT, component_form())
    assert response.status_code == 302, response.content.decode()[-3000:]
    job = Job.objects.get(workspace=workspace)
    assert job.command == greeter.spec["command"]
    assert job.environment.name == "AzureML-minimal-py311"
    assert job.spec["literal_inputs"] == {"times": 2, "who": "world"}
    assert list(job.spec["outputs"]) == ["out"]
    storage = datastore_storage(workspace.datastores.get(name="workspaceartifactstore"))
    assert sorted(walk_files(storage, job.code_path)) == [f"{job.code_path}/greet.py", f"{job.code_path}/lib/x.py"]


def test_a_command_and_environment_given_in_the_form_replace_the_components(owner, workspace, greeter, browser_client):
    data = component_form(command="python greet.py --loud", environment="azureml:AzureML-sklearn-1.5-py311:1")
    assert browser_client(owner).post(SUBMIT, data).status_code == 302
    job = Job.objects.get(workspace=workspace)
    assert (job.command, job.environment.name) == ("python greet.py --loud", "AzureML-sklearn-1.5-py311")


def test_a_required_component_input_left_out_is_named(owner, workspace, greeter, browser_client):
    data = component_form(input_name=[], input_type=[], input_value=[], input_mode=[])
    html = browser_client(owner).post(SUBMIT, data).content.decode()
    assert "${{inputs.who}} names no declared input" in html
    assert not Job.objects.exists()


def test_choosing_components_as_the_code_needs_a_component(owner, workspace, greeter, browser_client):
    html = browser_client(owner).post(SUBMIT, component_form(component="")).content.decode()
    assert 'data-field="component" role="alert">Choose the component to run.' in html
    assert 'data-field="command" role="alert">Give the command to run.' in html
