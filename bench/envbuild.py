"""Environment build figures (printed; not a timed test).

    .venv/bin/python bench/envbuild.py [--skip-cold]

1. Cold build of the curated scikit-learn environment (AzureML-sklearn-1.5-py311) into a fresh
   registry folder, with uv's package cache empty (UV_CACHE_DIR = a fresh temporary folder):
   every wheel is downloaded from PyPI.
2. The same build again into a fresh registry folder with that cache now warm (no downloads).
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
    parser.add_argument("--skip-cold", action="store_true", help="Use the machine's uv cache instead of an empty one.")
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
    from assets.environments.specs import load_conda_yaml, resolve_conda
    from assets.environments.tasks import build_environment
    from assets.models import BuildStatus, Environment, EnvironmentBuild
    from workspaces.services import workspace_create

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="bench", password="bench-Password-1")
    workspace = workspace_create(user=user, name="bench-ws")
    curated = Environment.objects.get(name="AzureML-sklearn-1.5-py311", version="1")
    conda = curated.conda_file

    def timed_build(label: str, cache: Path | None) -> float:
        if cache is not None:
            os.environ["UV_CACHE_DIR"] = str(cache)
        else:
            os.environ.pop("UV_CACHE_DIR", None)
        shutil.rmtree(envbuild.registry_root(), ignore_errors=True)  # a fresh registry folder
        EnvironmentBuild.objects.all().update(status=BuildStatus.NOT_STARTED, error="")
        build = services.environment_build_start(environment=curated)
        started = time.perf_counter()
        build_environment(build.pk)
        seconds = time.perf_counter() - started
        build.refresh_from_db()
        packages = len(envbuild.installed_packages(build.spec_hash))
        print(f"{label:<44} {seconds:7.1f} s   {build.status}, {packages} packages   {build.error}")
        if build.status != BuildStatus.SUCCEEDED:
            raise SystemExit(1)
        return seconds

    print(f"uv: {' '.join(envbuild.uv_command())}   scratch: {scratch}")
    print(f"spec: {', '.join(resolve_conda(load_conda_yaml(conda)).requirements)}")
    print()
    if args.skip_cold:
        timed_build("build, the machine's uv cache (state unknown)", None)
    else:
        cache = scratch / "uv-cache"
        timed_build("cold build, empty uv cache (downloads)", cache)
        timed_build("build again, warm uv cache (no downloads)", cache)

    # The cache hit: an identical spec, written differently, resolves to the Succeeded build.
    same_spec = (
        "# the same packages, reordered\n" + conda.replace("    - pandas==2.2.3\n", "") + "    - pandas==2.2.3\n"
    )
    hits = []
    for _ in range(20):
        started = time.perf_counter()
        build = services.environment_build_for_spec(spec=resolve_conda(load_conda_yaml(same_spec)))
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
