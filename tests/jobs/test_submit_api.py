"""POST /api/v1/workspaces/<ws>/jobs: the spec with its code, local inputs and conda file in one request
(SECURITY.md 9, 24: who may submit, and bad specs answer 400 naming the field and line, creating nothing)."""

import io
import tarfile

import pytest

from assets.data.services import DataAssetSpec, data_asset_create
from assets.models import Environment
from jobs.models import Job, JobStatus
from workspaces.storage import datastore_storage, walk_files

from .support import spec, upload, zip_bytes

pytestmark = pytest.mark.django_db
BASE = "/api/v1/workspaces/team-ws/jobs"


def stored_files(workspace, datastore: str, prefix: str = "") -> list[str]:
    return list(walk_files(datastore_storage(workspace.datastores.get(name=datastore)), prefix))


def submit(client, yaml_text: str, **parts):
    return client.post(BASE, {"spec": yaml_text, **parts}, format="multipart")


def test_submit_json_spec_creates_a_preparing_job_with_its_literal_inputs(owner, workspace, api_client):
    yaml_text = spec(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: echo ${{inputs.greeting}} > ${{outputs.out}}/x.txt\n"
        "display_name: Hello\nexperiment_name: greetings\ntags: {team: nlp}\n"
        "inputs:\n  greeting: hello\n"
        "outputs:\n  out:\n    type: uri_folder\n"
    )
    response = api_client(owner).post(BASE, {"spec": yaml_text}, format="json")
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["status"] == JobStatus.PREPARING  # the inline environment is not built yet
    assert (job["display_name"], job["experiment_name"], job["compute"], job["tags"]) == (
        "Hello",
        "greetings",
        "cpu-cluster",
        {"team": "nlp"},
    )
    assert job["inputs"] == {"greeting": "hello"}
    assert job["outputs"]["out"]["path"] == f"azureml://datastores/workspaceblobstore/paths/azureml/{job['name']}/out/"
    assert job["environment"].startswith("azureml:CliV2AnonymousEnvironment:")
    assert [e["status"] for e in job["timeline"]] == ["NotStarted", "Starting", "Preparing"]
    assert all(e["time"] for e in job["timeline"])
    assert Job.objects.get(name=job["name"]).created_by == owner


def test_submit_multipart_stores_the_code_snapshot_and_local_inputs(owner, workspace, api_client):
    yaml_text = spec(
        "code: src\n"
        "command: python train.py --data ${{inputs.table}} --images ${{inputs.images}}\n"
        "inputs:\n"
        "  table:\n    type: uri_file\n    path: ./data/train.csv\n"
        "  images:\n    type: uri_folder\n    path: ./images\n"
    )
    code = zip_bytes({"train.py": b"print('hi')\n", "pkg/util.py": b"X = 1\n"})
    images = zip_bytes({"cat.png": b"\x89PNG", "sub/dog.png": b"\x89PNG2"})
    response = submit(
        api_client(owner),
        yaml_text,
        code=upload("code.zip", code),
        **{"inputs.table": upload("train.csv", b"a,b\n1,2\n"), "inputs.images": upload("images.zip", images)},
    )
    assert response.status_code == 201, response.content
    job = response.json()
    prefix = f"ExperimentRun/dcid.{job['name']}/code"
    assert sorted(stored_files(workspace, "workspaceartifactstore", prefix)) == [
        f"{prefix}/pkg/util.py",
        f"{prefix}/train.py",
    ]
    assert job["code"] == f"azureml://datastores/workspaceartifactstore/paths/{prefix}/"
    table, images_input = job["inputs"]["table"], job["inputs"]["images"]
    assert table["type"] == "uri_file" and table["path"].endswith("/train.csv")
    assert table["path"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    blob = datastore_storage(workspace.datastores.get(name="workspaceblobstore"))
    stored_table = table["path"].split("/paths/", 1)[1]
    assert blob.open(stored_table).read() == b"a,b\n1,2\n"
    folder = images_input["path"].split("/paths/", 1)[1].rstrip("/")
    assert sorted(walk_files(blob, folder)) == [f"{folder}/cat.png", f"{folder}/sub/dog.png"]


def test_submit_accepts_a_tar_gz_code_archive(owner, workspace, api_client):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("main.py")
        info.size = 6
        archive.addfile(info, io.BytesIO(b"print()"[:6]))
    response = submit(
        api_client(owner), spec("code: .\ncommand: python main.py\n"), code=upload("c.tgz", buffer.getvalue())
    )
    assert response.status_code == 201, response.content
    name = response.json()["name"]
    assert stored_files(workspace, "workspaceartifactstore", f"ExperimentRun/dcid.{name}/code") == [
        f"ExperimentRun/dcid.{name}/code/main.py"
    ]


def test_submit_with_a_local_conda_file_sends_its_content(owner, workspace, api_client):
    yaml_text = (
        "command: python -c 'import sys'\n"
        "environment:\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest\n  conda_file: conda.yml\n"
    )
    conda = "name: env\ndependencies:\n  - python=3.11\n  - pip:\n    - six\n"
    response = submit(api_client(owner), yaml_text, conda_file=upload("conda.yml", conda.encode()))
    assert response.status_code == 201, response.content
    name, version = response.json()["environment"].removeprefix("azureml:").split(":")
    assert "six" in Environment.objects.get(workspace=workspace, name=name, version=version).conda_file


def test_submit_resolves_datastore_uris_and_data_asset_references(owner, workspace, api_client):
    blob = datastore_storage(workspace.datastores.get(name="workspaceblobstore"))
    blob.save("raw/iris.csv", io.BytesIO(b"x\n"))
    data_asset_create(
        workspace=workspace,
        user=owner,
        spec=DataAssetSpec(
            name="iris", version="1", type="uri_file", path="azureml://datastores/workspaceblobstore/paths/raw/iris.csv"
        ),
    )
    yaml_text = spec(
        "command: cat ${{inputs.uri}} ${{inputs.asset}}\n"
        "inputs:\n"
        "  uri:\n    type: uri_file\n    path: azureml://datastores/workspaceblobstore/paths/raw/iris.csv\n"
        "  asset:\n    type: uri_file\n    path: azureml:iris:1\n"
    )
    response = api_client(owner).post(BASE, {"spec": yaml_text}, format="json")
    assert response.status_code == 201, response.content
    inputs = response.json()["inputs"]
    assert inputs["uri"]["path"] == "azureml://datastores/workspaceblobstore/paths/raw/iris.csv"
    assert inputs["asset"]["asset"] == "azureml:iris:1"
    assert inputs["asset"]["path"] == "azureml://datastores/workspaceblobstore/paths/raw/iris.csv"


# Bad specs: 400 naming the field and its line; nothing created.


def assert_nothing_created(workspace):
    assert not Job.objects.filter(workspace=workspace).exists()
    assert stored_files(workspace, "workspaceartifactstore") == []
    assert stored_files(workspace, "workspaceblobstore", "LocalUpload") == []


def error_of(response) -> tuple[str, str]:
    assert response.status_code == 400, response.content
    detail = response.json()["error"]["details"][0]
    return detail["field"], detail["message"]


@pytest.mark.parametrize(
    ("yaml_text", "field", "line"),
    [
        (spec("command: echo hi\ncompute: cpu-cluster\nbogus_field: 1\n"), "bogus_field", 3),
        (spec("command: echo ${{inputs.missing}}\ninputs:\n  a: 1\n"), "command", 1),
        (spec("command: echo ${{ inputs.a + 1 }}\ninputs:\n  a: 1\n"), "command", 1),
        (spec("command: echo hi\ncompute: azureml:gpu-cluster\n"), "compute", 2),
        (spec("command: echo hi\nlimits:\n  timeout: soon\n"), "limits.timeout", 3),
        (spec("command: echo hi\nname: ../../etc\n"), "name", 2),
        (spec("command: echo hi\nexperiment_name: a/b\n"), "experiment_name", 2),
        ("command: echo hi\nenvironment: azureml:no-such-env:1\n", "environment", 2),
        (spec("type: pipeline\njobs: {}\n"), "type", 1),
        (
            spec(
                "command: cat ${{inputs.d}}\ninputs:\n  d:\n    type: uri_folder\n    path: azureml://datastores/nope/paths/x\n"
            ),
            "inputs.d.path",
            5,
        ),
    ],
    ids=[
        "unknown-field",
        "undeclared-binding",
        "not-a-binding",
        "missing-compute",
        "bad-timeout",
        "traversal-name",
        "bad-experiment-name",
        "missing-environment",
        "unsupported-type",
        "missing-datastore",
    ],
)
def test_bad_spec_answers_400_naming_field_and_line_and_creates_nothing(
    owner, workspace, api_client, yaml_text, field, line
):
    response = submit(api_client(owner), "code: src\n" + yaml_text, code=upload("code.zip", zip_bytes({"a.py": b""})))
    got_field, message = error_of(response)
    assert got_field == field
    assert f"(line {line + 1})" in message  # +1: the `code:` line put first
    assert_nothing_created(workspace)


def test_local_input_without_its_part_names_the_input(owner, workspace, api_client):
    yaml_text = spec("command: cat ${{inputs.t}}\ninputs:\n  t:\n    type: uri_file\n    path: ./t.csv\n")
    field, message = error_of(submit(api_client(owner), yaml_text))
    assert field == "inputs.t.path" and "inputs.t" in message and "(line 5)" in message
    assert_nothing_created(workspace)


def test_failure_after_an_input_was_uploaded_removes_the_upload(owner, workspace, api_client):
    yaml_text = spec(
        "command: cat ${{inputs.a}} ${{inputs.b}}\ninputs:\n"
        "  a:\n    type: uri_file\n    path: ./a.csv\n"
        "  b:\n    type: uri_file\n    path: azureml:no-such-data:1\n"
    )
    response = submit(api_client(owner), yaml_text, **{"inputs.a": upload("a.csv", b"1\n")})
    assert error_of(response)[0] == "inputs.b.path"
    assert_nothing_created(workspace)


def test_code_archive_with_a_path_outside_the_folder_is_refused(owner, workspace, api_client):
    archive = zip_bytes({"../../evil.py": b"x"})
    response = submit(api_client(owner), spec("code: src\ncommand: python x.py\n"), code=upload("c.zip", archive))
    assert error_of(response)[0] == "code"
    assert_nothing_created(workspace)


def test_spec_naming_code_without_the_archive_is_refused(owner, workspace, api_client):
    field, message = error_of(submit(api_client(owner), spec("code: src\ncommand: python x.py\n")))
    assert field == "code" and "(line 1)" in message
    assert_nothing_created(workspace)


def test_unknown_multipart_part_is_named(owner, workspace, api_client):
    response = submit(api_client(owner), spec("command: echo\n"), inputz=upload("x", b"1"))
    assert error_of(response)[0] == "inputz"
    assert_nothing_created(workspace)


def test_missing_spec_is_named(owner, workspace, api_client):
    assert error_of(api_client(owner).post(BASE, {}, format="multipart"))[0] == "spec"


def test_malformed_yaml_names_the_line(owner, workspace, api_client):
    field, message = error_of(submit(api_client(owner), "command: echo\nenvironment: [unclosed\n"))
    assert field == "yaml" and "line 3" in message


def test_a_second_job_with_the_same_name_is_a_conflict(owner, workspace, api_client):
    client = api_client(owner)
    yaml_text = spec("name: my-run-1\ncommand: echo\n")
    assert client.post(BASE, {"spec": yaml_text}, format="json").status_code == 201
    response = client.post(BASE, {"spec": yaml_text}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["details"][0]["field"] == "name"
    assert Job.objects.filter(workspace=workspace).count() == 1


# Who may submit (SECURITY.md 9).


@pytest.mark.parametrize("role", ["reader", "compute_operator"])
def test_reader_and_compute_operator_cannot_submit_a_job(request, workspace, api_client, role):
    user = request.getfixturevalue(role)
    response = api_client(user).post(BASE, {"spec": spec("command: echo\n")}, format="json")
    assert response.status_code == 403
    assert not Job.objects.exists()


@pytest.mark.parametrize("role", ["contributor", "data_scientist"])
def test_contributor_and_data_scientist_can_submit_a_job(request, workspace, api_client, role):
    user = request.getfixturevalue(role)
    assert api_client(user).post(BASE, {"spec": spec("command: echo\n")}, format="json").status_code == 201


def test_outsider_cannot_submit_into_a_foreign_workspace(workspace, outsider, api_client):
    assert api_client(outsider).post(BASE, {"spec": spec("command: echo\n")}, format="json").status_code == 404
    assert not Job.objects.exists()


@pytest.mark.parametrize("timeout", ["-5", "0", str(10**30)])
def test_a_timeout_out_of_range_answers_400_naming_limits_timeout(owner, workspace, api_client, timeout):
    """SECURITY 24: a negative or huge limits.timeout is the user's error, not the database's."""
    yaml_text = spec(f"command: echo hi\nlimits:\n  timeout: {timeout}\n")
    field, message = error_of(submit(api_client(owner), yaml_text))
    assert field == "limits.timeout"
    assert "from 1 to 2147483647 seconds" in message and "(line 3)" in message
    assert_nothing_created(workspace)
