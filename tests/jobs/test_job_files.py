"""A job's files as services and selectors see them: a model registered from a job (its folder or a
named output, one transaction, also through the models API), the error a failed job's log ends
with, code zipped for a new job, a folder kept between two tries of the form, and the jobs modules
importing each other without a loop."""

import ast
import io
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from assets.mlmodels.services import ModelFields
from assets.models import Model
from jobs import selectors, services
from jobs.models import JobStatus
from workspaces.downloads import zip_of_folders
from workspaces.storage import datastore_storage

from .support import add_log, make_job

pytestmark = pytest.mark.django_db


def storage_of(workspace, name="workspaceartifactstore"):
    return datastore_storage(workspace.datastores.get(name=name))


@pytest.fixture
def trained(workspace, owner):
    """A finished job with a model in ./outputs/model and a named output `best`."""
    job = make_job(
        workspace,
        name="trained",
        created_by=owner,
        spec={
            "outputs": {
                "best": {
                    "type": "mlflow_model",
                    "mode": "rw_mount",
                    "datastore": "workspaceblobstore",
                    "path": "azureml/trained/best",
                    "uri": "azureml://datastores/workspaceblobstore/paths/azureml/trained/best/",
                }
            }
        },
    )
    storage_of(workspace).save(f"{job.artifact_prefix}/outputs/model/model.pkl", ContentFile(b"pickle"))
    storage_of(workspace, "workspaceblobstore").save("azureml/trained/best/MLmodel", ContentFile(b"flavors: {}\n"))
    return job


# -- models from a job ---------------------------------------------------------------------------------


def test_a_folder_of_the_job_registers_with_the_job_as_lineage(trained, owner):
    model = services.model_register_from_job(
        job=trained, user=owner, fields=ModelFields(name="risk"), path="outputs/model"
    )
    assert (model.job_name, model.path, model.datastore.name) == (
        "trained",
        f"{trained.artifact_prefix}/outputs/model",
        "workspaceartifactstore",
    )
    assert model.source == "azureml://jobs/trained/outputs/artifacts/paths/outputs/model"


def test_a_named_output_registers_from_where_the_job_wrote_it(trained, owner):
    model = services.model_register_from_job(
        job=trained, user=owner, fields=ModelFields(name="best", type="custom_model"), output="best"
    )
    assert (model.datastore.name, model.path, model.job_name) == (
        "workspaceblobstore",
        "azureml/trained/best",
        "trained",
    )
    assert model.source == "azureml://jobs/trained/outputs/best"


def test_an_output_the_job_does_not_have_is_named_in_the_error(trained, owner):
    with pytest.raises(ValidationError) as caught:
        services.model_register_from_job(job=trained, user=owner, fields=ModelFields(name="m"), output="nope")
    assert "no output named 'nope'" in caught.value.message_dict["path"][0]
    assert not Model.objects.exists()


def test_a_failure_after_the_version_is_created_leaves_nothing_registered(trained, owner, monkeypatch):
    def broken_save(self, *args, **kwargs):
        if kwargs.get("update_fields") == ["job_name", "source"]:
            raise RuntimeError("database went away")
        return original(self, *args, **kwargs)

    original = Model.save
    monkeypatch.setattr(Model, "save", broken_save)
    with pytest.raises(RuntimeError):
        services.model_register_from_job(job=trained, user=owner, fields=ModelFields(name="m"), path="outputs/model")
    assert not Model.objects.exists()


def test_the_models_api_registers_a_job_output_by_its_azureml_uri(trained, owner, api_client):
    client = api_client(owner)
    base = "/api/v1/workspaces/team-ws/models"
    response = client.post(
        base,
        {"name": "api-model", "path": "azureml://jobs/trained/outputs/artifacts/paths/outputs/model"},
        format="json",
    )
    assert response.status_code == 201, response.content
    response = client.post(base, {"name": "api-best", "path": "azureml://jobs/trained/outputs/best"}, format="json")
    assert response.status_code == 201, response.content
    assert set(Model.objects.values_list("name", "job_name")) == {("api-model", "trained"), ("api-best", "trained")}
    missing = client.post(base, {"name": "x", "path": "azureml://jobs/no-such-job/outputs/best"}, format="json")
    assert missing.status_code == 400 and "no-such-job" in missing.content.decode()


def test_the_outputs_offered_for_a_model_start_with_the_named_outputs(trained):
    rows = selectors.job_file_tree(job=trained, tab="outputs")["tree"]
    offered = selectors.job_model_folders(job=trained, rows=rows)
    assert offered[0] == {"value": "output:best", "label": "best (named output, mlflow_model)", "mlflow": True}
    assert "outputs/model" in [o["value"] for o in offered]


# -- the error of a failed job -------------------------------------------------------------------------

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "train.py", line 3, in <module>\n'
    "    main()\n"
    "ZeroDivisionError: division by zero\n"
)


def test_the_error_is_the_last_traceback_without_the_studios_lines(workspace):
    job = make_job(workspace, name="broken", status=JobStatus.FAILED)
    add_log(job, "epoch 1\n", "Traceback (most recent call last):\nOldError: first\n", "retrying\n", TRACEBACK)
    add_log(job, "[studio] The job's process exited with code 1.\n")
    assert selectors.job_error_excerpt(job=job) == TRACEBACK.rstrip("\n")


def test_without_a_traceback_the_error_is_the_last_lines(workspace):
    job = make_job(workspace, name="broken", status=JobStatus.FAILED)
    add_log(job, "".join(f"line {i}\n" for i in range(50)))
    excerpt = selectors.job_error_excerpt(job=job).splitlines()
    assert excerpt == [f"line {i}" for i in range(30, 50)]


def test_a_long_traceback_shows_its_last_lines(workspace):
    job = make_job(workspace, name="broken", status=JobStatus.FAILED)
    add_log(
        job, "Traceback (most recent call last):\n" + "".join(f"  frame {i}\n" for i in range(40)) + "KeyError: 'x'\n"
    )
    excerpt = selectors.job_error_excerpt(job=job).splitlines()
    assert len(excerpt) == selectors.ERROR_LINES and excerpt[-1] == "KeyError: 'x'"


def test_a_job_that_did_not_fail_has_no_error(workspace):
    job = make_job(workspace, name="fine", status=JobStatus.COMPLETED)
    add_log(job, TRACEBACK)
    assert selectors.job_error_excerpt(job=job) == ""


# -- code for a new job --------------------------------------------------------------------------------


def test_zip_of_folders_names_files_relative_to_the_root(workspace):
    storage = storage_of(workspace)
    for path in ("root/a/x.txt", "root/a/deep/y.txt", "root/b/z.txt", "root/c/left-out.txt"):
        storage.save(path, ContentFile(path.encode()))
    with zipfile.ZipFile(zip_of_folders(storage, "root", ("a", "b"))) as archive:
        assert sorted(archive.namelist()) == ["a/deep/y.txt", "a/x.txt", "b/z.txt"]
        assert archive.read("b/z.txt") == b"root/b/z.txt"
    with zipfile.ZipFile(zip_of_folders(storage, "root/a", memory=1024)) as archive:
        assert sorted(archive.namelist()) == ["deep/y.txt", "x.txt"]


def test_a_jobs_code_snapshot_zips_for_a_new_job(workspace):
    job = make_job(workspace, name="with-code", code_path="ExperimentRun/dcid.with-code/code")
    storage_of(workspace).save(f"{job.code_path}/train.py", ContentFile(b"print(1)\n"))
    with zipfile.ZipFile(services.job_code_archive(job=job)) as archive:
        assert archive.namelist() == ["train.py"]
    assert services.job_code_archive(job=make_job(workspace, name="no-code")) is None


def test_a_staged_folder_is_only_its_owners(workspace, owner, contributor):
    archive = io.BytesIO(b"PK zip bytes")
    token = services.code_stage(workspace=workspace, user=owner, archive=archive)
    assert services.code_staged(workspace=workspace, user=owner, token=token).read() == b"PK zip bytes"
    assert services.code_staged(workspace=workspace, user=contributor, token=token) is None
    assert services.code_staged(workspace=workspace, user=owner, token="../../etc/passwd") is None
    services.code_unstage(workspace=workspace, user=owner, token=token)
    assert services.code_staged(workspace=workspace, user=owner, token=token) is None


# -- the structure -------------------------------------------------------------------------------------


def test_a_preparing_job_goes_to_its_node_by_the_tasks_name(workspace, monkeypatch, django_capture_on_commit_callbacks):
    from jobs.tasks import run_job

    sent = []
    monkeypatch.setattr(services.current_app, "send_task", lambda name, **kw: sent.append((name, kw)))
    job = make_job(workspace, name="ready", status=JobStatus.PREPARING, environment=None)
    monkeypatch.setattr(services, "_environment_ready", lambda environment: "ready")
    with django_capture_on_commit_callbacks(execute=True):
        services.job_dispatch(job_id=job.pk)
    assert sent == [(run_job.name, {"args": [job.pk], "queue": job.compute.queue})]


def test_the_jobs_modules_import_each_other_without_a_loop():
    """Every import counted, those inside functions too."""
    folder = Path(services.__file__).parent
    modules = {path.stem for path in folder.glob("*.py")}
    graph = {}
    for path in folder.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jobs"):
                parts = node.module.split(".")
                imported |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
        graph[path.stem] = (imported & modules) - {path.stem}

    def reaches(start, goal, seen):
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    assert [m for m in sorted(graph) if reaches(m, m, {m})] == []
