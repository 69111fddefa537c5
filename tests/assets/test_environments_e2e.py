"""Environments against the real studio (uvicorn web server, Celery worker): a real uv build through
the worker, the live build log over Server-Sent Events with a reconnect, and the `studio` CLI."""

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.studio_process import ADMIN_PASSWORD, ADMIN_USER

pytestmark = pytest.mark.e2e

WORKSPACE = "my-workspace"
API = f"/api/v1/workspaces/{WORKSPACE}/environments"
STUDIO_BIN = Path(sys.executable).parent / "studio"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def api(studio):
    with studio.client() as client:
        yield client


@pytest.fixture(scope="module")
def browser_session(studio):
    """An httpx client signed in through the login form, as a browser is (the events route is a page route)."""
    client = httpx.Client(base_url=studio.url, follow_redirects=True, timeout=60)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    client.post(
        "/accounts/login/", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert "sessionid" in client.cookies
    yield client
    client.close()


def wait_for_build(api, name: str, version: str = "1", timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        environment = api.get(f"{API}/{name}/versions/{version}").json()
        if environment["build_status"] in ("Succeeded", "Failed"):
            return environment
        time.sleep(0.3)
    raise TimeoutError(f"{name}:{version} is still {environment['build_status']}")


def read_events(client, url: str, *, last_event_id: str | None = None, stop_after_lines: int | None = None):
    """The events of one connection to `url`, as (event, id, data); hangs up after `stop_after_lines`."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    events, lines = [], 0
    with client.stream("GET", url, headers=headers, timeout=httpx.Timeout(120, read=60)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = {"event": "message", "id": None, "data": []}
        for raw in response.iter_lines():
            if raw == "":
                if event["data"] or event["event"] != "message":
                    events.append((event["event"], event["id"], "\n".join(event["data"])))
                    if event["event"] == "message":
                        lines += 1
                    if event["event"] == "end" or (stop_after_lines and lines >= stop_after_lines):
                        break
                event = {"event": "message", "id": None, "data": []}
                continue
            if raw.startswith(":"):
                continue
            field, _, value = raw.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                event["data"].append(value)
            elif field in ("event", "id"):
                event[field] = value
    return events


def test_a_real_build_through_the_worker_succeeds_and_its_venv_imports_the_package(api):
    name = unique("six-env")
    created = api.post(API, json={"name": name, "pip_requirements": "six\n"})
    assert created.status_code == 201, created.text
    environment = wait_for_build(api, name)
    assert environment["build_status"] == "Succeeded", environment["build"]["error"]
    python = environment["python_path"]
    assert python.endswith(f"/registry/{environment['build']['spec_hash']}/venv/bin/python")
    result = subprocess.run([python, "-c", "import six; print(six.__version__)"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # A second environment with the same packages is the same image: already built, nothing queued.
    again = api.post(API, json={"name": unique("same"), "pip_requirements": "# same\nsix"}).json()
    assert again["build"]["spec_hash"] == environment["build"]["spec_hash"]
    assert again["build_status"] == "Succeeded"


def test_the_live_build_log_resumes_after_a_reconnect_without_losing_or_doubling_a_line(api, browser_session):
    name = unique("stream-env")
    assert api.post(API, json={"name": name, "pip_requirements": "six\nidna\n"}).status_code == 201
    url = f"/workspaces/{WORKSPACE}/environments/{name}/1/build-log/events"
    # Connect at once (the build is queued or running), hang up after three lines, come back.
    first = read_events(browser_session, url, stop_after_lines=3)
    first_lines = [e for e in first if e[0] == "message"]
    assert len(first_lines) == 3
    assert first[0][0] == "status"
    second = read_events(browser_session, url, last_event_id=first_lines[-1][1])
    assert second[-1][0] == "end"
    assert '"status": "Succeeded"' in second[-1][2]
    streamed = [e[2] for e in first_lines + [e for e in second if e[0] == "message"]]
    log = api.get(f"{API}/{name}/versions/1/build-log").json()
    assert log["finished"]
    assert streamed == log["content"].rstrip("\n").split("\n")
    assert int([e for e in second if e[0] == "message"][-1][1]) == log["next_offset"]
    # ?from=<offset> resumes the same way, for clients that cannot set headers.
    from_offset = read_events(browser_session, f"{url}?from={first_lines[0][1]}")
    assert [e[2] for e in from_offset if e[0] == "message"] == streamed[1:]


def test_a_failed_build_streams_its_reason_and_can_be_rebuilt(api, browser_session):
    name = unique("gpu-env")
    conda = "dependencies:\n  - python=3.11\n  - cudatoolkit=11.8\n"
    assert api.post(API, json={"name": name, "conda_file": conda}).status_code == 201
    environment = wait_for_build(api, name)
    assert environment["build"]["error"] == "Package 'cudatoolkit' from conda_file has no PyPI equivalent."
    events = read_events(browser_session, f"/workspaces/{WORKSPACE}/environments/{name}/1/build-log/events")
    assert events[-1][0] == "end" and "no PyPI equivalent" in events[-1][2]
    rebuilt = api.post(f"{API}/{name}/versions/1/build")
    assert rebuilt.status_code == 202
    assert wait_for_build(api, name)["build_status"] == "Failed"


@pytest.fixture(scope="module")
def cli(studio):
    token = studio.token()

    def run(*args, cwd):
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env.update(STUDIO_URL=studio.url, STUDIO_TOKEN=token, STUDIO_WORKSPACE=WORKSPACE)
        return subprocess.run([str(STUDIO_BIN), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)

    return run


def test_cli_creates_from_yaml_with_a_relative_conda_file_and_follows_the_build_log(cli, tmp_path):
    name = unique("cli-env")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "deps").mkdir()
    (tmp_path / "env" / "deps" / "conda.yml").write_text("dependencies:\n  - python=3.11\n  - pip:\n    - six\n")
    (tmp_path / "env" / "env.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
        f"name: {name}\nversion: 7\n"
        "image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest\n"
        "conda_file: deps/conda.yml\n"
    )
    created = cli("environment", "create", "--file", "env/env.yml", "-o", "yaml", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert f"id: azureml:{name}:7" in created.stdout

    log = cli("environment", "build-log", name, "7", cwd=tmp_path)
    assert log.returncode == 0, log.stderr
    assert "+ six==" in log.stdout and "Succeeded in" in log.stdout.splitlines()[-1]

    table = cli("environment", "list", "-o", "table", cwd=tmp_path)
    assert re.search(rf"^{name}\s+7\s+Succeeded\s+mcr\.microsoft\.com", table.stdout, re.MULTILINE), table.stdout
    shown = cli("environment", "show", "-n", name, "--label", "latest", "-o", "tsv", cwd=tmp_path)
    assert shown.stdout.startswith(f"azureml:{name}:7\t")
    curated = cli("environment", "list", "--registry-name", "azureml", "-o", "tsv", cwd=tmp_path)
    assert "AzureML-sklearn-1.5-py311" in curated.stdout

    assert cli("environment", "archive", "-n", name, "-v", "7", cwd=tmp_path).returncode == 0
    assert name not in cli("environment", "list", "-o", "tsv", cwd=tmp_path).stdout


def test_cli_bad_yaml_names_the_field_and_line_and_a_failed_build_exits_1(cli, tmp_path):
    (tmp_path / "bad.yml").write_text("name: bad-env\nimage: 5\ntags: [x]\n")
    bad = cli("environment", "create", "--file", "bad.yml", cwd=tmp_path)
    assert bad.returncode == 1
    assert "tags: Not a valid mapping type (line 3)." in bad.stderr

    name = unique("cli-gpu")
    (tmp_path / "conda.yml").write_text("dependencies:\n  - python=3.11\n  - cudatoolkit\n")
    created = cli("environment", "create", "-n", name, "--conda-file", "conda.yml", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    log = cli("environment", "build-log", name, "1", cwd=tmp_path)
    assert log.returncode == 1
    assert "Package 'cudatoolkit' from conda_file has no PyPI equivalent." in log.stderr
    assert "was not found in the package registry" in log.stdout
