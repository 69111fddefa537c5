"""The real `studio` console script against the real studio (web server, Celery worker, scheduler)."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tests.studio_process import free_port

pytestmark = pytest.mark.e2e

STUDIO_BIN = Path(sys.executable).parent / "studio"
WORKSPACE = "my-workspace"  # made by the studio's bootstrap
BLOBSTORE = "workspaceblobstore"


@pytest.fixture(scope="module")
def token(studio):
    return studio.token()


@pytest.fixture
def cli(studio, token, tmp_path):
    """cli(*args, **env) -> the finished `studio` process, run in tmp_path; an env value of None unsets it."""

    def run(*args, **env):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        full_env.update(STUDIO_URL=studio.url, STUDIO_TOKEN=token, STUDIO_WORKSPACE=WORKSPACE)
        for name, value in env.items():
            if value is None:
                full_env.pop(name, None)
            else:
                full_env[name] = value
        return subprocess.run(
            [str(STUDIO_BIN), *args], env=full_env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    return run


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_tree(root: Path) -> dict[str, bytes]:
    """A nested folder with text, binary and empty files; returns {relative path: bytes}."""
    files = {
        "a.csv": b"x,y\n1,2\n",
        "sub/image.bin": bytes(range(256)) * 40 + os.urandom(1000),
        "sub/deeper/notes.txt": "ünïcode\n".encode(),
        "sub/deeper/empty.txt": b"",
    }
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return files


def files_below(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# Workspaces


def test_workspace_create_show_and_list_as_json(cli):
    name = unique("cli-ws")
    created = json.loads(ok(cli("workspace", "create", "--name", name, "--display-name", "CLI test")))
    assert (created["name"], created["display_name"], created["role"]) == (name, "CLI test", "owner")

    shown = json.loads(ok(cli("workspace", "show", "--name", name)))
    assert shown["guid"] == created["guid"]

    listed = json.loads(ok(cli("workspace", "list")))
    assert {name, WORKSPACE} <= {ws["name"] for ws in listed}


def test_workspace_list_and_show_as_table(cli):
    name = unique("cli-table")
    ok(cli("workspace", "create", "-n", name, "--display-name", "Table test", "-o", "none"))

    lines = ok(cli("workspace", "list", "-o", "table")).splitlines()
    assert lines[0].split() == ["Name", "DisplayName", "Role", "StorageAccount", "CreatedAt"]
    assert set(lines[1]) == {"-", " "}
    row = next(line for line in lines if line.startswith(name + " "))
    assert "Table test" in row and "owner" in row
    # Columns line up: every row's role starts where the header's Role does.
    assert row.index("owner") == lines[0].index("Role")

    shown = ok(cli("workspace", "show", "-w", name, "-o", "table")).splitlines()
    assert len(shown) == 3 and shown[2].startswith(name + " ")


def test_workspace_show_defaults_to_the_studio_workspace_and_the_flag_wins(cli):
    other = unique("cli-flag")
    ok(cli("workspace", "create", "-n", other, "-o", "none"))
    assert json.loads(ok(cli("workspace", "show")))["name"] == WORKSPACE
    assert json.loads(ok(cli("workspace", "show", "-w", other)))["name"] == other


def test_workspace_show_as_yaml_and_tsv_matches_json(cli):
    as_json = json.loads(ok(cli("workspace", "show")))
    assert yaml.safe_load(ok(cli("workspace", "show", "-o", "yaml"))) == as_json
    fields = ok(cli("workspace", "show", "-o", "tsv")).rstrip("\n").split("\t")
    assert fields[0] == WORKSPACE and as_json["guid"] in fields


def test_bad_workspace_name_exits_1_naming_the_field(cli):
    result = cli("workspace", "create", "--name", "bad name!")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("ERROR: ")
    assert "name: " in result.stderr


def test_unknown_workspace_exits_1_naming_it(cli):
    result = cli("datastore", "list", "-w", "no-such-workspace")
    assert result.returncode == 1
    assert "ERROR: (NotFound) No workspace named 'no-such-workspace'" in result.stderr


# Datastores


def test_datastore_list_shows_the_four_with_workspaceblobstore_default(cli):
    stores = json.loads(ok(cli("datastore", "list", "-w", WORKSPACE)))
    assert {s["name"] for s in stores} == {
        "workspaceblobstore",
        "workspaceartifactstore",
        "workspaceworkingdirectory",
        "workspacefilestore",
    }
    assert [s["name"] for s in stores if s["is_default"]] == [BLOBSTORE]

    table = ok(cli("datastore", "list", "-o", "table")).splitlines()
    assert table[0].split()[:3] == ["Name", "Kind", "IsDefault"]
    assert next(line for line in table if line.startswith(BLOBSTORE + " ")).split()[1:3] == ["azure_blob", "True"]


def test_datastore_show(cli):
    store = json.loads(ok(cli("datastore", "show", "--name", BLOBSTORE)))
    assert (store["name"], store["is_default"], store["uri"]) == (
        BLOBSTORE,
        True,
        f"azureml://datastores/{BLOBSTORE}/paths/",
    )


def test_datastore_show_unknown_exits_1(cli):
    result = cli("datastore", "show", "--name", "nope")
    assert result.returncode == 1
    assert "No datastore named 'nope'" in result.stderr


def test_upload_a_file_and_download_it_back(cli, studio, tmp_path):
    prefix = unique("cli-file")
    content = os.urandom(5000) + b"\x00\r\n"
    (tmp_path / "train.csv").write_bytes(content)

    uploaded = json.loads(ok(cli("datastore", "upload", "-n", BLOBSTORE, "--src", "train.csv", "--dest", prefix)))
    assert uploaded["uploaded"] == [f"{prefix}/train.csv"]
    assert (uploaded["files"], uploaded["bytes"]) == (1, len(content))
    with studio.client() as api:  # the studio itself agrees the file is there
        entries = api.get(
            f"/api/v1/workspaces/{WORKSPACE}/datastores/{BLOBSTORE}/files", params={"path": prefix}
        ).json()
    assert [(e["path"], e["size"]) for e in entries] == [(f"{prefix}/train.csv", len(content))]

    downloaded = json.loads(
        ok(cli("datastore", "download", "-n", BLOBSTORE, "--src", f"{prefix}/train.csv", "--dest", "out"))
    )
    assert downloaded["downloaded"] == [str(Path("out") / "train.csv")]
    assert (tmp_path / "out" / "train.csv").read_bytes() == content


def test_upload_a_nested_folder_and_download_it_back(cli, tmp_path):
    prefix = unique("cli-folder")
    sent = make_tree(tmp_path / "data")

    uploaded = json.loads(ok(cli("datastore", "upload", "-n", BLOBSTORE, "--src", "data", "--dest", f"{prefix}/data")))
    assert sorted(uploaded["uploaded"]) == sorted(f"{prefix}/data/{relative}" for relative in sent)

    result = json.loads(ok(cli("datastore", "download", "-n", BLOBSTORE, "--src", f"{prefix}/data", "--dest", "copy")))
    assert result["destination"] == str(Path("copy") / "data")
    assert files_below(tmp_path / "copy" / "data") == sent


def test_datastore_uris_work_for_upload_and_download(cli, tmp_path):
    prefix = unique("cli-uri")
    (tmp_path / "one.txt").write_text("one")
    uri = f"azureml://datastores/{BLOBSTORE}/paths/{prefix}"
    ok(cli("datastore", "upload", "--src", "one.txt", "--dest", uri, "-o", "none"))
    ok(cli("datastore", "download", "--src", f"{uri}/one.txt", "--dest", "back", "-o", "none"))
    assert (tmp_path / "back" / "one.txt").read_text() == "one"


def test_a_folder_of_more_than_one_batch_arrives_whole(cli, tmp_path):
    prefix = unique("cli-many")
    (tmp_path / "many").mkdir()
    for i in range(230):
        (tmp_path / "many" / f"f{i:03}.txt").write_text(str(i))

    uploaded = json.loads(ok(cli("datastore", "upload", "-n", BLOBSTORE, "--src", "many", "--dest", prefix)))
    assert uploaded["files"] == 230 and len(set(uploaded["uploaded"])) == 230

    ok(cli("datastore", "download", "-n", BLOBSTORE, "--src", prefix, "--dest", "back", "-o", "none"))
    assert files_below(tmp_path / "back" / prefix) == files_below(tmp_path / "many")


@pytest.mark.parametrize(
    "args",
    [
        ("download", "--src", "../outside.txt", "--dest", "out"),
        ("download", "--src", "data/../../outside.txt", "--dest", "out"),
        ("upload", "--src", "local.txt", "--dest", "../outside"),
    ],
)
def test_a_path_with_dotdot_is_refused(cli, tmp_path, args):
    (tmp_path / "local.txt").write_text("x")
    result = cli("datastore", *args, "-n", BLOBSTORE)
    assert result.returncode == 1
    assert "ERROR: " in result.stderr and "path: The path must not contain '..'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_downloading_nothing_exits_1_and_writes_nothing(cli, tmp_path):
    result = cli("datastore", "download", "-n", BLOBSTORE, "--src", unique("missing"), "--dest", "out")
    assert result.returncode == 1
    assert "Nothing at" in result.stderr
    assert not (tmp_path / "out").exists()


# Connection settings


@pytest.mark.parametrize(
    ("args", "unset", "names"),
    [
        (("workspace", "list"), "STUDIO_TOKEN", "STUDIO_TOKEN"),
        (("workspace", "list"), "STUDIO_URL", "STUDIO_URL"),
        (("datastore", "list"), "STUDIO_WORKSPACE", "STUDIO_WORKSPACE"),
    ],
)
def test_missing_setting_exits_2_naming_it(cli, args, unset, names):
    result = cli(*args, **{unset: None})
    assert result.returncode == 2
    assert result.stdout == ""
    assert names in result.stderr


def test_wrong_token_exits_1_unauthorized(cli):
    result = cli("workspace", "list", STUDIO_TOKEN="stu_not-a-real-token")
    assert result.returncode == 1
    assert result.stderr.startswith("ERROR: (Unauthorized) ")


def test_flags_win_over_the_environment(cli, studio, token):
    wrong = {"STUDIO_URL": f"http://127.0.0.1:{free_port()}", "STUDIO_TOKEN": "stu_wrong", "STUDIO_WORKSPACE": "nope"}
    result = cli("datastore", "list", "--url", studio.url, "--token", token, "-w", WORKSPACE, **wrong)
    assert {s["name"] for s in json.loads(ok(result))} >= {BLOBSTORE}


def test_unreachable_studio_exits_1(cli):
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("workspace", "list", "--url", url)
    assert result.returncode == 1
    assert result.stderr.startswith(f"ERROR: cannot reach the studio at {url}: ")


def test_version_from_the_console_script(cli):
    assert ok(cli("--version")).startswith("studio ")
