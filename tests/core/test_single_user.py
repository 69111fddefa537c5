"""Without a sandbox the studio is single-user, and says so on the Compute page and in /healthz."""

import pytest
from django.core.exceptions import ValidationError

from accounts.services import user_create
from core import sandbox
from workspaces.models import Membership
from workspaces.roles import Role
from workspaces.services import membership_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def unsandboxed(settings):
    settings.STUDIO_SANDBOX = "none"
    sandbox._probe.cache_clear()
    yield settings
    sandbox._probe.cache_clear()


def test_without_a_sandbox_a_second_workspace_member_is_refused(unsandboxed, workspace, make_user):
    make_user("bea")
    with pytest.raises(ValidationError) as refused:
        membership_add(workspace=workspace, username="bea", role=Role.READER)
    assert "without a sandbox" in str(refused.value.message_dict["username"])
    assert "STUDIO_ALLOW_UNSANDBOXED" in str(refused.value.message_dict["username"])
    assert not Membership.objects.filter(workspace=workspace, user__username="bea").exists()


def test_without_a_sandbox_a_second_user_is_refused(unsandboxed, owner):
    with pytest.raises(ValidationError) as refused:
        user_create(username="bea", password="a-Strong-password-42")
    assert "without a sandbox" in str(refused.value.message_dict["username"])


def test_an_administrator_may_allow_more_users_without_a_sandbox(unsandboxed, workspace, make_user):
    unsandboxed.STUDIO_ALLOW_UNSANDBOXED = True
    make_user("bea")
    assert membership_add(workspace=workspace, username="bea", role=Role.READER).role == Role.READER
    assert user_create(username="cid", password="a-Strong-password-42").username == "cid"


def test_the_first_user_is_created_without_a_sandbox(unsandboxed):
    assert user_create(username="solo", password="a-Strong-password-42").username == "solo"


@pytest.mark.skipif(not sandbox.status().isolated, reason="needs bubblewrap (make test installs it)")
def test_with_a_sandbox_members_are_added(workspace, make_user):
    make_user("bea")
    assert membership_add(workspace=workspace, username="bea", role=Role.READER)


def test_the_compute_page_warns_without_a_sandbox(unsandboxed, browser_client, owner, workspace):
    page = browser_client(owner).get(f"/workspaces/{workspace.name}/compute/")
    text = page.content.decode()
    assert 'data-testid="no-sandbox"' in text and "Jobs run without a sandbox." in text
    assert "STUDIO_SANDBOX=none" in text


@pytest.mark.skipif(not sandbox.status().isolated, reason="needs bubblewrap (make test installs it)")
def test_the_compute_page_says_jobs_run_in_a_sandbox(browser_client, owner, workspace):
    text = browser_client(owner).get(f"/workspaces/{workspace.name}/compute/").content.decode()
    assert "Each job runs in a sandbox" in text and 'data-testid="no-sandbox"' not in text


def test_healthz_names_the_sandbox_and_details_why_there_is_none(unsandboxed, browser_client, owner):
    assert browser_client().get("/healthz").json()["sandbox"] == "none"
    details = browser_client(owner).get("/healthz").json()["sandbox"]
    assert details["backend"] == "none" and details["isolated"] is False
    assert "STUDIO_SANDBOX=none" in details["reason"]


def test_a_host_that_insists_on_bubblewrap_without_it_says_why(settings, monkeypatch):
    sandbox._probe.cache_clear()
    settings.STUDIO_SANDBOX = "bwrap"
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    try:
        described = sandbox.describe()
        assert described["isolated"] is False and "bubblewrap is not installed" in described["reason"]
        with pytest.raises(RuntimeError, match="STUDIO_SANDBOX=bwrap"):
            sandbox.status()
    finally:
        sandbox._probe.cache_clear()
