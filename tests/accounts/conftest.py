import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The cast of users is created for every test; the production hasher would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
