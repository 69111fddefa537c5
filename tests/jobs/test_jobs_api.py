"""GET /jobs (filters, sorts, paging), GET /jobs/<name>, cancel, the log from an offset, the job's files."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job, JobStatus
from workspaces.services import workspace_create
from workspaces.storage import datastore_storage

from .support import add_log, finish, make_job

pytestmark = pytest.mark.django_db
BASE = "/api/v1/workspaces/team-ws/jobs"


def names(page) -> list[str]:
    return [job["name"] for job in page["value"]]


def all_pages(client, url, params=None) -> list[str]:
    found, page = [], client.get(url, params or {}).json()
    found += names(page)
    while page["next_link"]:
        page = client.get(page["next_link"]).json()
        found += names(page)
    return found


@pytest.fixture
def several_jobs(workspace, owner):
    """Five jobs created a minute apart (job-0 oldest), in two experiments, with tags and statuses."""
    gpu = workspace.compute_clusters.create(name="gpu-cluster")
    now = timezone.now()
    plan = [
        ("job-0", JobStatus.COMPLETED, "exp-a", {"team": "nlp"}, "cpu-cluster", "Baseline"),
        ("job-1", JobStatus.FAILED, "exp-a", {"team": "vision"}, "gpu-cluster", "Resnet"),
        ("job-2", JobStatus.RUNNING, "exp-b", {"team": "nlp", "draft": ""}, "gpu-cluster", "Bert large"),
        ("job-3", JobStatus.COMPLETED, "exp-b", {}, "cpu-cluster", "bert small"),
        ("job-4", JobStatus.QUEUED, "exp-a", {}, "cpu-cluster", ""),
    ]
    jobs = []
    for i, (name, status, experiment, tags, compute, display) in enumerate(plan):
        cluster = gpu if compute == "gpu-cluster" else workspace.compute_clusters.get(name="cpu-cluster")
        job = make_job(
            workspace, name=name, status=status, experiment=experiment, tags=tags, compute=cluster, display_name=display
        )
        Job.objects.filter(pk=job.pk).update(created_at=now - timedelta(minutes=10 - i))
        jobs.append(job)
    finish(jobs[0], seconds=100)
    finish(jobs[1], JobStatus.FAILED, seconds=5, exit_code=1)
    finish(jobs[3], seconds=50)
    return jobs


def test_list_is_newest_first_with_the_columns_of_az_ml_job_list(owner, several_jobs, api_client):
    page = api_client(owner).get(BASE).json()
    assert names(page) == ["job-4", "job-3", "job-2", "job-1", "job-0"]
    assert page["next_link"] is None
    first = page["value"][-1]
    assert (first["status"], first["experiment_name"], first["compute"], first["duration"]) == (
        "Completed",
        "exp-a",
        "cpu-cluster",
        100.0,
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "Completed"}, ["job-3", "job-0"]),
        ({"status": "Running,Queued"}, ["job-4", "job-2"]),
        ({"experiment": "exp-b"}, ["job-3", "job-2"]),
        ({"compute": "gpu-cluster"}, ["job-2", "job-1"]),
        ({"tag": "team=nlp"}, ["job-2", "job-0"]),
        ({"tag": "draft"}, ["job-2"]),
        ({"search": "bert"}, ["job-3", "job-2"]),
        ({"search": "job-1"}, ["job-1"]),
        ({"sort": "created"}, ["job-0", "job-1", "job-2", "job-3", "job-4"]),
        ({"sort": "-display_name"}, ["job-3", "job-1", "job-2", "job-0", "job-4"]),
        ({"status": "Completed", "compute": "cpu-cluster", "experiment": "exp-a"}, ["job-0"]),
    ],
)
def test_list_filters_and_sorts(owner, several_jobs, api_client, params, expected):
    response = api_client(owner).get(BASE, params)
    assert response.status_code == 200, response.content
    assert names(response.json()) == expected


def test_list_filters_by_creation_time(owner, several_jobs, api_client):
    client = api_client(owner)
    middle = Job.objects.get(name="job-2").created_at
    after = client.get(BASE, {"created_after": middle.isoformat()}).json()
    before = client.get(BASE, {"created_before": middle.isoformat()}).json()
    assert names(after) == ["job-4", "job-3", "job-2"]
    assert names(before) == ["job-1", "job-0"]


@pytest.mark.parametrize("sort", ["-created", "created", "name", "-status", "display_name", "duration", "-duration"])
def test_paging_visits_every_job_once_whatever_the_sort(owner, several_jobs, api_client, sort):
    client = api_client(owner)
    whole = names(client.get(BASE, {"sort": sort}).json())
    assert all_pages(client, BASE, {"sort": sort, "limit": 2}) == whole
    assert sorted(whole) == [f"job-{i}" for i in range(5)]


def test_paging_with_a_cursor_keeps_the_filters(owner, several_jobs, api_client):
    assert all_pages(api_client(owner), BASE, {"status": "Completed,Failed", "limit": 1}) == ["job-3", "job-1", "job-0"]


def test_a_job_created_while_paging_is_not_doubled(owner, several_jobs, api_client, workspace):
    client = api_client(owner)
    first = client.get(BASE, {"limit": 2}).json()
    make_job(workspace, name="job-new")  # newest: lands before the cursor, so no page shifts
    rest = all_pages(client, first["next_link"])
    assert names(first) + rest == ["job-4", "job-3", "job-2", "job-1", "job-0"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"status": "Done"}, "status"),
        ({"sort": "size"}, "sort"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"sort": "duration", "cursor": "eyJ4Ijox"}, "cursor"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"tag": "a__contains"}, "tag"),
    ],
)
def test_bad_list_parameters_answer_400_naming_them(owner, several_jobs, api_client, params, field):
    response = api_client(owner).get(BASE, params)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"][0]["field"] == field


def test_list_takes_the_same_few_queries_for_many_jobs(owner, workspace, api_client, django_assert_max_num_queries):
    for i in range(60):
        make_job(workspace, name=f"bulk-{i}", tags={"i": str(i)})
    client = api_client(owner)
    with django_assert_max_num_queries(8):
        response = client.get(BASE, {"limit": 50})
    assert len(response.json()["value"]) == 50


def test_reader_lists_and_shows_jobs(reader, several_jobs, api_client):
    client = api_client(reader)
    assert len(client.get(BASE).json()["value"]) == 5
    assert client.get(f"{BASE}/job-0").status_code == 200


def test_jobs_of_another_workspace_are_not_found(outsider, owner, several_jobs, api_client):
    other = workspace_create(user=owner, name="other-ws")
    make_job(other, name="other-job")
    client = api_client(owner)
    assert client.get(f"{BASE}/other-job").status_code == 404
    assert "other-job" not in names(client.get(BASE).json())
    assert api_client(outsider).get(f"{BASE}/job-0").status_code == 404


# One job.


def test_show_has_the_timeline_inputs_outputs_and_outcome(owner, workspace, api_client):
    job = make_job(
        workspace,
        name="shown",
        status=JobStatus.FAILED,
        description="Trains **it**",
        status_reason="The command exited with code 2. See user_logs/std_log.txt.",
        timeout=60,
        spec={
            "literal_inputs": {"lr": 0.1},
            "data_inputs": {
                "data": {
                    "type": "uri_folder",
                    "mode": "ro_mount",
                    "datastore": "workspaceblobstore",
                    "path": "raw",
                    "uri": "azureml://datastores/workspaceblobstore/paths/raw",
                    "asset": "",
                }
            },
            "outputs": {
                "model": {
                    "type": "uri_folder",
                    "mode": "rw_mount",
                    "datastore": "workspaceblobstore",
                    "path": "azureml/shown/model",
                    "uri": "azureml://datastores/workspaceblobstore/paths/azureml/shown/model/",
                }
            },
            "environment_variables": {"SEED": "1"},
        },
    )
    finish(job, JobStatus.FAILED, seconds=12.5, exit_code=2)
    body = api_client(owner).get(f"{BASE}/shown").json()
    assert (body["status"], body["exit_code"], body["duration"]) == ("Failed", 2, 12.5)
    assert body["status_reason"].startswith("The command exited with code 2")
    assert body["inputs"] == {
        "lr": 0.1,
        "data": {
            "type": "uri_folder",
            "path": "azureml://datastores/workspaceblobstore/paths/raw",
            "mode": "ro_mount",
            "asset": None,
        },
    }
    assert body["outputs"]["model"]["path"] == "azureml://datastores/workspaceblobstore/paths/azureml/shown/model/"
    assert body["environment_variables"] == {"SEED": "1"}
    assert body["limits"] == {"timeout": 60}
    assert [e["status"] for e in body["timeline"]] == ["NotStarted", "Failed"]
    assert body["services"]["Studio"]["endpoint"].endswith("/workspaces/team-ws/jobs/shown/")


def test_show_a_missing_job_is_404(owner, workspace, api_client):
    response = api_client(owner).get(f"{BASE}/nope")
    assert response.status_code == 404 and response.json()["error"]["code"] == "NotFound"


# Cancel.


def test_cancel_a_job_not_yet_on_a_node_ends_it_at_once(owner, workspace, api_client):
    make_job(workspace, name="waiting", status=JobStatus.PREPARING)
    response = api_client(owner).post(f"{BASE}/waiting/cancel")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["status_reason"]) == ("Canceled", "Canceled by a user.")


def test_cancel_a_running_job_asks_its_node_to_stop_it(owner, workspace, api_client):
    make_job(workspace, name="busy", status=JobStatus.RUNNING)
    assert api_client(owner).post(f"{BASE}/busy/cancel").json()["status"] == "CancelRequested"


def test_cancel_an_ended_job_is_refused(owner, workspace, api_client):
    make_job(workspace, name="done")
    response = api_client(owner).post(f"{BASE}/done/cancel")
    assert response.status_code == 400
    assert "already ended" in response.json()["error"]["message"]


@pytest.mark.parametrize("role", ["reader", "compute_operator"])
def test_reader_and_compute_operator_cannot_cancel(request, workspace, api_client, role):
    make_job(workspace, name="busy", status=JobStatus.RUNNING)
    assert api_client(request.getfixturevalue(role)).post(f"{BASE}/busy/cancel").status_code == 403
    assert Job.objects.get(name="busy").status == JobStatus.RUNNING


# The log from an offset.


def test_log_reads_on_from_the_offset_it_returned(owner, workspace, api_client):
    job = make_job(workspace, name="logged", status=JobStatus.RUNNING)
    add_log(job, "epoch 1\n", "épöch 2\n")
    client = api_client(owner)
    first = client.get(f"{BASE}/logged/log")
    assert first["Content-Type"].startswith("text/plain")
    assert first.content.decode() == "epoch 1\népöch 2\n"
    assert (first["X-Job-Status"], first["X-Log-Complete"]) == ("Running", "false")
    offset = int(first["X-Next-Offset"])
    assert offset == len("epoch 1\népöch 2\n".encode())
    assert client.get(f"{BASE}/logged/log", {"from": offset}).content == b""
    add_log(job, "done\n")
    finish(job)
    last = client.get(f"{BASE}/logged/log", {"from": offset})
    assert (last.content, last["X-Log-Complete"]) == (b"done\n", "true")


def test_log_with_markup_is_plain_text_never_a_page(owner, workspace, api_client):
    job = make_job(workspace, name="html", status=JobStatus.RUNNING)
    add_log(job, "<script>alert(1)</script>\x1b[31mred\x1b[0m\n")
    response = api_client(owner).get(f"{BASE}/html/log")
    assert response.content.decode() == "<script>alert(1)</script>\x1b[31mred\x1b[0m\n"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


# Files.


@pytest.fixture
def job_with_files(workspace):
    job = make_job(workspace, name="with-files")
    storage = datastore_storage(workspace.datastores.get(name="workspaceartifactstore"))
    for path, content in {
        "outputs/model.pkl": b"pickle",
        "outputs/plots/loss.png": b"png",
        "user_logs/std_log.txt": b"hello\n",
        "system_logs/lifecycle.log": b"Queued\n",
        "code/train.py": b"print()\n",
    }.items():
        storage.save(f"{job.artifact_prefix}/{path}", io.BytesIO(content))
    return job


def test_files_lists_the_job_folder_and_its_subfolders(owner, job_with_files, api_client):
    client = api_client(owner)
    root = client.get(f"{BASE}/with-files/files").json()
    assert [(e["name"], e["is_folder"]) for e in root] == [
        ("code", True),
        ("outputs", True),
        ("system_logs", True),
        ("user_logs", True),
    ]
    outputs = client.get(f"{BASE}/with-files/files", {"path": "outputs"}).json()
    assert [(e["path"], e["size"]) for e in outputs] == [("outputs/plots", None), ("outputs/model.pkl", 6)]
    one = client.get(f"{BASE}/with-files/files", {"path": "outputs/model.pkl"}).json()
    assert [e["path"] for e in one] == ["outputs/model.pkl"]


def test_file_content_is_an_attachment_and_a_folder_a_zip(owner, job_with_files, api_client):
    client = api_client(owner)
    response = client.get(f"{BASE}/with-files/files/content", {"path": "outputs/model.pkl"})
    assert b"".join(response.streaming_content) == b"pickle"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    folder = client.get(f"{BASE}/with-files/files/content", {"path": "outputs"})
    assert folder["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(folder.streaming_content))) as archive:
        assert sorted(archive.namelist()) == ["model.pkl", "plots/loss.png"]


@pytest.mark.parametrize("path", ["../other", "outputs/../../x", "%2e%2e/x", "/etc/passwd", "a\\b", "x#y"])
def test_file_paths_outside_the_job_folder_are_refused(owner, job_with_files, api_client, path):
    client = api_client(owner)
    for route in ("files", "files/content"):
        response = client.get(f"{BASE}/with-files/{route}", {"path": path})
        assert response.status_code == 400, (route, path)


def test_missing_file_is_404(owner, job_with_files, api_client):
    assert api_client(owner).get(f"{BASE}/with-files/files/content", {"path": "outputs/nope"}).status_code == 404
    assert api_client(owner).get(f"{BASE}/with-files/files", {"path": "nope"}).status_code == 404


def test_running_job_shows_its_log_file_from_the_database(owner, workspace, api_client):
    job = make_job(workspace, name="live", status=JobStatus.RUNNING)
    add_log(job, "line 1\n", "line 2\n")
    client = api_client(owner)
    root = client.get(f"{BASE}/live/files").json()
    assert [e["name"] for e in root] == ["user_logs"]
    logs = client.get(f"{BASE}/live/files", {"path": "user_logs"}).json()
    assert [(e["path"], e["size"]) for e in logs] == [("user_logs/std_log.txt", 14)]
    response = client.get(f"{BASE}/live/files/content", {"path": "user_logs/std_log.txt"})
    assert b"".join(response) == b"line 1\nline 2\n"  # an async stream
    assert response["Content-Disposition"].startswith("attachment")


def test_a_job_with_no_files_yet_lists_an_empty_folder(owner, workspace, api_client):
    make_job(workspace, name="fresh", status=JobStatus.QUEUED)
    assert api_client(owner).get(f"{BASE}/fresh/files").json() == []


@pytest.mark.parametrize("start", [3, 10, 14])  # inside the first chunk, inside the last, at the very end
def test_log_from_an_offset_inside_a_chunk_reads_the_rest_of_it(owner, workspace, api_client, start):
    job = make_job(workspace, name="mid", status=JobStatus.RUNNING)
    add_log(job, "line 1\n", "line 2\n")
    response = api_client(owner).get(f"{BASE}/mid/log", {"from": start})
    next_offset = int(response["X-Next-Offset"])
    assert next_offset == (7 if start < 7 else 14)
    assert response.content == b"line 1\nline 2\n"[start:next_offset]
