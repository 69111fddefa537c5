"""Azure ML command job YAML, submitted with the real `studio job create --file` and run by the real
worker on a node of a real compute cluster; results read back through the CLI and the API."""

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

STUDIO_BIN = Path(sys.executable).parent / "studio"
WORKSPACE = "my-workspace"
CLUSTER = "yaml-suite"
INLINE_ENV = "environment:\n  image: library/python:latest\n"


@pytest.fixture(scope="module")
def token(studio):
    return studio.token()


def run_cli(studio, token, *args, cwd, timeout=240):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(STUDIO_URL=studio.url, STUDIO_TOKEN=token, STUDIO_WORKSPACE=WORKSPACE)
    return subprocess.run([str(STUDIO_BIN), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def cluster(studio, token, tmp_path_factory):
    """A cluster of this suite's own, created from YAML, with a node kept warm."""
    folder = tmp_path_factory.mktemp("cluster")
    (folder / "cluster.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
        f"name: {CLUSTER}\ntype: amlcompute\nsize: Standard_DS3_v2\n"
        "min_instances: 1\nmax_instances: 3\nidle_time_before_scale_down: 30\n"
    )
    created = json.loads(ok(run_cli(studio, token, "compute", "create", "--file", "cluster.yml", cwd=folder)))
    assert (created["name"], created["min_instances"], created["max_instances"]) == (CLUSTER, 1, 3)
    yield CLUSTER
    run_cli(studio, token, "compute", "update", "-n", CLUSTER, "--min-instances", "0", cwd=folder)


@pytest.fixture
def submit(studio, token, tmp_path, cluster):
    """submit(yaml, files={relative path: text}, *extra args) -> (CompletedProcess, job JSON or None):
    `studio job create --file job.yml --stream` in a fresh folder holding the YAML and the files."""

    def run(yaml_text: str, files: dict | None = None, *extra: str, stream: bool = True, compute: bool = True):
        folder = tmp_path / uuid.uuid4().hex[:8]
        folder.mkdir()
        for relative, content in (files or {}).items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(textwrap.dedent(content))
        text = textwrap.dedent(yaml_text)
        if "environment:" not in text:
            text += INLINE_ENV
        if compute:
            text += f"compute: azureml:{cluster}\n"
        (folder / "job.yml").write_text(text)
        args = ["job", "create", "--file", "job.yml", *extra] + (["--stream"] if stream else [])
        result = run_cli(studio, token, *args, cwd=folder)
        job = None
        if result.stdout.startswith("{"):
            job, _ = json.JSONDecoder().raw_decode(result.stdout)
        return result, job

    return run


@pytest.fixture
def cli(studio, token, tmp_path):
    return lambda *args, **kw: run_cli(studio, token, *args, cwd=kw.pop("cwd", tmp_path), **kw)


def show(cli, name) -> dict:
    return json.loads(ok(cli("job", "show", "-n", name)))


def test_literal_local_file_datastore_uri_and_data_asset_inputs(submit, cli, tmp_path):
    folder = f"suite-{uuid.uuid4().hex[:8]}"
    (tmp_path / "remote.csv").write_text("from,datastore\n")
    ok(cli("datastore", "upload", "-n", "workspaceblobstore", "--src", "remote.csv", "--dest", folder))
    (tmp_path / "asset.csv").write_text("from,asset\n")
    asset = f"suite-asset-{uuid.uuid4().hex[:6]}"
    ok(cli("data", "create", "-n", asset, "-v", "1", "--type", "uri_file", "--path", "asset.csv"))
    result, job = submit(
        f"""\
        code: src
        command: >-
          python show.py --local ${{{{inputs.local}}}} --remote ${{{{inputs.remote}}}} --asset ${{{{inputs.asset}}}}
          --epochs ${{{{inputs.epochs}}}} --rate ${{{{inputs.rate}}}} --name ${{{{inputs.name}}}} --flag ${{{{inputs.flag}}}}
        inputs:
          local:
            type: uri_file
            path: ./data/local.csv
          remote:
            type: uri_file
            path: azureml://datastores/workspaceblobstore/paths/{folder}/remote.csv
          asset:
            type: uri_file
            path: azureml:{asset}:1
          epochs: 3
          rate: 0.01
          name: two words
          flag: true
        """,
        {
            "data/local.csv": "from,laptop\n",
            "src/show.py": """\
                import argparse
                p = argparse.ArgumentParser()
                for a in ("local", "remote", "asset", "epochs", "rate", "name", "flag"):
                    p.add_argument("--" + a)
                args, rest = p.parse_known_args()
                for a in ("local", "remote", "asset"):
                    print(a, "=", open(getattr(args, a)).read().strip())
                print("epochs", int(args.epochs) * 2, "rate", float(args.rate), "name", args.name, rest, "flag", args.flag)
            """,
        },
    )
    out = ok(result)
    assert "local = from,laptop" in out
    assert "remote = from,datastore" in out
    assert "asset = from,asset" in out
    assert "epochs 6 rate 0.01 name two ['words'] flag True" in out  # as Azure ML: the value is pasted unquoted
    detail = show(cli, job["name"])
    assert detail["status"] == "Completed"
    assert detail["inputs"]["remote"]["path"] == f"azureml://datastores/workspaceblobstore/paths/{folder}/remote.csv"
    assert detail["inputs"]["asset"]["asset"] == f"azureml:{asset}:1"
    assert detail["inputs"]["local"]["path"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert detail["inputs"]["epochs"] == 3


def test_uri_folder_output_is_read_back_from_its_datastore_path(submit, cli, tmp_path):
    result, job = submit(
        """\
        command: >-
          mkdir -p ${{outputs.model}}/weights &&
          echo '{"accuracy": 0.93}' > ${{outputs.model}}/metrics.json &&
          printf 'w' > ${{outputs.model}}/weights/layer1.bin &&
          echo saved > outputs/note.txt
        outputs:
          model:
            type: uri_folder
        """,
    )
    ok(result)
    output = show(cli, job["name"])["outputs"]["model"]
    assert output["path"] == f"azureml://datastores/workspaceblobstore/paths/azureml/{job['name']}/model/"
    ok(cli("datastore", "download", "--src", output["path"].rstrip("/"), "--dest", "fetched"))
    assert json.loads((tmp_path / "fetched/model/metrics.json").read_text()) == {"accuracy": 0.93}
    assert (tmp_path / "fetched/model/weights/layer1.bin").read_text() == "w"
    downloaded = json.loads(ok(cli("job", "download", "-n", job["name"], "--all", "-p", "dl")))
    assert downloaded["files"] >= 4
    assert (tmp_path / "dl/named-outputs/model/weights/layer1.bin").read_text() == "w"
    assert (tmp_path / "dl/artifacts/outputs/note.txt").read_text() == "saved\n"
    assert "saved" not in (tmp_path / "dl/artifacts/user_logs/std_log.txt").read_text()


def test_environment_variables_and_the_job_identity_reach_the_script(submit):
    result, job = submit(
        """\
        command: echo "greeting=$GREETING seed=$SEED run=$AZUREML_RUN_ID mlflow=$MLFLOW_RUN_ID uri=$MLFLOW_TRACKING_URI"
        environment_variables:
          GREETING: hello world
          SEED: 42
        """
    )
    out = ok(result)
    name = job["name"]
    assert f"greeting=hello world seed=42 run={name} mlflow={name}" in out
    assert f"/mlflow/v1.0/workspaces/{WORKSPACE}" in out


def test_inline_image_environment_runs_on_a_bare_python(submit):
    result, _ = submit(
        """\
        command: >-
          python -c "import sys, importlib.util as u;
          print('python', sys.version_info[0], 'venv', sys.prefix != sys.base_prefix,
          'studio-packages', any(u.find_spec(m) for m in ('django', 'celery', 'httpx')))"
        """
    )
    assert "python 3 venv True studio-packages False" in ok(result)


def test_curated_environment_reference(submit, cli):
    result, job = submit(
        """\
        command: python -c "import sys; print('running on', '.'.join(map(str, sys.version_info[:2])))"
        environment: azureml:AzureML-minimal-py311@latest
        """
    )
    assert "running on 3.11" in ok(result)
    assert show(cli, job["name"])["environment"].startswith("azureml:AzureML-minimal-py311:")


def test_failing_script_fails_with_its_traceback_in_std_log(submit, cli, tmp_path):
    result, job = submit(
        """\
        code: src
        command: python train.py
        """,
        {"src/train.py": "print('about to fail', flush=True)\ndef step():\n    return 1 / 0\nstep()\n"},
    )
    assert result.returncode == 1
    assert "ZeroDivisionError" in result.stdout  # streamed live
    assert f"ERROR: Job {job['name']} ended Failed" in result.stderr
    detail = show(cli, job["name"])
    assert (detail["status"], detail["exit_code"]) == ("Failed", 1)
    assert "exited with code 1" in detail["status_reason"]
    ok(cli("job", "download", "-n", job["name"], "-p", "dl"))
    log = (tmp_path / "dl/artifacts/user_logs/std_log.txt").read_text()
    assert "about to fail" in log and "Traceback (most recent call last)" in log
    assert "line 3, in step" in log and "ZeroDivisionError: division by zero" in log


def test_timeout_cancels_the_job_and_kills_its_process_tree(submit, cli):
    marker = f"60.{uuid.uuid4().int % 10**6:06d}"
    result, job = submit(
        f"""\
        command: sleep {marker} & sleep {marker}; wait
        limits:
          timeout: 2
        """
    )
    assert result.returncode == 1
    detail = show(cli, job["name"])
    assert detail["status"] == "Canceled"
    assert "limits.timeout of 2 seconds" in detail["status_reason"]
    assert detail["duration"] < 15
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout
    assert left == "", f"processes of the job are still alive: {left}"


def test_optional_parts_with_and_without_the_input(submit):
    command = 'command: echo "args:$[[ --lr ${{inputs.lr}}]]$[[ --seed ${{inputs.seed}}]] end"\n'
    with_input, _ = submit(command + "inputs:\n  lr: 0.5\n")
    without_input, _ = submit(command)
    assert "args: --lr 0.5 end" in ok(with_input)
    assert "args: end" in ok(without_input)


def test_set_overrides_fields_of_the_yaml(submit, cli):
    result, job = submit(
        """\
        command: echo "lr=${{inputs.lr}}"
        display_name: original
        inputs:
          lr: 0.1
        """,
        None,
        "--set",
        "inputs.lr=0.25",
        "--set",
        "display_name=overridden",
        "--set",
        "tags.stage=dev",
    )
    assert "lr=0.25" in ok(result)
    detail = show(cli, job["name"])
    assert (detail["display_name"], detail["tags"]) == ("overridden", {"stage": "dev"})


def test_code_snapshot_leaves_out_what_amlignore_names(submit, cli):
    result, job = submit(
        """\
        code: src
        command: find . -type f -not -path './outputs/*' -not -path './logs/*' | sort
        """,
        {
            "src/train.py": "print()\n",
            "src/pkg/util.py": "X = 1\n",
            "src/data/big.bin": "x" * 1000,
            "src/notes.tmp": "scratch\n",
            "src/.amlignore": "data/\n*.tmp\n",
            "src/.gitignore": "pkg/\n",  # not used: .amlignore wins
        },
    )
    listed = ok(result)
    assert "./train.py" in listed and "./pkg/util.py" in listed
    assert "big.bin" not in listed and "notes.tmp" not in listed
    code = json.loads(ok(cli("job", "show", "-n", job["name"])))["code"]
    assert code.endswith(f"ExperimentRun/dcid.{job['name']}/code/")


def test_bad_spec_exits_1_naming_field_and_line_and_creates_nothing(submit, cli):
    before = json.loads(ok(cli("job", "list", "--all-results", "--compute", CLUSTER)))
    result, job = submit(
        """\
        command: echo ${{inputs.missing}}
        """,
        stream=False,
    )
    assert result.returncode == 1 and job is None
    assert "command" in result.stderr and "(line 1)" in result.stderr and "missing" in result.stderr
    result, _ = submit("command: echo\nresources:\n  bogus: 1\n", stream=False)
    assert result.returncode == 1 and "resources.bogus" in result.stderr and "(line 3)" in result.stderr
    after = json.loads(ok(cli("job", "list", "--all-results", "--compute", CLUSTER)))
    assert len(after) == len(before)


def test_list_show_cancel_and_stream_a_job_from_the_cli(submit, cli):
    result, job = submit("command: echo started; sleep 300\n", stream=False)
    ok(result)
    name = job["name"]
    deadline = time.monotonic() + 60
    while show(cli, name)["status"] != "Running" and time.monotonic() < deadline:
        time.sleep(0.3)
    listed = ok(cli("job", "list", "--status", "Running", "-o", "table"))
    assert name in listed and listed.splitlines()[0].split()[:3] == ["Name", "DisplayName", "Status"]
    assert json.loads(ok(cli("job", "cancel", "-n", name)))["status"] in ("CancelRequested", "Canceled")
    streamed = cli("job", "stream", name)  # the name as `studio job stream NAME`, or with -n
    assert streamed.returncode == 1
    assert "started" in streamed.stdout and "Status: Canceled" in streamed.stdout
    assert "Canceled by a user" in streamed.stderr
    assert [e["status"] for e in show(cli, name)["timeline"]][-1] == "Canceled"
