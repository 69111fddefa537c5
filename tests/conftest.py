import os

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import token_create
from workspaces.models import Membership
from workspaces.roles import Role
from workspaces.services import workspace_create

from .studio_process import SHARED_PACKAGES, StudioProcess

PASSWORD = "a-Strong-password-42"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """`make test` runs shards side by side (tests/run_suite.py): on a database server each shard
    gets a test database of its own, or one would drop the other's."""
    from django.conf import settings

    shard = os.environ.get("STUDIO_TEST_SHARD", "")
    database = settings.DATABASES["default"]
    if shard and database["ENGINE"] != "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = f"test_{database['NAME']}_{shard.lower()}"


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Each test gets its own data directory and storage accounts."""
    settings.STUDIO_DATA_DIR = tmp_path
    settings.STUDIO_SHARED_PACKAGE_CACHE = str(SHARED_PACKAGES)
    settings.STORAGES = {
        **settings.STORAGES,
        "workspaces": {
            "BACKEND": "workspaces.storage.AtomicFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    settings.STUDIO_LOCAL_DATASTORE_ROOTS = [tmp_path / "shared"]
    settings.STUDIO_STORAGE_KIND = "local"


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, *, admin: bool = False):
        if admin:
            return django_user_model.objects.create_superuser(username=username, password=PASSWORD)
        return django_user_model.objects.create_user(username=username, password=PASSWORD)

    return make


@pytest.fixture
def owner(make_user):
    return make_user("olivia")


@pytest.fixture
def workspace(owner):
    return workspace_create(user=owner, name="team-ws", display_name="Team workspace")


def _member(make_user, workspace, username, role):
    user = make_user(username)
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


@pytest.fixture
def contributor(make_user, workspace):
    return _member(make_user, workspace, "carl", Role.CONTRIBUTOR)


@pytest.fixture
def data_scientist(make_user, workspace):
    return _member(make_user, workspace, "dana", Role.DATA_SCIENTIST)


@pytest.fixture
def compute_operator(make_user, workspace):
    return _member(make_user, workspace, "cole", Role.COMPUTE_OPERATOR)


@pytest.fixture
def reader(make_user, workspace):
    return _member(make_user, workspace, "rita", Role.READER)


@pytest.fixture
def outsider(make_user, workspace):
    """A user with a workspace of their own, but no place in `workspace`."""
    user = make_user("oscar")
    workspace_create(user=user, name="oscars-ws")
    return user


@pytest.fixture
def admin_user(make_user):
    return make_user("root-admin", admin=True)


@pytest.fixture
def browser_client():
    """client_for(user) -> a Django test client signed in as `user` (anonymous for None)."""

    def client_for(user=None):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return client_for


@pytest.fixture
def api_client():
    """api_for(user) -> a REST client authenticating with a fresh personal token of `user`."""

    def api_for(user=None):
        client = APIClient()
        if user is not None:
            _, raw = token_create(user=user, name="test")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return api_for


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    """The real studio: web server, Celery worker and scheduler, on this test run's database and broker."""
    process = StudioProcess(tmp_path_factory.mktemp("studio-data"))
    try:
        process.start()
        yield process
    finally:
        process.close()
