"""`make run`: one command starts the web server, a Celery worker and the scheduler; Ctrl-C stops
them all; a second start keeps the data."""

import os
import re
import signal
import subprocess
import time

import httpx
import pytest

from core import sandbox
from tests.studio_process import ADMIN_PASSWORD, ADMIN_USER, StudioProcess, wait_for

pytestmark = pytest.mark.e2e


def _group_members(pgid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True, check=True).stdout
    return [int(pid) for pid, group in (line.split() for line in out.splitlines()) if int(group) == pgid]


def _sign_in(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
        headers={"Referer": url + "/accounts/login/"},
    )
    assert response.status_code == 302, response.text[:500]
    return client


def test_make_run_starts_all_three_processes_prints_a_generated_password_once_and_keeps_data(tmp_path):
    studio = StudioProcess(
        tmp_path / "data", command=["make", "--no-print-directory", "run"], extra_env={"STUDIO_ADMIN_PASSWORD": None}
    )
    try:
        studio.start()
        studio.wait_for_worker(timeout=60)
        log = studio.log_path.read_text()
        for name in ("web", "worker", "scheduler"):
            assert re.search(rf"{name}\s+started \(pid=\d+\)", log), f"{name} did not start:\n{log[-3000:]}"
        assert f"http://localhost:{studio.port}/" in log
        password = re.search(r"shown only this once: (\S+)", log).group(1)

        health = studio.health().json()
        assert health["database"]["status"] == "ok" and health["broker"]["status"] == "ok"
        assert health["workers"]["alive"] >= 1

        client = _sign_in(studio.url, ADMIN_USER, password)
        home = client.get("/", follow_redirects=True)
        assert home.status_code == 200 and "my-workspace" in home.text
        created = client.post(
            "/workspaces/", data={"name": "kept-ws", "csrfmiddlewaretoken": client.cookies["csrftoken"]}
        )
        assert created.status_code == 302

        assert "jobs.tasks.dispatch_jobs[" not in studio.log_path.read_text(), (
            "the scheduler's routine tasks are logged"
        )
        pgid = studio.proc.pid
        started = _descendants(pgid)
        assert len(started) >= 5  # the launcher, web, worker, scheduler, node manager
        os.killpg(pgid, signal.SIGINT)  # what Ctrl-C in the terminal does
        studio.proc.wait(timeout=30)
        assert _group_members(pgid) == [], "Ctrl-C left processes running"
        _wait_gone(started, timeout=15)
        assert "Warm shutdown" in studio.log_path.read_text()
        studio.proc = None

        studio.log_path.write_text("")
        studio.start()
        second_log = studio.log_path.read_text()
        assert "shown only this once" not in second_log and "Created the admin user" not in second_log
        client = _sign_in(studio.url, ADMIN_USER, password)
        assert "kept-ws" in client.get("/workspaces/").text
    finally:
        studio.close()


def _alive(pids) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]  # noqa: SIM115
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def _wait_gone(started: dict[int, str], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid: started[pid] for pid in _alive(started)}
    assert left == {}, f"still running after the studio stopped: {left}"


def _studio_with_a_node(tmp_path) -> tuple[StudioProcess, dict[int, str]]:
    """A studio whose cluster keeps a node running: every kind of process the studio starts."""
    studio = StudioProcess(tmp_path / "data")
    studio.start()
    studio.wait_for_worker(timeout=60)
    token = studio.token()
    with studio.client(token) as api:
        response = api.post(
            "/api/v1/workspaces/my-workspace/computes",
            json={"name": "always-on", "min_instances": 1, "max_instances": 1},
        )
        assert response.status_code in (200, 201), response.text

    def node_started():
        with studio.client(token) as api:
            nodes = api.get("/api/v1/workspaces/my-workspace/computes/always-on").json()["nodes"]
        pids = {node["pid"] for node in nodes if node["node_state"] == "idle" and node["pid"]}
        return pids and pids <= set(_descendants(studio.proc.pid))

    wait_for(node_started, timeout=60, what="a compute node")
    return studio, _descendants(studio.proc.pid)


@pytest.mark.parametrize(
    ("first", "pause", "second"),
    [
        # What systemd or a container runtime does: TERM to the group, KILL 3 s later. The launcher
        # dies at once, and every process it started follows it.
        pytest.param(signal.SIGTERM, 3, signal.SIGKILL, id="supervisor-term-then-kill"),
        # Ctrl-C twice in the terminal: everything stops at once.
        pytest.param(signal.SIGINT, 0.3, signal.SIGINT, id="second-ctrl-c"),
    ],
)
def test_stopping_the_studio_leaves_nothing_running(tmp_path, first, pause, second):
    studio, started = _studio_with_a_node(tmp_path)
    try:
        os.killpg(studio.proc.pid, first)
        time.sleep(pause)
        os.killpg(studio.proc.pid, second)
        studio.proc.wait(timeout=10)
        _wait_gone(started, timeout=20)
    finally:
        studio.close()


def test_broker_rabbitmq_works_by_environment_alone(tmp_path):
    """The scale-out broker option besides Redis: a worker reports in through RabbitMQ."""
    studio = StudioProcess(tmp_path / "data", extra_env={"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"})
    try:
        studio.start()
        studio.wait_for_worker(timeout=60)
        assert studio.health().json()["broker"]["transport"] == "amqp"
    finally:
        studio.close()


def _first_answer(url: str, deadline: float = 60) -> httpx.Response:
    """The first response once the web server listens (on a busy machine it may still be migrating
    when the studio's start gives up waiting for a healthy answer)."""
    stop = time.monotonic() + deadline
    while True:
        try:
            return httpx.get(url, timeout=10)
        except httpx.ConnectError:
            if time.monotonic() > stop:
                raise
            time.sleep(0.5)


def test_healthz_reports_a_broken_broker_as_503(tmp_path):
    studio = StudioProcess(
        tmp_path / "data", args=("--no-worker",), extra_env={"CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    )
    try:
        with pytest.raises(TimeoutError):
            studio.start(timeout=8)
        assert _first_answer(studio.url + "/healthz").json() == {"status": "error", "sandbox": sandbox.status().backend}
        response = studio.health()
        assert response.status_code == 503
        body = response.json()
        assert body["database"]["status"] == "ok" and body["broker"]["status"] == "error"
    finally:
        studio.close()


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = open(f"/proc/{pid}/environ", "rb").read()  # noqa: SIM115
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw.split(b"\0") if item)


def _descendants(pid: int) -> dict[int, str]:
    """{pid: command line} of every process below `pid` (each command the launcher starts runs in a
    process group of its own)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    children: dict[int, list[tuple[int, str]]] = {}
    for child, parent, *args in rows:
        children.setdefault(int(parent), []).append((int(child), args[0] if args else ""))
    found, todo = {}, [pid]
    while todo:
        for child, args in children.get(todo.pop(), []):
            found[child] = args
            todo.append(child)
    return found


def test_no_process_the_launcher_starts_inherits_the_admin_password(tmp_path):
    """The admin password is read once, by the launcher's bootstrap: web, worker, scheduler and node
    manager (and whatever they start) run without it."""
    studio = StudioProcess(tmp_path / "data")
    try:
        studio.start()
        studio.wait_for_worker(timeout=60)
        launcher = studio.proc.pid
        assert _environ(launcher)["STUDIO_ADMIN_PASSWORD"] == ADMIN_PASSWORD  # what the test handed it
        launcher_args = " ".join(open(f"/proc/{launcher}/cmdline").read().split("\0")).strip()  # noqa: SIM115
        started = {pid: args for pid, args in _descendants(launcher).items() if args.strip() != launcher_args}
        for name in ("uvicorn", "celery -A studio worker", "celery -A studio beat", "manage.py nodemanager"):
            assert any(name in args for args in started.values()), f"{name} not found in {started}"
        inherited = [args for pid, args in started.items() if "STUDIO_ADMIN_PASSWORD" in _environ(pid)]
        assert inherited == []
        assert all(_environ(pid).get("STUDIO_DATA_DIR") in (None, str(studio.data_dir)) for pid in started)
        _sign_in(studio.url, ADMIN_USER, ADMIN_PASSWORD)  # bootstrap did use it
    finally:
        studio.close()
