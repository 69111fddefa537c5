"""Benchmark: jobs against a real studio (prints figures; not a test).

- start latency: REST submit to the first line of user code (the script prints time.time() at once),
  on a warm node of a cluster with min_instances=1, the environment already built; p50 (target
  <= 0.15 s), in the sandbox (bubblewrap) and, for comparison, with STUDIO_SANDBOX=none
- log latency: a line printed to the same line delivered on the SSE stream; p95 (target <= 0.5 s)
- jobs list: GET /jobs?limit=50 and a few filters and sorts with 10,000 jobs in the workspace
  (inserted with bulk_create); p95 (target <= 150 ms)
- cold start: submit to Running on a cluster scaled to 0 (min_instances 0), the node started for the
  job (target <= 2 s)
- live status in Chromium: a job's status changed through the API (an MLflow run set to FINISHED)
  to the new status shown on the job's open page, p50/p95 over 20 jobs (target p95 <= 0.3 s); and
  a job submitted through the API to its row in an open Jobs list

    .venv/bin/python bench/jobs.py                      # embedded: SQLite + the folder broker
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/jobs.py                  # PostgreSQL + Redis

The studio runs as `manage.py runstudio` (tests/studio_process.py) in a temporary data directory.
"""

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.studio_process import StudioProcess  # noqa: E402

WORKSPACE = "my-workspace"
CLUSTER = "bench"
ENV = "environment:\n  image: library/python:latest\n"
BASE = f"/api/v1/workspaces/{WORKSPACE}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    missed = sum(1 for x in values if x == float("inf"))
    v = [x * scale for x in values if x != float("inf")]
    if not v:
        return f"n={len(values)}  none seen within the time limit"
    return (f"({missed} of {len(values)} not seen within 10 s)  " if missed else "") + (
        f"n={len(v)}  p50={percentile(v, 50):.3f}{unit}  p95={percentile(v, 95):.3f}{unit}  "
        f"min={min(v):.3f}{unit}  max={max(v):.3f}{unit}"
    )


def submit(client: httpx.Client, command: str, **extra) -> str:
    spec = f"command: {command}\ncompute: azureml:{CLUSTER}\n{ENV}"
    for key, value in extra.items():
        spec += f"{key}: {value}\n"
    response = client.post(f"{BASE}/jobs", json={"spec": spec})
    response.raise_for_status()
    return response.json()["name"]


def wait_done(client: httpx.Client, name: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"{BASE}/jobs/{name}").raise_for_status().json()
        if job["status"] in ("Completed", "Failed", "Canceled"):
            return job
        time.sleep(0.05)
    raise TimeoutError(f"{name} did not end")


def log_of(client: httpx.Client, name: str) -> str:
    return client.get(f"{BASE}/jobs/{name}/log").raise_for_status().text


def warm_cluster(client: httpx.Client) -> None:
    response = client.post(f"{BASE}/computes", json={"name": CLUSTER, "min_instances": 1, "max_instances": 1})
    response.raise_for_status()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        nodes = client.get(f"{BASE}/computes/{CLUSTER}").json()["nodes"]
        if any(n["node_state"] == "idle" for n in nodes):
            return
        time.sleep(0.2)
    raise TimeoutError("the bench cluster's node did not start")


def start_latency(client: httpx.Client, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        submitted = time.time()
        name = submit(client, 'python -c "import time; print(repr(time.time()), flush=True)"')
        job = wait_done(client, name)
        assert job["status"] == "Completed", job
        latencies.append(float(log_of(client, name).split()[0]) - submitted)
    return latencies


def log_latency(client: httpx.Client, lines: int) -> list[float]:
    """Open the job's SSE stream as soon as it is submitted; delivery time minus print time per line."""
    script = f"import time\\nfor i in range({lines}):\\n    print(repr(time.time()), flush=True)\\n    time.sleep(0.1)"
    name = submit(client, f'python -c "exec(\\"{script}\\")"')
    delays: list[float] = []
    partial = ""
    with client.stream("GET", f"{BASE}/jobs/{name}/stream", timeout=httpx.Timeout(120, connect=10)) as response:
        response.raise_for_status()
        event, data = "", []
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line == "":
                if event == "log":
                    received = time.time()
                    text = partial + "\n".join(data)
                    *complete, partial = text.split("\n")
                    delays += [received - float(x) for x in complete if x.strip()]
                if event == "end":
                    break
                event, data = "", []
    return delays


INSERT = """
import random, uuid
from datetime import timedelta
from django.utils import timezone
from jobs.models import Experiment, Job, JobStatus
from workspaces.models import Workspace
ws = Workspace.objects.get(name="{workspace}")
cluster = ws.compute_clusters.get(name="cpu-cluster")
experiments = [Experiment.objects.get_or_create(workspace=ws, name=f"exp-{{i}}")[0] for i in range(20)]
statuses = [JobStatus.COMPLETED] * 6 + [JobStatus.FAILED, JobStatus.CANCELED, JobStatus.RUNNING, JobStatus.QUEUED]
now = timezone.now()
rows = []
for i in range({count}):
    created = now - timedelta(minutes=i)  # for started_at/ended_at; created_at is spread by SPREAD
    status = random.choice(statuses)
    ended = created + timedelta(seconds=random.randint(5, 3600)) if status in ("Completed", "Failed", "Canceled") else None
    rows.append(Job(workspace=ws, name=f"bench_{{uuid.uuid4().hex[:12]}}", display_name=f"run {{i}}",
        experiment=random.choice(experiments), status=status, compute=cluster, tags={{"team": random.choice(["nlp", "vision", "tabular"]), "i": str(i)}},
        started_at=created, ended_at=ended, spec={{}}))
Job.objects.bulk_create(rows, batch_size=1000)
print(Job.objects.filter(workspace=ws).count())
"""

# created_at is auto_now_add (set by bulk_create too): spread the jobs over time afterwards.
SPREAD = """
from datetime import timedelta
from django.db import connection
from django.utils import timezone
from jobs.models import Job
now = timezone.now()
jobs = list(Job.objects.filter(name__startswith="bench_").only("pk"))
for i, job in enumerate(jobs):
    job.created_at = now - timedelta(minutes=i)
Job.objects.bulk_update(jobs, ["created_at"], batch_size=1000)
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:  # what autovacuum does within a minute of a bulk insert
        cursor.execute("ANALYZE jobs_job")
print(len(jobs))
"""


def list_timings(client: httpx.Client, studio: StudioProcess, count: int, repeat: int) -> dict[str, list[float]]:
    t0 = time.monotonic()
    total = studio.manage("shell", "-c", INSERT.format(workspace=WORKSPACE, count=count)).strip().splitlines()[-1]
    studio.manage("shell", "-c", SPREAD)
    print(f"  inserted {count} jobs with bulk_create in {time.monotonic() - t0:.1f} s ({total} in the workspace)")
    first = client.get(f"{BASE}/jobs", params={"limit": 50}).json()
    cursor_link = first["next_link"]
    cases = {
        "baseline: workspace": "workspace",  # the cost of any authenticated API request, for comparison
        "limit=50": {"limit": 50},
        "status=Completed": {"limit": 50, "status": "Completed"},
        "experiment=exp-3": {"limit": 50, "experiment": "exp-3"},
        "tag=team=nlp": {"limit": 50, "tag": "team=nlp"},
        "search=run 99": {"limit": 50, "search": "run 99"},
        "sort=name": {"limit": 50, "sort": "name"},
        "sort=-duration": {"limit": 50, "sort": "-duration"},
        "limit=200": {"limit": 200},
        "page 2 (cursor)": None,
    }
    timings: dict[str, list[float]] = {}
    for label, params in cases.items():
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            if params == "workspace":
                response = client.get(BASE)
            elif params is None:
                response = client.get(cursor_link)
            else:
                response = client.get(f"{BASE}/jobs", params=params)
            response.raise_for_status()
            times.append(time.perf_counter() - started)
        timings[label] = times
    return timings


def wait_no_nodes(client: httpx.Client, cluster: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not client.get(f"{BASE}/computes/{cluster}").raise_for_status().json()["nodes"]:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{cluster} did not scale down to 0")


def cold_start(client: httpx.Client, count: int) -> list[float]:
    """Submit to Running on a cluster with no node: each job starts a node, which stops once idle."""
    cold = "cold"
    response = client.post(
        f"{BASE}/computes",
        json={"name": cold, "min_instances": 0, "max_instances": 1, "idle_time_before_scale_down": 0},
    )
    response.raise_for_status()
    latencies = []
    for _ in range(count):
        wait_no_nodes(client, cold)
        submitted = time.time()
        spec = f"command: python -c pass\ncompute: azureml:{cold}\n{ENV}"
        name = client.post(f"{BASE}/jobs", json={"spec": spec}).raise_for_status().json()["name"]
        job = wait_done(client, name)
        assert job["status"] == "Completed", job
        started = datetime.datetime.fromisoformat(job["start_time"].replace("Z", "+00:00")).timestamp()
        latencies.append(started - submitted)
    return latencies


# Records, in the page, when an element matching a selector first shows a text (Date.now(), ms);
# -1 when it has not shown within 10 s.
WATCH = """([selector, text]) => { window.benchSeen = new Promise((resolve) => {
  setTimeout(() => resolve(-1), 10000);
  const seen = () => [...document.querySelectorAll(selector)].some((el) => el.textContent.trim() === text);
  if (seen()) { resolve(Date.now()); return; }
  const observer = new MutationObserver(() => {
    if (seen()) { observer.disconnect(); resolve(Date.now()); }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}); }"""


def _mlflow(client: httpx.Client, endpoint: str, body: dict) -> dict:
    url = f"/mlflow/v1.0/workspaces/{WORKSPACE}/api/2.0/mlflow/{endpoint}"
    return client.post(url, json=body).raise_for_status().json()


def _signed_in_page(browser, studio: StudioProcess):
    from tests.studio_process import ADMIN_PASSWORD, ADMIN_USER

    context = browser.new_context(base_url=studio.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(ADMIN_USER)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def _delay(seen_ms: float, since: float) -> float:
    return float("inf") if seen_ms < 0 else seen_ms / 1000 - since


def live_status(client: httpx.Client, studio: StudioProcess, count: int) -> tuple[list[float], list[float]]:
    """(status change -> seen on the job's page, submit -> row in the open Jobs list), in seconds."""
    from playwright.sync_api import sync_playwright

    experiment = _mlflow(client, "experiments/create", {"name": f"live-{time.time_ns()}"})["experiment_id"]
    status_delays, row_delays = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = _signed_in_page(browser, studio)
        for _ in range(count):
            run = _mlflow(client, "runs/create", {"experiment_id": experiment})["run"]["info"]
            page.goto(f"/workspaces/{WORKSPACE}/jobs/{run['run_id']}/")
            page.locator("#job-live [data-job-status]").filter(has_text="Running").wait_for()
            time.sleep(0.3)  # the page settles (its stream connects)
            page.evaluate(WATCH, ["#job-live [data-job-status]", "Completed"])
            changed = time.time()
            _mlflow(client, "runs/update", {"run_id": run["run_id"], "status": "FINISHED"})
            status_delays.append(_delay(page.evaluate("() => window.benchSeen"), changed))

        page.goto(f"/workspaces/{WORKSPACE}/jobs/")
        page.locator("#jobs-table").wait_for()
        for _ in range(count):
            time.sleep(0.3)
            name = f"row_{time.time_ns()}"
            page.evaluate(WATCH, [f'tr[data-job="{name}"] .name-col a', name])
            submitted = time.time()
            spec = f"name: {name}\ncommand: python -c pass\ncompute: azureml:{CLUSTER}\n{ENV}"
            client.post(f"{BASE}/jobs", json={"spec": spec}).raise_for_status()
            row_delays.append(_delay(page.evaluate("() => window.benchSeen"), submitted))
        browser.close()
    return status_delays, row_delays


def sandboxed_start_latency(mode: str, count: int) -> list[float]:
    """Start latency on a studio of its own with STUDIO_SANDBOX=<mode>."""
    with tempfile.TemporaryDirectory(prefix=f"bench-jobs-{mode}-") as tmp:
        studio = StudioProcess(Path(tmp) / "data", extra_env={"STUDIO_SANDBOX": mode})
        studio.start(timeout=120)
        try:
            with studio.client() as client:
                warm_cluster(client)
                warm = submit(client, "python -c \"print('warm')\"")
                assert wait_done(client, warm)["status"] == "Completed"
                return start_latency(client, count)
        finally:
            studio.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20, help="Jobs for the start latency. Default: 20.")
    parser.add_argument("--lines", type=int, default=100, help="Lines (0.1 s apart) for the log latency.")
    parser.add_argument("--list-jobs", type=int, default=10_000, help="Jobs in the workspace for the list timing.")
    parser.add_argument("--repeat", type=int, default=40, help="Requests per list case. Default: 40.")
    parser.add_argument(
        "--start-only", action="store_true", help="Only the start latency, with and without the sandbox."
    )
    parser.add_argument("--cold", type=int, default=5, help="Cold starts to measure. Default: 5.")
    parser.add_argument("--live", type=int, default=20, help="Jobs for the live status in Chromium. Default: 20.")
    parser.add_argument("--live-only", action="store_true", help="Only the cold start and the live status in Chromium.")
    args = parser.parse_args()
    if args.live_only:
        live_figures(args)
        return

    unsandboxed = sandboxed_start_latency("none", args.jobs)
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        studio = StudioProcess(Path(tmp) / "data", extra_env={"STUDIO_SANDBOX": "bwrap"})
        config = studio.env.get("DATABASE_URL", "sqlite").split(":", 1)[0]
        broker = studio.env.get("CELERY_BROKER_URL", "filesystem://").split(":", 1)[0]
        print(f"Studio: database {config}, broker {broker}")
        studio.start(timeout=120)
        try:
            with studio.client() as client:
                warm_cluster(client)
                t0 = time.monotonic()
                warm = submit(client, "python -c \"print('warm')\"")
                assert wait_done(client, warm)["status"] == "Completed"
                print(f"  warm-up job (builds the environment): {time.monotonic() - t0:.1f} s")

                latencies = start_latency(client, args.jobs)
                print("Job start latency (submit -> first line of user code), target p50 <= 0.15 s:")
                print(f"  in the sandbox (bubblewrap)   {summary(latencies)}")
                print(f"  without it (STUDIO_SANDBOX=none) {summary(unsandboxed)}")
                if args.start_only:
                    return

                delays = log_latency(client, args.lines)
                print(f"Log latency (print -> line on the SSE stream): {summary(delays)}   target p95 <= 0.5 s")

                timings = list_timings(client, studio, args.list_jobs, args.repeat)
                print(f"Jobs list with {args.list_jobs} jobs (ms):   target p95 <= 150 ms")
                for label, times in timings.items():
                    print(f"  {label:<20} {summary(times, 'ms', 1000)}")
                everything = [t for label, times in timings.items() for t in times if not label.startswith("baseline")]
                print(f"  {'all cases':<20} {summary(everything, 'ms', 1000)}")
        finally:
            studio.close()


def live_figures(args) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-jobs-live-") as tmp:
        studio = StudioProcess(Path(tmp) / "data")
        studio.start(timeout=120)
        try:
            with studio.client() as client:
                warm_cluster(client)
                warm = submit(client, "python -c \"print('warm')\"")
                assert wait_done(client, warm)["status"] == "Completed"
                cold = cold_start(client, args.cold)
                print(f"Cold start (submit -> Running on a cluster scaled to 0): {summary(cold)}   target <= 2 s")
                status_delays, row_delays = live_status(client, studio, args.live)
                print(f"Status change (API) -> shown on the job's page: {summary(status_delays)}   target p95 <= 0.3 s")
                print(f"Submit (API) -> new row in the open Jobs list:  {summary(row_delays)}")
        finally:
            studio.close()


if __name__ == "__main__":
    main()
