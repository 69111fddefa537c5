"""The Content-Security-Policy in a real Chromium: the main pages load, run their scripts and swap
their htmx fragments without the browser refusing anything."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WS = "my-workspace"
# Every refusal fires `securitypolicyviolation` on the document (a script added this way is exempt).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(`${e.violatedDirective} refused ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
});
"""
PAGES = [
    f"/workspaces/{WS}/",
    f"/workspaces/{WS}/data/",
    f"/workspaces/{WS}/data/create/",
    f"/workspaces/{WS}/jobs/",
    f"/workspaces/{WS}/jobs/submit/",
    f"/workspaces/{WS}/environments/new/",
    f"/workspaces/{WS}/models/new/",
    f"/workspaces/{WS}/components/new/",
    f"/workspaces/{WS}/compute/new/",
    f"/workspaces/{WS}/datastores/new/",
    f"/workspaces/{WS}/environments/",
    f"/workspaces/{WS}/models/",
    f"/workspaces/{WS}/components/",
    f"/workspaces/{WS}/compute/",
    f"/workspaces/{WS}/datastores/",
    f"/workspaces/{WS}/datastores/workspaceblobstore/",
    f"/workspaces/{WS}/members/",
    f"/workspaces/{WS}/settings/",
    "/workspaces/",
    "/accounts/tokens/",
    "/accounts/users/",
    "/api/v1/docs",
]


@pytest.fixture
def watched(admin_page):
    """The admin's page, recording CSP refusals reported as events or on the console."""
    console = []
    admin_page.add_init_script(RECORD_VIOLATIONS)
    admin_page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    admin_page.console_csp = console
    return admin_page


def violations(page) -> list[str]:
    return page.evaluate("window.__violations || []") + page.console_csp


def goto_under_the_policy(page, url: str):
    response = page.goto(url)
    assert response.status == 200, url
    assert "default-src 'self'" in response.headers["content-security-policy"], url
    return response


def test_main_pages_load_without_a_csp_violation(watched):
    for url in PAGES:
        goto_under_the_policy(watched, url)
        watched.wait_for_load_state("networkidle")
        assert violations(watched) == [], url


def test_the_api_docs_render_under_the_policy(watched):
    goto_under_the_policy(watched, "/api/v1/docs")
    expect(watched.locator(".swagger-ui .info .title")).to_contain_text("Studio REST API")
    assert violations(watched) == []


def test_htmx_fragments_and_the_workspace_switcher_work_under_the_policy(watched):
    goto_under_the_policy(watched, f"/workspaces/{WS}/models/")
    with watched.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        watched.locator("input[name=search]").fill("no-such-model")
    watched.get_by_test_id("workspace-switcher").locator("summary").click()
    expect(watched.get_by_role("link", name="+ Create workspace")).to_be_visible()
    assert violations(watched) == []


def test_the_sign_in_page_has_no_csp_violation(page):
    page.add_init_script(RECORD_VIOLATIONS)
    goto_under_the_policy(page, "/accounts/login/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("window.__violations") == []
