"""A Content-Security-Policy header on every page, found by walking the URL conf: scripts and style
sheets only from the studio's own files, no framing, no foreign form targets."""

import pytest
from django.conf import settings

from tests.workspaces.test_routes import API_PREFIXES, ROUTES, _url

pytestmark = pytest.mark.django_db

PAGES = [(route, pattern) for route, pattern in ROUTES if not route.startswith(API_PREFIXES)]


def directives() -> dict[str, str]:
    return dict(part.strip().partition(" ")[::2] for part in settings.CONTENT_SECURITY_POLICY.split(";"))


def test_the_policy_allows_only_the_studios_own_scripts_and_no_framing():
    policy = directives()
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data: blob:"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"


def test_every_page_has_the_content_security_policy(workspace, admin_user, browser_client):
    """Every route outside the token APIs, as an administrator (Owner everywhere): each answer has the
    policy, and the walk does reach pages."""
    client = browser_client(admin_user)
    missing, pages = [], []
    for route, pattern in PAGES:
        response = client.get(_url(route, pattern))
        if response.get("Content-Security-Policy") != settings.CONTENT_SECURITY_POLICY:
            missing.append(f"/{route} -> {response.status_code}")
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            pages.append(route)
    assert missing == []
    assert len(pages) > 20, pages


@pytest.mark.parametrize("url", ["/accounts/login/", "/no-such-page/", "/api/v1/docs"])
def test_the_sign_in_page_the_404_page_and_the_api_docs_have_it_too(url, admin_user, browser_client):
    user = None if url == "/accounts/login/" else admin_user
    response = browser_client(user).get(url)
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


def test_the_api_docs_page_has_no_inline_script(admin_user, browser_client):
    page = browser_client(admin_user).get("/api/v1/docs").content.decode()
    assert "<script>" not in page and "<style>" not in page
    assert '<script src="/api/v1/docs?script=' in page
