"""Faults a running job must survive (SECURITY.md 9, 15-21), with real processes killed for real.

A studio of this module's own runs with a short heartbeat timeout (the reaper's cue) and a small log
limit. Job scripts start a grandchild `sleep <unique number>` so the tests can check that the whole
process tree is gone, not only the job's main process.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.studio_process import StudioProcess, wait_for

pytestmark = pytest.mark.e2e

WORKSPACE = "my-workspace"
HEARTBEAT_TIMEOUT = 6
LOG_LIMIT = 8 * 1024 * 1024
ENV = "environment:\n  image: library/python:latest\n"
STUDIO_BIN = Path(sys.executable).parent / "studio"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def pids_matching(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def pool_process_of(pid: int, node_main: int) -> int:
    """The node's pool process (a child of the node's main Celery process, whose pid the studio
    reports) that a job's process runs under, through its sandbox."""
    while pid > 1:
        parent = parent_of(pid)
        if parent == node_main:
            return pid
        pid = parent
    raise AssertionError(f"the job's process does not run under node process {node_main}")


def marked_processes(marker: str) -> list[str]:
    return subprocess.run(["pgrep", "-af", f"sleep {marker}"], capture_output=True, text=True).stdout.splitlines()


class Jobs:
    """The jobs and compute REST API of one studio, as one user."""

    def __init__(self, client: httpx.Client, workspace: str = WORKSPACE):
        self.http = client
        self.base = f"/api/v1/workspaces/{workspace}"

    def submit(self, yaml_text: str, *, compute: str) -> str:
        response = self.http.post(f"{self.base}/jobs", json={"spec": yaml_text + f"compute: azureml:{compute}\n"})
        assert response.status_code == 201, response.text
        return response.json()["name"]

    def get(self, name: str) -> dict:
        return self.http.get(f"{self.base}/jobs/{name}").raise_for_status().json()

    def log(self, name: str) -> str:
        text, offset = "", 0
        while True:
            response = self.http.get(f"{self.base}/jobs/{name}/log", params={"from": offset}).raise_for_status()
            text += response.text
            if int(response.headers["X-Next-Offset"]) == offset:
                return text
            offset = int(response.headers["X-Next-Offset"])

    def wait(self, name: str, statuses=("Completed", "Failed", "Canceled"), timeout: float = 90) -> dict:
        return wait_for(
            lambda: (job := self.get(name))["status"] in statuses and job, timeout=timeout, what=f"{name} {statuses}"
        )

    def wait_log(self, name: str, pattern: str, timeout: float = 90) -> re.Match:
        return wait_for(lambda: re.search(pattern, self.log(name)), timeout=timeout, what=f"{pattern!r} in {name}")

    def cluster(self, name: str) -> dict:
        return self.http.get(f"{self.base}/computes/{name}").raise_for_status().json()

    def create_cluster(self, name: str, *, min_instances: int, max_instances: int) -> None:
        body = {"name": name, "min_instances": min_instances, "max_instances": max_instances}
        response = self.http.post(f"{self.base}/computes", json=body)
        assert response.status_code == 201, response.text

    def node_pid(self, cluster: str, node: str) -> int:
        return {n["node_id"]: n for n in self.cluster(cluster)["nodes"]}[node]["pid"]

    def idle_nodes(self, cluster: str, count: int, timeout: float = 60) -> list[dict]:
        return wait_for(
            lambda: (
                len(nodes := [n for n in self.cluster(cluster)["nodes"] if n["node_state"] == "idle"]) >= count
                and nodes
            ),
            timeout=timeout,
            what=f"{count} idle node(s) in {cluster}",
        )


def tree_job(marker: str, extra: str = "") -> str:
    """A job whose main process (its command line holds the marker) starts a grandchild `sleep`
    and waits; it prints both once they run."""
    return f"command: echo main {marker}; sleep {marker} & echo grandchild $!; {extra}wait\n{ENV}"


def python_job(script: str) -> str:
    """A job running `script` with the environment's Python (a heredoc, so no quoting)."""
    body = "".join(f"  {line}\n" for line in script.splitlines())
    return f"command: |\n  python - <<'PYTHON'\n{body}  PYTHON\n{ENV}"


def new_marker() -> str:
    return f"300.{uuid.uuid4().int % 10**6:06d}"


@pytest.fixture(scope="module")
def studio_faults(tmp_path_factory):
    process = StudioProcess(
        tmp_path_factory.mktemp("faults") / "data",
        extra_env={"STUDIO_JOB_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT), "STUDIO_JOB_LOG_MAX_BYTES": str(LOG_LIMIT)},
    )
    try:
        process.start(timeout=120)
        yield process
    finally:
        process.close()


@pytest.fixture(scope="module")
def jobs(studio_faults):
    with studio_faults.client() as client:
        api = Jobs(client)
        api.create_cluster("faults", min_instances=1, max_instances=2)
        api.idle_nodes("faults", 1)
        yield api


def running_tree(jobs: Jobs, marker: str, compute: str = "faults") -> tuple[str, int, int]:
    """Submit a tree job and wait until it runs: (name, main pid, grandchild pid), as this host
    numbers them (the job has PID numbers of its own inside its sandbox)."""
    name = jobs.submit(tree_job(marker), compute=compute)
    jobs.wait_log(name, r"main \S+\ngrandchild \d+")
    (grandchild,) = wait_for(lambda: pids_matching(f"^sleep {marker}$"), timeout=5, what="the grandchild")
    (main,) = wait_for(lambda: pids_matching(f"^/bin/bash -c echo main {marker}"), timeout=5, what="the main process")
    assert "sleep" in cmdline(grandchild)
    assert jobs.get(name)["status"] == "Running"
    return name, main, grandchild


# SECURITY.md 15: kill -9 the job's process, or the node's pool process running it.


def test_kill_9_of_the_jobs_process_fails_the_job_and_ends_its_tree(jobs):
    marker = new_marker()
    name, main, grandchild = running_tree(jobs, marker)
    os.kill(main, signal.SIGKILL)
    job = jobs.wait(name, timeout=15)
    assert job["status"] == "Failed"
    assert job["status_reason"] == "The job's process was killed by SIGKILL (signal 9)."
    assert job["exit_code"] == -9
    wait_for(lambda: not marked_processes(marker), timeout=5, what="the grandchild to be gone")


def test_kill_9_of_the_nodes_pool_process_fails_the_job_and_the_node_keeps_serving(jobs):
    marker = new_marker()
    name, main, grandchild = running_tree(jobs, marker)
    node = jobs.get(name)["node"]
    pool_process = pool_process_of(main, jobs.node_pid("faults", node))
    os.kill(pool_process, signal.SIGKILL)
    job = jobs.wait(name, timeout=HEARTBEAT_TIMEOUT + 20)
    assert job["status"] == "Failed"
    # The node's main process reports the loss after billiard's 10 s wait; with this module's 6 s
    # heartbeat timeout the reaper may be first. Either way the reason says what happened.
    assert (
        "worker process running this job exited prematurely: signal 9 (SIGKILL)" in job["status_reason"]
        or "stopped responding" in job["status_reason"]
    ), job["status_reason"]
    wait_for(lambda: not marked_processes(marker), timeout=5, what="the job's process tree to be gone")
    # The node's main process frees the node (the reaper does not), which proves it saw the loss.
    wait_for(
        lambda: {n["node_id"]: n for n in jobs.cluster("faults")["nodes"]}[node]["node_state"] == "idle",
        timeout=20,
        what=f"{node} to be idle again",
    )
    following = jobs.submit(f"command: echo next\n{ENV}", compute="faults")
    assert jobs.wait(following, timeout=60)["status"] == "Completed"


# SECURITY.md 16: kill -9 the whole node.


def test_kill_9_of_the_whole_node_is_reaped_and_a_new_node_takes_the_next_job(jobs):
    marker = new_marker()
    name, main, grandchild = running_tree(jobs, marker)
    lost_node = jobs.get(name)["node"]
    node_main = jobs.node_pid("faults", lost_node)
    pool_process = pool_process_of(main, node_main)
    killed_at = time.monotonic()
    os.kill(node_main, signal.SIGKILL)
    os.kill(pool_process, signal.SIGKILL)
    job = jobs.wait(name, timeout=HEARTBEAT_TIMEOUT + 20)
    assert job["status"] == "Failed"
    assert "stopped responding" in job["status_reason"]
    assert time.monotonic() - killed_at < HEARTBEAT_TIMEOUT + 15  # the reaper runs every 5 s
    wait_for(lambda: not marked_processes(marker), timeout=5, what="the job's process tree to be gone")
    following = jobs.submit(f"command: echo next\n{ENV}", compute="faults")
    done = jobs.wait(following, timeout=90)
    assert done["status"] == "Completed"
    assert done["node"] not in (None, lost_node)


# SECURITY.md 17: the same run_job message delivered more than once.


def test_duplicate_delivery_runs_exactly_one_attempt(jobs, studio_faults):
    jobs.create_cluster("dupes", min_instances=2, max_instances=2)
    jobs.idle_nodes("dupes", 2)
    folder = f"dupes-{uuid.uuid4().hex}"
    # Each attempt that runs leaves a file of its own in the datastore.
    spec = (
        "command: echo attempt > ${{outputs.ran}}/attempt-$(cat /proc/sys/kernel/random/uuid).txt; sleep 2\n"
        f"outputs:\n  ran:\n    type: uri_folder\n    path: azureml://datastores/workspaceblobstore/paths/{folder}/\n"
        f"{ENV}"
    )
    name = jobs.submit(spec, compute="dupes")
    resend = (
        "from jobs.models import Job; from jobs.tasks import run_job\n"
        f"job = Job.objects.select_related('compute__workspace').get(name='{name}')\n"
        "for _ in range(3): run_job.apply_async(args=[job.pk], queue=job.compute.queue)\n"
    )
    studio_faults.manage("shell", "-c", resend)  # while the first delivery is queued or running
    job = jobs.wait(name, timeout=60)
    assert (job["status"], job["attempt"]) == ("Completed", 1)
    studio_faults.manage("shell", "-c", resend)  # and again once it has ended
    time.sleep(3)
    attempts = list((studio_faults.data_dir / "storage").glob(f"*/*/{folder}/attempt-*.txt"))
    assert len(attempts) == 1 and attempts[0].read_text() == "attempt\n"
    job = jobs.get(name)
    assert (job["status"], job["attempt"]) == ("Completed", 1)
    assert [e["status"] for e in job["timeline"]].count("Running") == 1


# SECURITY.md 18: cancel a running job.


def test_cancel_kills_the_process_group_and_the_node_serves_the_next_job(jobs):
    marker = new_marker()
    name, main, grandchild = running_tree(jobs, marker)
    node = jobs.get(name)["node"]
    response = jobs.http.post(f"{jobs.base}/jobs/{name}/cancel")
    assert response.json()["status"] == "CancelRequested"
    job = jobs.wait(name, timeout=15)
    assert (job["status"], job["status_reason"]) == ("Canceled", "Canceled by a user.")
    assert not marked_processes(marker) and not cmdline(main)
    assert "Cancel requested: stopping the job's processes." in jobs.log(name)
    following = jobs.submit(f"command: echo still serving\n{ENV}", compute="faults")
    done = jobs.wait(following, timeout=60)
    assert done["status"] == "Completed"
    assert node in {n["node_id"] for n in jobs.cluster("faults")["nodes"]}


# SECURITY.md 19: a job over its limits.timeout.


def test_a_job_over_its_timeout_is_canceled_naming_it_and_its_tree_is_gone(jobs):
    marker = new_marker()
    name = jobs.submit(tree_job(marker) + "limits:\n  timeout: 3\n", compute="faults")
    jobs.wait_log(name, r"grandchild \d+")
    job = jobs.wait(name, timeout=30)
    assert (job["status"], job["status_reason"]) == ("Canceled", "The job exceeded its limits.timeout of 3 seconds.")
    assert "The job exceeded its limits.timeout of 3 s: stopping it." in jobs.log(name)
    wait_for(lambda: not marked_processes(marker), timeout=5, what="the job's process tree to be gone")


# SECURITY.md 21: floods, a line with no end, markup.


def test_a_flood_of_output_is_stored_bounded_and_the_log_endpoint_stays_fast(jobs):
    flood = """\
import sys
line = ("x" * 1023 + "\\n").encode()
for _ in range(100 * 1024):
    sys.stdout.buffer.write(line)
"""
    name = jobs.submit(python_job(flood), compute="faults")
    job = jobs.wait(name, timeout=120)
    assert job["status"] == "Completed"
    assert LOG_LIMIT <= job["log_size"] <= LOG_LIMIT + 200
    started = time.monotonic()
    response = jobs.http.get(f"{jobs.base}/jobs/{name}/log", params={"from": LOG_LIMIT - 1024})
    assert time.monotonic() - started < 1.0
    assert response.text.endswith(f"[studio] The log is longer than {LOG_LIMIT} bytes; the rest of it is not stored.\n")
    stored = jobs.http.get(f"{jobs.base}/jobs/{name}/files/content", params={"path": "user_logs/std_log.txt"})
    assert len(stored.content) == job["log_size"]


def test_a_long_line_without_newline_and_markup_are_kept_as_text(jobs):
    script = """\
import sys
sys.stdout.write("<script>alert(1)</script> \\x1b[31mred\\x1b[0m &amp;\\n")
sys.stdout.write("y" * (5 * 1024 * 1024))
"""
    name = jobs.submit(python_job(script), compute="faults")
    job = jobs.wait(name, timeout=60)
    assert job["status"] == "Completed"
    log = jobs.log(name)
    assert log.startswith("<script>alert(1)</script> \x1b[31mred\x1b[0m &amp;\n")
    assert log.endswith("y" * 100) and log.count("y") == 5 * 1024 * 1024
    response = jobs.http.get(f"{jobs.base}/jobs/{name}/log")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"


# SECURITY.md 9: who may submit and cancel, through the real CLI.


def make_member(jobs: Jobs, studio: StudioProcess, role: str) -> str:
    username = f"{role.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    jobs.http.post("/api/v1/users", json={"username": username, "password": "a-Strong-password-42"}).raise_for_status()
    jobs.http.post(f"{jobs.base}/members", json={"username": username, "role": role}).raise_for_status()
    return studio.token(username)


def test_reader_and_compute_operator_cannot_submit_or_cancel_jobs(jobs, studio_faults, tmp_path):
    running = jobs.submit(f"command: sleep 30\n{ENV}", compute="faults")
    (tmp_path / "job.yml").write_text(f"command: echo hi\n{ENV}")
    for role in ("reader", "compute_operator"):
        env = dict(os.environ, STUDIO_URL=studio_faults.url, STUDIO_WORKSPACE=WORKSPACE)
        env["STUDIO_TOKEN"] = make_member(jobs, studio_faults, role)

        def cli(*args, env=env):
            return subprocess.run([str(STUDIO_BIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True)

        created = cli("job", "create", "--file", "job.yml")
        assert created.returncode == 1 and "(AuthorizationFailed)" in created.stderr, created.stderr
        canceled = cli("job", "cancel", "-n", running)
        assert canceled.returncode == 1 and "(AuthorizationFailed)" in canceled.stderr, canceled.stderr
    assert jobs.get(running)["status"] not in ("CancelRequested", "Canceled")
    jobs.http.post(f"{jobs.base}/jobs/{running}/cancel")


# SECURITY.md 20: the broker restarted mid-job.

TICKS = "for i in $(seq 1 16); do echo tick $i; sleep 0.5; done\n"


def assert_ticked(jobs: Jobs, name: str) -> None:
    job = jobs.wait(name, timeout=120)
    assert job["status"] == "Completed", job["status_reason"]
    assert re.findall(r"tick (\d+)", jobs.log(name)) == [str(i) for i in range(1, 17)]


@pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"),
    reason="needs Redis as the broker (the embedded configuration is tested by the next test)",
)
def test_redis_restarted_mid_job_the_job_still_finishes_and_the_next_one_runs(jobs):
    name = jobs.submit(f"command: |\n  {TICKS}{ENV}", compute="faults")
    jobs.wait_log(name, r"tick 2\n")
    subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True, timeout=10)
    wait_for(
        lambda: subprocess.run(["redis-cli", "ping"], capture_output=True).returncode != 0,
        timeout=10,
        what="Redis down",
    )
    time.sleep(1)
    subprocess.run(
        [
            "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
            "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
        ],
        check=True,
        timeout=10,
    )  # fmt: skip
    wait_for(
        lambda: subprocess.run(["redis-cli", "ping"], capture_output=True).stdout.strip() == b"PONG",
        timeout=10,
        what="Redis up",
    )
    assert_ticked(jobs, name)
    following = jobs.submit(f"command: echo after the restart\n{ENV}", compute="faults")
    assert jobs.wait(following, timeout=120)["status"] == "Completed"


@pytest.fixture
def split_studio(tmp_path):
    """A studio whose scheduler and default worker run as processes of the test's own, so they can be
    killed and started again while the web server and the node manager keep running."""
    python = sys.executable
    serve = (
        f"set -e; {python} manage.py migrate -v0; {python} manage.py bootstrap; "
        f"{python} manage.py nodemanager & exec {python} -m uvicorn studio.asgi:application "
        "--host 127.0.0.1 --port $PORT --no-access-log"
    )
    studio = StudioProcess(tmp_path / "data", command=["bash", "-c", serve])
    started: list[subprocess.Popen] = []

    def start(name: str) -> subprocess.Popen:
        args = {
            "worker": ["worker", "-l", "WARNING", "--concurrency", "2", "-n", "worker@%h", "--without-mingle", "--without-gossip"],
            "scheduler": ["beat", "-l", "WARNING", "-s", str(tmp_path / "data" / "celerybeat-schedule")],
        }[name]  # fmt: skip
        log = open(tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - the process's own output
        proc = subprocess.Popen(
            [python, "-m", "celery", "-A", "studio", *args],
            cwd=Path(__file__).resolve().parents[2],
            env=studio.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    try:
        studio.start(timeout=120)
        yield studio, start
    finally:
        for proc in started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        studio.close()


def test_scheduler_and_default_worker_restarted_mid_job_the_job_still_finishes(split_studio):
    studio, start = split_studio
    parts = {name: start(name) for name in ("worker", "scheduler")}
    studio.wait_for_worker()
    with studio.client() as client:
        jobs = Jobs(client)
        jobs.create_cluster("restart", min_instances=1, max_instances=2)
        jobs.idle_nodes("restart", 1)
        name = jobs.submit(f"command: |\n  {TICKS}{ENV}", compute="restart")
        jobs.wait_log(name, r"tick 2\n")
        for proc in parts.values():  # as a crash: nothing gets to finish its work
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        during = jobs.submit(f"command: echo during the outage\n{ENV}", compute="restart")
        time.sleep(2)
        parts = {name: start(name) for name in ("worker", "scheduler")}
        assert_ticked(jobs, name)
        assert jobs.wait(during, timeout=120)["status"] == "Completed"
        after = jobs.submit(f"command: echo after the restart\n{ENV}", compute="restart")
        assert jobs.wait(after, timeout=120)["status"] == "Completed"
