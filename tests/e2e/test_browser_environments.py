"""Environments in a real Chromium: create a custom environment and watch its build log stream to
Succeeded; build a curated one live; log text stays text. Screenshots land in docs/screenshots/."""

import re
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ENVIRONMENTS = "/workspaces/my-workspace/environments/"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_person_creates_an_environment_and_watches_its_build_succeed(page, sign_in, screenshot):
    sign_in(page)
    page.goto(ENVIRONMENTS)
    expect(page.get_by_role("heading", name="Environments", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Custom environments")).to_have_attribute("aria-current", "page")

    page.get_by_role("link", name="Curated environments").click()
    # Each curated version is a row: the scikit-learn environment has versions 1 and 2.
    expect(page.get_by_role("link", name="AzureML-sklearn-1.5-py311")).to_have_count(2)
    expect(page.get_by_role("link", name="AzureML-minimal-py311")).to_be_visible()
    screenshot(page, "environments-curated")

    page.get_by_role("link", name="Custom environments").click()
    page.get_by_role("link", name="+ Create").click()
    expect(page.get_by_role("heading", name="Create environment")).to_be_visible()
    expect(page.get_by_label("Image", exact=True)).to_have_value(
        "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
    )
    name = unique("six-env")
    page.get_by_role("radio", name="pip requirements").check()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description", exact=True).fill("Has **six** and idna.")
    page.get_by_label("Tags", exact=True).fill("team=fraud")
    page.locator("textarea[name=pip_requirements]").fill("# for the demo\nsix\nidna\n")
    expect(page.locator("textarea[name=conda_file]")).to_be_hidden()  # only the chosen source shows
    screenshot(page, "environments-create")
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page).to_have_url(re.compile(rf"{ENVIRONMENTS}{name}/1/$"))
    expect(page.locator(".msg-success")).to_contain_text(f"Created environment {name}:1")
    expect(page.get_by_test_id("image-note")).to_have_text(
        "image mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest runs on the studio's Python 3.11"
    )

    page.get_by_role("link", name="Build log").click()
    log = page.get_by_test_id("build-log")
    expect(log).to_contain_text("uv pip install")
    status = page.locator(".log-card [data-build-status]")
    expect(status).to_have_text("Succeeded", timeout=120_000)
    expect(log).to_have_attribute("data-done", "Succeeded")
    expect(log).to_contain_text("+ six==")
    expect(log).to_contain_text("Succeeded in")
    expect(page).to_have_url(re.compile(r"\?tab=log$"))
    screenshot(page, "environments-build-log")

    page.get_by_role("link", name="Overview").click()
    expect(page.locator(".markdown strong")).to_have_text("six")
    expect(page.locator("dl.props [data-build-status]")).to_have_text("Succeeded")
    screenshot(page, "environments-detail")

    page.goto(ENVIRONMENTS)
    row = page.locator("[data-testid=environments] tbody tr", has=page.get_by_role("link", name=name))
    expect(row.locator("[data-build-status]")).to_have_text("Succeeded")
    screenshot(page, "environments-list")


def test_person_builds_a_curated_environment_and_sees_the_log_live(page, sign_in, screenshot):
    sign_in(page)
    page.goto(ENVIRONMENTS + "AzureML-sklearn-1.5-py311/1/")
    build = page.get_by_role("button", name="Build image")
    if build.count():  # the first run on this studio; later runs find it built
        build.click()
        expect(page).to_have_url(re.compile(r"\?tab=log$"))
        log = page.get_by_test_id("build-log")
        expect(log).to_contain_text("uv pip install", timeout=60_000)
        if page.locator(".log-card [data-build-status]").inner_text() == "Building":
            screenshot(page, "environments-build-live")
    else:
        page.get_by_role("link", name="Build log").click()
    expect(page.locator(".log-card [data-build-status]")).to_have_text("Succeeded", timeout=300_000)
    expect(page.get_by_test_id("build-log")).to_contain_text("+ scikit-learn==1.5.2")


def test_log_text_that_looks_like_html_stays_text(page, sign_in, studio):
    name = unique("html-env")
    with studio.client() as api:
        created = api.post(
            "/api/v1/workspaces/my-workspace/environments", json={"name": name, "pip_requirements": "six"}
        ).json()
    log = studio.data_dir / "registry" / created["build"]["spec_hash"] / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:  # as a package's build output could print it
        out.write('2026-01-01T00:00:00Z <img src=x onerror="window.pwned=1"><b>bold?</b>\n')
    sign_in(page)
    page.goto(f"{ENVIRONMENTS}{name}/1/?tab=log")
    expect(page.get_by_test_id("build-log")).to_contain_text('<img src=x onerror="window.pwned=1"><b>bold?</b>')
    assert page.locator(".build-log img, .build-log b").count() == 0
    assert page.evaluate("window.pwned") is None
