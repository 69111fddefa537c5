"""Creating environments and their builds through the services; builds run for real with uv."""

import subprocess
import time

import pytest
from django.core.exceptions import ValidationError

from assets.environments import envbuild, services
from assets.environments.packages import ResolvedSpec, resolve_pip
from assets.environments.tasks import build_environment
from assets.models import BuildStatus, Environment, EnvironmentBuild
from assets.references import resolve
from assets.versioning import DuplicateVersion, asset_set_archived

pytestmark = pytest.mark.django_db

CONDA = """name: train
channels: [conda-forge]
dependencies:
  - python=3.11
  - pip
  - pip:
    - six
"""
ENV_YAML = """$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
name: six-env
version: 3
image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
conda_file: conda.yml
description: Has *six*.
tags:
  team: fraud
"""


def create(workspace, user, **fields):
    return services.environment_create(workspace=workspace, user=user, **fields)


def test_an_environment_gets_a_build_queued_after_commit(workspace, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        environment = create(workspace, owner, name="six-env", pip_requirements="six\n")
    assert environment.version == "1"
    assert environment.build.status == BuildStatus.NOT_STARTED
    assert environment.build.spec == {
        "python": "3.11",
        "requirements": ["six"],
        "from_conda": {},
        "scope": workspace.guid.hex,
    }
    assert environment.image == services.DEFAULT_IMAGE
    assert len(callbacks) == 1  # the build task, sent only once the row is committed


def test_identical_specs_share_one_build(workspace, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = create(workspace, owner, name="a", pip_requirements="six\n")
        second = create(workspace, owner, name="b", pip_requirements="# the same\nSix\n")
        third = create(workspace, owner, name="c", conda_file=CONDA)
    assert first.build_id == second.build_id == third.build_id
    assert EnvironmentBuild.objects.count() == 1
    # Each create nudges the worker; the task's claim makes the extra messages harmless.
    assert len(callbacks) == 3


def test_a_different_spec_gets_its_own_build(workspace, owner):
    first = create(workspace, owner, name="a", pip_requirements="six\n")
    other = create(workspace, owner, name="b", pip_requirements="six==1.17.0\n")
    assert first.build_id != other.build_id


def test_duplicate_name_and_version_is_a_conflict(workspace, owner):
    create(workspace, owner, name="six-env", version="1", pip_requirements="six")
    with pytest.raises(DuplicateVersion, match="six-env:1 already exists"):
        create(workspace, owner, name="six-env", version="1", pip_requirements="six")
    assert create(workspace, owner, name="six-env", pip_requirements="six").version == "2"


def test_conda_file_and_pip_requirements_together_are_refused(workspace, owner):
    with pytest.raises(ValidationError) as caught:
        create(workspace, owner, name="x", conda_file=CONDA, pip_requirements="six")
    assert "not both" in caught.value.message_dict["pip_requirements"][0]
    assert not Environment.objects.filter(name="x").exists()


def test_azureml_names_are_reserved_for_curated_environments(workspace, owner):
    with pytest.raises(ValidationError) as caught:
        create(workspace, owner, name="AzureML-mine", pip_requirements="six")
    assert "reserved" in caught.value.message_dict["name"][0]


def test_curated_environments_ship_with_the_studio_and_resolve_from_any_workspace(workspace):
    curated = Environment.objects.filter(is_curated=True, workspace=None)
    names = set(curated.values_list("name", flat=True))
    assert {"AzureML-minimal-py311", "AzureML-sklearn-1.5-py311"} <= names
    sklearn = resolve(workspace=workspace, kind="environments", ref="azureml:AzureML-sklearn-1.5-py311:1")
    assert sklearn.is_curated and "scikit-learn==1.5.2" in sklearn.conda_file
    for package in ("pandas", "matplotlib", "mlflow-skinny"):
        assert package in sklearn.conda_file
    latest = resolve(workspace=workspace, kind="environments", ref="azureml:AzureML-minimal-py311@latest")
    assert latest.version == "1"


def test_building_a_curated_environment_attaches_its_build(workspace, django_capture_on_commit_callbacks):
    curated = Environment.objects.get(name="AzureML-sklearn-1.5-py311", version="1")
    with django_capture_on_commit_callbacks() as callbacks:
        build = services.environment_build_start(environment=curated)
    curated.refresh_from_db()
    assert curated.build_id == build.pk
    assert "scikit-learn==1.5.2" in build.spec["requirements"] and build.spec["python"] == "3.11"
    assert len(callbacks) == 1


def test_curated_environments_cannot_be_archived(workspace):
    curated = Environment.objects.get(name="AzureML-minimal-py311", version="1")
    with pytest.raises(ValidationError, match="Curated"):
        asset_set_archived(asset=curated, archived=True)


def test_archive_and_restore(workspace, owner):
    environment = create(workspace, owner, name="six-env", pip_requirements="six")
    asset_set_archived(asset=environment, archived=True)
    assert Environment.objects.get(pk=environment.pk).is_archived
    asset_set_archived(asset=environment, archived=False)
    assert not Environment.objects.get(pk=environment.pk).is_archived


def test_description_and_tags_can_change(workspace, owner):
    environment = create(workspace, owner, name="six-env", pip_requirements="six", tags={"a": "1"})
    services.environment_update(environment=environment, description="# New", tags={"team": "fraud"})
    environment.refresh_from_db()
    assert (environment.description, environment.tags) == ("# New", {"team": "fraud"})


# Azure ML YAML ------------------------------------------------------------------------------------


def test_environment_yaml_with_its_conda_file(workspace, owner):
    environment = services.environment_create_from_yaml(
        workspace=workspace, user=owner, yaml_text=ENV_YAML, conda_file=CONDA
    )
    assert (environment.name, environment.version) == ("six-env", "3")
    assert environment.image == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
    assert environment.tags == {"team": "fraud"} and environment.description == "Has *six*."
    assert environment.conda_file == CONDA
    assert environment.build.spec["requirements"] == ["six"]


def test_environment_yaml_with_an_inline_conda_spec(workspace, owner):
    text = ENV_YAML.replace(
        "conda_file: conda.yml\n", "conda_file:\n  dependencies:\n    - python=3.11\n    - pip:\n      - six\n"
    )
    environment = services.environment_create_from_yaml(workspace=workspace, user=owner, yaml_text=text)
    assert environment.build.spec["requirements"] == ["six"]


@pytest.mark.parametrize(
    ("change", "field", "line"),
    [
        (("image: mcr", "image: [mcr"), "yaml", 5),  # a YAML syntax error (found on the next line)
        (("tags:\n  team: fraud", "tags: [fraud]"), "tags", 7),  # the official schema refuses it
        (("version: 3\n", "version: 3\nbuild:\n  path: docker\n"), "build", 4),
        (("conda_file: conda.yml\n", "conda_file: conda.yml\nchannels: [x]\n"), "yaml", None),
    ],
)
def test_bad_environment_yaml_names_the_field_and_line(workspace, owner, change, field, line):
    text = ENV_YAML.replace(*change)
    with pytest.raises(ValidationError) as caught:
        services.environment_create_from_yaml(workspace=workspace, user=owner, yaml_text=text, conda_file=CONDA)
    messages = caught.value.message_dict
    assert field in messages, messages
    if line:
        assert f"line {line}" in " ".join(messages[field])
    assert not Environment.objects.filter(workspace=workspace).exists()


def test_a_conda_file_the_yaml_names_but_was_not_sent_is_named_with_its_line(workspace, owner):
    with pytest.raises(ValidationError) as caught:
        services.environment_create_from_yaml(workspace=workspace, user=owner, yaml_text=ENV_YAML)
    assert "'conda.yml' was not sent" in caught.value.message_dict["conda_file"][0]
    assert "(line 5)" in caught.value.message_dict["conda_file"][0]


def test_a_yaml_of_another_kind_is_refused(workspace, owner):
    text = ENV_YAML.replace("environment.schema.json", "data.schema.json")
    with pytest.raises(ValidationError) as caught:
        services.environment_create_from_yaml(workspace=workspace, user=owner, yaml_text=text, conda_file=CONDA)
    assert "(line 1)" in caught.value.message_dict["$schema"][0]


# Real builds (uv, PyPI) ---------------------------------------------------------------------------


def run_build(environment) -> EnvironmentBuild:
    build_environment(environment.build_id)
    return EnvironmentBuild.objects.get(pk=environment.build_id)


def test_a_build_installs_the_packages_into_its_own_venv(workspace, owner):
    started = time.time() - 1
    build = run_build(create(workspace, owner, name="six-env", pip_requirements="six\n"))
    assert build.status == BuildStatus.SUCCEEDED, build.error
    python = envbuild.python_path(build.spec_hash)
    assert python.is_relative_to(envbuild.registry_root() / build.spec_hash)
    result = subprocess.run([python, "-c", "import six, sys; print(sys.prefix)"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(envbuild.venv_path(build.spec_hash))
    assert "six==" in "\n".join(envbuild.installed_packages(build.spec_hash))
    building = envbuild.scope_folder(envbuild.SHARED) / "building"  # wheels only: the shared cache
    assert building.is_dir() and not [p for p in building.iterdir() if p.stat().st_mtime >= started]  # no leftovers
    assert not (envbuild.scope_folder(workspace.guid.hex) / "building").exists()  # no source build was needed


def test_a_conda_only_package_fails_the_build_naming_it(workspace, owner):
    conda = "dependencies:\n  - python=3.11\n  - cudatoolkit=11.8=h4ba93d1_13\n  - pip:\n    - six\n"
    build = run_build(create(workspace, owner, name="gpu-env", conda_file=conda))
    assert build.status == BuildStatus.FAILED
    assert build.error == "Package 'cudatoolkit' from conda_file has no PyPI equivalent."
    assert not envbuild.venv_path(build.spec_hash).exists()  # a failed build leaves no venv to use
    log = envbuild.log_path(build.spec_hash).read_text()
    assert "cudatoolkit was not found in the package registry" in log
    assert log.rstrip().endswith("Failed: Package 'cudatoolkit' from conda_file has no PyPI equivalent.")


def test_a_renamed_conda_package_that_is_missing_is_named_by_its_conda_name(workspace, owner):
    conda = "dependencies:\n  - py-no-such-package-for-studio-tests=1.0\n"
    build = run_build(create(workspace, owner, name="renamed", conda_file=conda))
    assert build.error == "Package 'py-no-such-package-for-studio-tests' from conda_file has no PyPI equivalent."


def test_a_python_the_machine_does_not_have_fails_with_a_clear_message(workspace, owner):
    conda = "dependencies:\n  - python=3.4\n  - pip:\n    - six\n"
    build = run_build(create(workspace, owner, name="old-python", conda_file=conda))
    assert build.status == BuildStatus.FAILED
    assert build.error.startswith("Python 3.4 is not available on this studio")
    assert "does not download" in build.error


def test_a_failed_build_can_be_rebuilt(workspace, owner, django_capture_on_commit_callbacks):
    environment = create(workspace, owner, name="old-python", conda_file="dependencies:\n  - python=3.4\n")
    assert run_build(environment).status == BuildStatus.FAILED
    with django_capture_on_commit_callbacks() as callbacks:
        build = services.environment_build_start(environment=environment)
    assert build.status == BuildStatus.NOT_STARTED and build.error == ""
    assert len(callbacks) == 1
    log = envbuild.log_path(build.spec_hash)
    size = log.stat().st_size
    assert run_build(environment).status == BuildStatus.FAILED
    assert log.stat().st_size > size  # the new attempt is appended, so a streaming reader loses nothing


def test_the_task_does_nothing_for_a_build_another_worker_claimed(workspace, owner):
    environment = create(workspace, owner, name="six-env", pip_requirements="six")
    EnvironmentBuild.objects.filter(pk=environment.build_id).update(status=BuildStatus.BUILDING)
    build_environment(environment.build_id)
    build = EnvironmentBuild.objects.get(pk=environment.build_id)
    assert build.status == BuildStatus.BUILDING
    assert not envbuild.log_path(build.spec_hash).exists()


def test_an_identical_spec_is_a_cache_hit_on_the_succeeded_build(workspace, owner, django_capture_on_commit_callbacks):
    build = run_build(create(workspace, owner, name="first", pip_requirements="six"))
    assert build.status == BuildStatus.SUCCEEDED
    started = time.perf_counter()
    with django_capture_on_commit_callbacks() as callbacks:
        again = services.environment_build_for_spec(spec=resolve_pip("# again\nsix\n").scoped(workspace.guid.hex))
    assert time.perf_counter() - started < 0.5
    assert (again.pk, again.status) == (build.pk, BuildStatus.SUCCEEDED)
    assert callbacks == []  # nothing to build


def test_two_workspaces_never_share_a_build_or_a_source_build_cache(workspace, owner, outsider):
    """A build from source runs packages' own code with write access to its cache: a workspace's
    build (and the cache its source builds fill) serves that workspace only, and the curated
    environments their own. Only wheels-only builds, which run no package code, share a cache."""
    from workspaces.models import Workspace

    theirs = Workspace.objects.get(name="oscars-ws")
    mine = create(workspace, owner, name="six-env", pip_requirements="six")
    other = create(theirs, outsider, name="six-env", pip_requirements="six")
    curated = services.environment_build_for_spec(spec=resolve_pip("six"))
    assert len({mine.build_id, other.build_id, curated.pk}) == 3
    folders = {envbuild.cache_folder(ResolvedSpec.from_dict(b.spec).scope) for b in (mine.build, other.build, curated)}
    assert len(folders) == 3 and envbuild.cache_folder(envbuild.SHARED) not in folders


def test_a_succeeded_build_whose_venv_is_gone_is_built_again(workspace, owner, django_capture_on_commit_callbacks):
    build = run_build(create(workspace, owner, name="first", pip_requirements="six"))
    subprocess.run(["rm", "-rf", str(envbuild.venv_path(build.spec_hash))], check=True)
    with django_capture_on_commit_callbacks() as callbacks:
        again = services.environment_build_for_spec(spec=resolve_pip("six"))
    assert again.status == BuildStatus.NOT_STARTED and len(callbacks) == 1


def test_a_build_stuck_in_building_past_the_timeout_can_be_started_again(workspace, owner):
    from django.utils import timezone

    environment = create(workspace, owner, name="six-env", pip_requirements="six")
    recently = timezone.now() - services.STALE_BUILD_AFTER / 2
    EnvironmentBuild.objects.filter(pk=environment.build_id).update(status=BuildStatus.BUILDING, started_at=recently)
    assert services.environment_build_start(environment=environment).status == BuildStatus.BUILDING
    long_ago = timezone.now() - services.STALE_BUILD_AFTER * 2
    EnvironmentBuild.objects.filter(pk=environment.build_id).update(started_at=long_ago)
    assert services.environment_build_start(environment=environment).status == BuildStatus.NOT_STARTED
