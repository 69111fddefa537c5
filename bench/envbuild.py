"""Environment build figures (printed; not a timed test).

    .venv/bin/python bench/envbuild.py [--rounds 3] [--skip-cold]

1. Cold builds of an environment with the curated scikit-learn packages (AzureML-sklearn-1.5-py311's
   conda file) in a workspace, with its uv package cache empty: every wheel comes from PyPI. Once in
   the sandbox (bubblewrap) and once without it (STUDIO_SANDBOX=none).
2. The same build with the cache warm (no downloads), alternating sandbox and no sandbox over
   `--rounds` rounds, each into a fresh registry folder: the sandbox's cost as a ratio of the
   build outside it, best against best (target <= 1.2).
3. Resolving an identical spec a second time: the service returns the existing Succeeded build
   (target < 0.5 s), measured both for `environment_build_for_spec` alone and for a whole
   `environment_create` of another environment with the same packages.

Everything happens under a temporary STUDIO_DATA_DIR (its own SQLite database and registry), through
the same service and task code the worker runs. Network: PyPI only.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-cold", action="store_true", help="Only the warm builds (and the cache hits).")
    parser.add_argument("--rounds", type=int, default=3, help="Warm builds per mode. Default: 3.")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="envbuild-bench-"))
    os.environ["STUDIO_DATA_DIR"] = str(scratch / "data")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    os.environ.pop("DATABASE_URL", None)  # the scratch folder's own SQLite
    os.environ["CELERY_BROKER_URL"] = "filesystem://"  # nudges land in the scratch folder; no worker reads them
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from assets.environments import envbuild, services
    from assets.environments.packages import load_conda_yaml, resolve_conda
    from assets.environments.tasks import build_environment
    from assets.models import BuildStatus, Environment, EnvironmentBuild
    from workspaces.services import workspace_create

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="bench", password="bench-Password-1")
    workspace = workspace_create(user=user, name="bench-ws")
    curated = Environment.objects.get(name="AzureML-sklearn-1.5-py311", version="1")
    conda = curated.conda_file

    from django.conf import settings

    from core import sandbox

    environment = services.environment_create(workspace=workspace, user=user, name="sklearn", conda_file=conda)
    build = environment.build
    cache = envbuild.cache_folder(envbuild.SHARED)  # a wheels-only build: the shared package cache

    def timed_build(mode: str) -> float:
        """One build of the environment into a fresh registry folder, in the given sandbox mode."""
        settings.STUDIO_SANDBOX = mode
        sandbox._probe.cache_clear()
        shutil.rmtree(envbuild.build_folder(build.spec_hash), ignore_errors=True)
        EnvironmentBuild.objects.filter(pk=build.pk).update(status=BuildStatus.NOT_STARTED, error="")
        started = time.perf_counter()
        build_environment(build.pk)
        seconds = time.perf_counter() - started
        build.refresh_from_db()
        if build.status != BuildStatus.SUCCEEDED:
            raise SystemExit(f"the build failed ({mode}): {build.error}")
        return seconds

    packages = len(load_conda_yaml(conda).get("dependencies", []))
    print(f"uv: {envbuild.uv_binary()}   scratch: {scratch}   sandbox here: {sandbox.status().backend}")
    print(f"spec: {', '.join(resolve_conda(load_conda_yaml(conda)).requirements)}  ({packages} conda entries)")
    print()
    if not args.skip_cold:
        for mode, label in (("bwrap", "in the sandbox"), ("none", "without the sandbox")):
            shutil.rmtree(cache, ignore_errors=True)
            print(f"cold build, empty uv cache (downloads), {label:<22} {timed_build(mode):7.1f} s")
    timed_build("none")  # the cache is warm from here on
    warm: dict[str, list[float]] = {"bwrap": [], "none": []}
    for round_ in range(args.rounds):
        for mode in ("bwrap", "none") if round_ % 2 == 0 else ("none", "bwrap"):
            warm[mode].append(timed_build(mode))
    print()
    print(f"warm uv cache, {args.rounds} rounds each (seconds):")
    for mode, label in (("bwrap", "in the sandbox"), ("none", "without the sandbox")):
        runs = warm[mode]
        print(f"  {label:<22} best {min(runs):5.2f}   median {statistics.median(runs):5.2f}   {runs}")
    ratio = min(warm["bwrap"]) / min(warm["none"])
    median_ratio = statistics.median(warm["bwrap"]) / statistics.median(warm["none"])
    print(f"  sandbox / no sandbox: {ratio:.2f} (best), {median_ratio:.2f} (medians)   target <= 1.2")
    settings.STUDIO_SANDBOX = "auto"
    sandbox._probe.cache_clear()

    # The cache hit: an identical spec, written differently, resolves to the Succeeded build.
    same_spec = (
        "# the same packages, reordered\n" + conda.replace("    - pandas==2.2.3\n", "") + "    - pandas==2.2.3\n"
    )
    hits = []
    for _ in range(20):
        started = time.perf_counter()
        build = services.environment_build_for_spec(
            spec=resolve_conda(load_conda_yaml(same_spec)).scoped(workspace.guid.hex)
        )
        hits.append(time.perf_counter() - started)
        assert build.status == BuildStatus.SUCCEEDED
    creates = []
    for i in range(20):
        started = time.perf_counter()
        environment = services.environment_create(
            workspace=workspace, user=user, name=f"same-packages-{i}", conda_file=same_spec
        )
        creates.append(time.perf_counter() - started)
        assert environment.build.status == BuildStatus.SUCCEEDED
    print()
    print("identical spec, second time (cache hit on the Succeeded build), 20 runs each:")
    for label, runs in (("environment_build_for_spec", hits), ("environment_create (whole create)", creates)):
        print(
            f"  {label:<38} first {runs[0] * 1000:6.1f} ms   median {statistics.median(runs) * 1000:6.1f} ms"
            f"   max {max(runs) * 1000:6.1f} ms   (target < 500 ms)"
        )
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
