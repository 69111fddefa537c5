"""The job log stream against the real studio (uvicorn, worker, node manager): a client that drops the
connection and comes back with Last-Event-ID (or ?from=) gets the stored log exactly, no line lost or
doubled (SECURITY.md 25); and who may open the stream."""

import base64
import json
import re
import textwrap
import time

import httpx
import pytest

from tests.studio_process import ADMIN_PASSWORD, ADMIN_USER

from .test_streams import parse

pytestmark = pytest.mark.e2e
WS = "my-workspace"

# Prints 300 numbered lines (some in two writes, some with non-ASCII text) over about 8 seconds, so
# the stream is read while the job still writes it.
SCRIPT = textwrap.dedent(
    """
    import sys, time
    for i in range(300):
        if i % 10 == 3:
            sys.stdout.write(f"half {i} ")
            sys.stdout.flush()
            time.sleep(0.01)
            sys.stdout.write("and the rest ✓\\n")
        else:
            print(f"line {i:03d} ünïcode")
        sys.stdout.flush()
        time.sleep(0.025)
    print("done")
    """
)


def submit_job(studio, script: str = SCRIPT, *, extra_yaml: str = "") -> str:
    """A job submitted through jobs.services in the studio's own database; returns its name."""
    code = base64.b64encode(script.encode()).decode()
    program = textwrap.dedent(
        f"""
        import base64, io, zipfile
        from django.contrib.auth import get_user_model
        from workspaces.models import Workspace
        from jobs.services import job_submit
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("main.py", base64.b64decode("{code}"))
        job = job_submit(
            workspace=Workspace.objects.get(name="{WS}"),
            user=get_user_model().objects.get(username="{ADMIN_USER}"),
            yaml_text=\"\"\"
        command: python main.py
        code: ./src
        environment: azureml:AzureML-minimal-py311:1
        compute: azureml:cpu-cluster
        experiment_name: stream-tests
        {extra_yaml}
        \"\"\",
            code_archive=archive.getvalue(),
        )
        print("JOB", job.name)
        """
    )
    out = studio.manage("shell", "--no-imports", "-c", program)
    return re.search(r"^JOB (\S+)$", out, re.MULTILINE).group(1)


def stored_log(studio, name: str) -> str:
    program = textwrap.dedent(
        f"""
        import base64
        from jobs.joblog import read_log
        from jobs.models import Job
        job = Job.objects.get(name="{name}")
        text, _ = read_log(job.pk, after=0, limit_bytes=1 << 30)
        print("LOG", base64.b64encode(text.encode()).decode(), job.status)
        """
    )
    out = studio.manage("shell", "--no-imports", "-c", program)
    encoded, status = re.search(r"^LOG (\S*) (\S+)$", out, re.MULTILINE).groups()
    return base64.b64decode(encoded).decode(), status


def read_events(client: httpx.Client, url: str, *, headers=None, stop_after_logs: int | None = None) -> list[dict]:
    """One connection: its events, until `end` or until `stop_after_logs` log events (then it hangs up)."""
    raw, logs = "", 0
    with client.stream("GET", url, headers=headers or {}, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for piece in response.iter_text():
            raw += piece
            complete = raw[: raw.rfind("\n\n") + 2] if "\n\n" in raw else ""
            events = parse(complete)
            logs = sum(1 for e in events if e["event"] == "log")
            if any(e["event"] == "end" for e in events):
                return events
            if stop_after_logs is not None and logs >= stop_after_logs:
                return events  # leaving the block closes the connection mid-stream
    return parse(raw)


def follow(client, url: str, *, resume_with: str, per_connection: int = 1, deadline: float = 180) -> tuple[str, int]:
    """Read the whole stream over many short connections (by default one log event each, so even
    a log stored in a few large chunks takes several); returns (text, connections)."""
    text, last_id, connections = "", None, 0
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        connections += 1
        headers, target = {}, url
        if last_id is not None and resume_with == "header":
            headers["Last-Event-ID"] = last_id
        elif last_id is not None:
            target = f"{url}?from={last_id}"
        events = read_events(client, target, headers=headers, stop_after_logs=per_connection)
        for event in events:
            if event["event"] == "log":
                text += event["data"]
                last_id = event["id"]
        if any(e["event"] == "end" for e in events):
            return text, connections
    raise AssertionError(f"The stream did not end; got {len(text)} characters")


@pytest.fixture
def live_job(studio):
    """A job that is still queued or running when the test starts to read it."""
    studio.wait_for_worker()
    return submit_job(studio)


@pytest.fixture(scope="module")
def running_job(studio):
    studio.wait_for_worker()
    return submit_job(studio)


def test_api_stream_resumed_with_last_event_id_equals_the_stored_log(studio, live_job):
    with studio.client() as client:
        text, connections = follow(client, f"/api/v1/workspaces/{WS}/jobs/{live_job}/stream", resume_with="header")
    log, status = stored_log(studio, live_job)
    assert status == "Completed", log[-2000:]
    assert connections > 3
    assert text == log
    assert log.count("ünïcode") == 270 and log.count("and the rest ✓") == 30 and log.endswith("done\n")


def test_browser_stream_resumed_with_from_equals_the_stored_log(studio, live_job):
    with httpx.Client(base_url=studio.url, timeout=30) as client:
        sign_in(client)
        text, connections = follow(client, f"/workspaces/{WS}/jobs/{live_job}/stream", resume_with="from")
    log, status = stored_log(studio, live_job)
    assert status == "Completed"
    assert connections > 3
    assert text == log


def test_the_stream_of_a_finished_job_sends_its_final_status_then_ends(studio, running_job):
    with studio.client() as client:
        follow(client, f"/api/v1/workspaces/{WS}/jobs/{running_job}/stream", resume_with="header")  # until it ends
        events = read_events(client, f"/api/v1/workspaces/{WS}/jobs/{running_job}/stream")
    assert [e["event"] for e in events][0] == "status"
    assert [e["event"] for e in events][-1] == "end"
    assert json.loads(events[-1]["data"]) == {"status": "Completed", "reason": ""}


def sign_in(client: httpx.Client) -> None:
    client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/",
        data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        headers={"Referer": f"{client.base_url}/accounts/login/"},
    )
    assert response.status_code == 302, response.text[:500]


@pytest.fixture(scope="module")
def outsider_token(studio):
    studio.manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "from workspaces.services import workspace_create; "
        "u = get_user_model().objects.create_user('stream-outsider', password='x-Outsider-pw-1'); "
        "workspace_create(user=u, name='outsiders-own')",
    )
    return studio.token("stream-outsider")


def test_anonymous_api_stream_is_401(studio, running_job):
    response = httpx.get(f"{studio.url}/api/v1/workspaces/{WS}/jobs/{running_job}/stream")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_or_made_up_token_is_401(studio, running_job):
    response = httpx.get(
        f"{studio.url}/api/v1/workspaces/{WS}/jobs/{running_job}/stream",
        headers={"Authorization": "Bearer stu_not-a-real-token"},
    )
    assert response.status_code == 401


def test_anonymous_browser_stream_redirects_to_sign_in(studio, running_job):
    url = f"/workspaces/{WS}/jobs/{running_job}/stream"
    response = httpx.get(studio.url + url)
    assert response.status_code == 302
    assert response.headers["location"] == f"/accounts/login/?next={url}"


def test_outsider_gets_404_for_the_job_and_for_a_missing_one(studio, running_job, outsider_token):
    headers = {"Authorization": f"Bearer {outsider_token}"}
    foreign = httpx.get(f"{studio.url}/api/v1/workspaces/{WS}/jobs/{running_job}/stream", headers=headers)
    missing = httpx.get(f"{studio.url}/api/v1/workspaces/{WS}/jobs/no-such-job/stream", headers=headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == "NotFound"


def test_member_asking_for_a_missing_job_gets_404(studio):
    with studio.client() as client:
        response = client.get(f"/api/v1/workspaces/{WS}/jobs/no-such-job/stream")
    assert response.status_code == 404


def test_token_sent_from_a_foreign_page_is_refused(studio, running_job):
    with studio.client() as client:
        response = client.get(
            f"/api/v1/workspaces/{WS}/jobs/{running_job}/stream", headers={"Origin": "https://evil.example"}
        )
    assert response.status_code == 403
