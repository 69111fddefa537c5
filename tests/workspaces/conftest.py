import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The cast of users is created for every test; the production hasher would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_owner(admin_user, workspace):
    """A studio administrator who is also an Owner of `workspace`."""
    from workspaces.models import Membership
    from workspaces.roles import Role

    Membership.objects.create(workspace=workspace, user=admin_user, role=Role.OWNER)
    return admin_user
