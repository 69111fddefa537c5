"""Browser fixtures: the system Chromium driven by Playwright against the real studio."""

from pathlib import Path

import pytest

from tests.studio_process import ADMIN_PASSWORD, ADMIN_USER, ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
SCREENSHOTS = ROOT / "docs" / "screenshots"


def sign_in_with_form(page, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD):
    """Through the login form, as a person does."""
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole run; never a browser downloaded by Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api.expect.set_options(timeout=10_000)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def new_context(browser, studio):
    """new_context(**options): a fresh browser profile on the studio's address, clipboard allowed."""

    def make(**options):
        context = browser.new_context(base_url=studio.url, viewport=VIEWPORT, accept_downloads=True, **options)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=studio.url)
        context.set_default_timeout(15_000)
        return context

    return make


@pytest.fixture
def context(new_context):
    context = new_context()
    yield context
    context.close()


@pytest.fixture
def page(context):
    """A page in a fresh profile, signed in as nobody."""
    return context.new_page()


@pytest.fixture(scope="session")
def admin_state(new_context):
    """The admin's cookies after one sign-in through the form, reused by `admin_page`."""
    context = new_context()
    sign_in_with_form(context.new_page())
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def admin_page(new_context, admin_state):
    """A page already signed in as the studio admin."""
    context = new_context(storage_state=admin_state)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def admin_api(studio):
    """An HTTP client on the studio's REST API as the admin (one token for the whole run)."""
    with studio.client() as client:
        yield client


@pytest.fixture
def sign_in():
    """sign_in(page, username=admin, password=...)."""
    return sign_in_with_form


@pytest.fixture
def screenshot():
    """screenshot(page, "name"): docs/screenshots/name.png of the 1400x900 viewport (or the full page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.mouse.move(VIEWPORT["width"] - 1, VIEWPORT["height"] - 1)
        page.screenshot(path=path, full_page=full_page, animations="disabled", caret="hide")
        return path

    return take
