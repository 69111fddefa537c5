"""Sign-in throttling against the real studio (SECURITY.md 39): the counts live where every process
sees them, so wrong passwords counted by one process lock the user out in the web server."""

import base64
import re

import httpx
import pytest

from tests.studio_process import ADMIN_PASSWORD, ADMIN_USER

pytestmark = pytest.mark.e2e

USER, PASSWORD = "throttled-user", "a-Throttled-password-7"


@pytest.fixture(scope="module")
def locked_out(studio):
    """A user whose 10 wrong passwords (the default limit) were counted by another process."""
    studio.manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "from accounts import throttle; "
        f"get_user_model().objects.create_user({USER!r}, password={PASSWORD!r}); "
        f"[throttle.record_failure({USER!r}, '127.0.0.1') for _ in range(10)]",
    )
    return USER


def test_failures_counted_by_another_process_lock_basic_auth_in_the_web_server(studio, locked_out):
    """SECURITY 39"""
    credentials = base64.b64encode(f"{locked_out}:{PASSWORD}".encode()).decode()
    response = httpx.get(
        f"{studio.url}/mlflow/v1.0/workspaces/my-workspace/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": "x"},
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 429
    assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert 200 < int(response.headers["Retry-After"]) <= 300


def test_the_sign_in_page_shows_the_lock_and_other_users_still_sign_in(studio, locked_out):
    """SECURITY 39"""
    with httpx.Client(base_url=studio.url) as client:
        client.get("/accounts/login/")
        form = {"username": locked_out, "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"]}
        headers = {"Referer": f"{studio.url}/accounts/login/"}
        response = client.post("/accounts/login/", data=form, headers=headers)
        assert response.status_code == 429
        assert re.search(r"Too many failed sign-in attempts\. Try again in [45] minutes\.", response.text)

        form.update(username=ADMIN_USER, password=ADMIN_PASSWORD)
        assert client.post("/accounts/login/", data=form, headers=headers).status_code == 302
