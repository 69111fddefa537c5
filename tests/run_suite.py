"""`make test`: the whole suite as two pytest processes side by side, one per core, each running its
share of the test folders in order (a shard keeps the module and session fixtures of its tests,
a studio started for the end-to-end tests included). With test paths in the arguments, one plain
pytest runs them instead.

    python -m tests.run_suite [PYTEST ARGS]                  # the whole suite
    STUDIO_TEST_SUBSET=backends python -m tests.run_suite    # the tests a database or broker changes
"""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"\d+ (passed|failed|errors?)\b.* in [0-9.]+s")
# Two shards of about equal length; together every folder of tests/.
SHARDS = {
    "A": [
        "tests/tracking",
        "tests/workspaces",
        "tests/jobs",
        "tests/accounts",
        "tests/core",
        "tests/compute",
        "tests/storage",
        "tests/cli",
    ],
    "B": ["tests/e2e", "tests/assets"],
}
# The tests whose outcome the database, the broker or the cache can change (SQL, locking and
# concurrency, streams, job state, Celery delivery, sign-in throttling), for a second configuration.
BACKENDS = {
    "A": ["tests/tracking", "tests/jobs", "tests/accounts", "tests/core", "tests/workspaces/test_routes.py"],
    "B": [
        "tests/e2e/test_job_faults.py",
        "tests/e2e/test_mlflow_conformance.py",
        "tests/e2e/test_sandbox_attacks.py",
        "tests/e2e/test_upload_restart.py",
        "tests/assets/test_data_uploads.py",
        "tests/assets/test_data_asgi_chunks.py",
        "tests/compute",
    ],
}


def _pump(name: str, process: subprocess.Popen, lines: list[str]) -> None:
    for line in process.stdout:
        lines.append(line)
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


def main(args: list[str]) -> int:
    if any(Path(a.split("::")[0]).exists() for a in args if not a.startswith("-")):
        return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT)
    shards = BACKENDS if os.environ.get("STUDIO_TEST_SUBSET") == "backends" else SHARDS
    missing = {f"tests/{p.name}" for p in (ROOT / "tests").iterdir() if (p / "__init__.py").exists()}
    missing -= {folder for folders in SHARDS.values() for folder in folders}
    if missing:
        print(f"tests/run_suite.py: add {sorted(missing)} to a shard", file=sys.stderr)
        return 2
    started = time.monotonic()
    running = {}
    for name, folders in shards.items():
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", *folders],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1", STUDIO_TEST_SHARD=name),
        )
        lines: list[str] = []
        thread = threading.Thread(target=_pump, args=(name, process, lines), daemon=True)
        thread.start()
        running[name] = (process, thread, lines)
    codes = {}
    for name, (process, thread, lines) in running.items():
        codes[name] = process.wait()
        thread.join()
    print(f"\n== {len(shards)} shards in {time.monotonic() - started:.0f} s")
    for name, (_, _, lines) in running.items():
        summary = next((line.strip("= \n") for line in reversed(lines) if SUMMARY.search(line)), "no summary")
        print(f"[{name}] exit {codes[name]}: {summary}")
    return max(codes.values())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
