"""Wrong passwords are throttled per user and client address, on the sign-in page and through MLflow's
Basic auth (SECURITY.md 39); the right password works again after the cool-down."""

import base64
import re
import time

import pytest
from django.core.cache import cache
from django.test import Client

from accounts import throttle
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

MLFLOW = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/experiments/get-by-name"
LOCKOUT = 5


@pytest.fixture(autouse=True)
def _small_limits(settings):
    cache.clear()
    settings.STUDIO_SIGNIN_MAX_FAILURES = 3
    settings.STUDIO_SIGNIN_MAX_FAILURES_PER_ADDRESS = 8
    settings.STUDIO_SIGNIN_WINDOW = 60
    settings.STUDIO_SIGNIN_LOCKOUT = LOCKOUT
    yield
    cache.clear()


def sign_in(username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": username, "password": password})


def basic(username: str, password: str, address: str = "10.0.0.1"):
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return Client(REMOTE_ADDR=address).get(
        MLFLOW, {"experiment_name": "nope"}, HTTP_AUTHORIZATION=f"Basic {credentials}"
    )


def _locked_until(username: str, address: str = "10.0.0.1") -> float:
    """When the lock of this user and address ends (the throttle's own record)."""
    return max(cache.get_many([f"{key}:locked" for key, _ in throttle._keys(username, address)]).values(), default=0)


def _within_the_lock(attempt, username: str) -> list[int]:
    """The statuses of 17 more wrong tries, each one timed: those answered before the lock ends
    must all be refused (on a slow host the last ones may come after it and be counted anew)."""
    until = _locked_until(username)
    assert until > time.time()
    answered = []
    for i in range(17):
        status = attempt(f"wrong-{3 + i}").status_code
        if time.time() < until:
            answered.append(status)
    assert answered, "not one try came back inside the lock"
    return answered


def test_twenty_wrong_passwords_on_the_sign_in_page_are_throttled_until_the_cool_down(owner):
    """SECURITY 39: the sign-in page says so, and the right password waits for the cool-down too."""
    statuses = [sign_in(owner.username, f"wrong-{i}").status_code for i in range(3)]
    assert statuses == [200, 200, 200]  # the form again, "didn't match"

    refused = sign_in(owner.username, PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) <= LOCKOUT
    assert re.search(r"Too many failed sign-in attempts\. Try again in [1-5] seconds?\.", refused.content.decode())
    assert "_auth_user_id" not in refused.wsgi_request.session
    assert set(_within_the_lock(lambda password: sign_in(owner.username, password), owner.username)) == {429}

    time.sleep(max(0, _locked_until(owner.username) - time.time()) + 0.2)
    signed_in = sign_in(owner.username, PASSWORD)
    assert signed_in.status_code == 302
    assert signed_in.wsgi_request.session["_auth_user_id"] == str(owner.pk)


def test_twenty_wrong_basic_auth_passwords_get_429_with_retry_after_until_the_cool_down(owner, workspace):
    """SECURITY 39: MLflow's Basic auth answers 429 REQUEST_LIMIT_EXCEEDED with Retry-After."""
    statuses = [basic(owner.username, f"wrong-{i}").status_code for i in range(3)]
    assert statuses == [401, 401, 401]

    refused = basic(owner.username, PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert "Too many failed sign-in attempts" in refused.json()["message"]
    assert 1 <= int(refused["Retry-After"]) <= LOCKOUT
    assert set(_within_the_lock(lambda password: basic(owner.username, password), owner.username)) == {429}

    time.sleep(max(0, _locked_until(owner.username) - time.time()) + 0.2)
    assert basic(owner.username, PASSWORD).status_code == 404  # signed in: there is no such experiment


def test_wrong_passwords_on_the_page_and_through_basic_auth_count_together(owner, workspace):
    sign_in(owner.username, "wrong-1")
    basic(owner.username, "wrong-2")
    sign_in(owner.username, "wrong-3")
    assert basic(owner.username, PASSWORD).status_code == 429


def test_the_lock_holds_one_user_at_one_address_only(owner, make_user):
    other = make_user("other-user")
    for i in range(3):
        sign_in(owner.username, f"wrong-{i}")
    assert sign_in(owner.username, PASSWORD).status_code == 429
    assert sign_in(owner.username, PASSWORD, address="10.0.0.2").status_code == 302
    assert sign_in(other.username, PASSWORD).status_code == 302


def test_wrong_passwords_for_many_users_from_one_address_lock_the_address(owner, make_user):
    for i in range(8):
        sign_in(f"guessed-user-{i}", "wrong")
    assert sign_in(owner.username, PASSWORD).status_code == 429
    assert sign_in(owner.username, PASSWORD, address="10.0.0.2").status_code == 302


def test_a_right_password_clears_the_count(owner):
    for i in range(2):
        sign_in(owner.username, f"wrong-{i}")
    assert sign_in(owner.username, PASSWORD).status_code == 302
    for i in range(2):
        sign_in(owner.username, f"wrong-again-{i}")
    assert sign_in(owner.username, PASSWORD).status_code == 302


def test_the_counts_live_in_a_cache_every_process_shares(settings):
    """The web processes (STUDIO_WEB_WORKERS) must see one another's counts: not local memory."""
    assert "LocMemCache" not in settings.CACHES["default"]["BACKEND"]
    assert "DummyCache" not in settings.CACHES["default"]["BACKEND"]
