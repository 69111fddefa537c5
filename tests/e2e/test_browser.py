"""The studio in a real Chromium, driven as a person would: sign in, create a workspace, upload,
preview, copy, download, sign out. Screenshots of each page land in docs/screenshots/."""

import csv
import io
import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.studio_process import ADMIN_USER

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

BLOB_URI = "azureml://datastores/workspaceblobstore/paths/"
WATCH_PROGRESS = """() => {
  const box = document.querySelector('.upload-progress');
  window.seenPercents = [];
  new MutationObserver(() => {
    const pct = box.getAttribute('data-percent');
    if (pct !== null && window.seenPercents.at(-1) !== Number(pct)) window.seenPercents.push(Number(pct));
  }).observe(box, {attributes: true, attributeFilter: ['data-percent']});
}"""


MEASURES = [(4.3, 36), (2.0, 24), (1.0, 59), (0.1, 25)]  # (smallest value, how many steps of 0.1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def measurements_csv(rows: int = 100_000) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sample_id", "species", "sepal_length", "sepal_width", "petal_length", "petal_width"])
    species = ["setosa", "versicolor", "virginica"]
    for i in range(rows):
        writer.writerow([i, species[i % 3], *(f"{base + i % span / 10:.1f}" for base, span in MEASURES)])
    return out.getvalue().encode()


def datastore_table_names(page) -> list[str]:
    return page.locator("[data-testid=datastores] tbody tr td:first-child a").all_inner_texts()


def workspace_names(page) -> list[str]:
    page.goto("/workspaces/")
    return page.locator("table tbody tr td:first-child a").all_inner_texts()


def create_workspace_from_switcher(page, name: str, display_name: str = "", screenshot=None) -> None:
    page.get_by_test_id("workspace-switcher").locator("summary").click()
    expect(page.get_by_role("link", name="+ Create workspace")).to_be_visible()
    if screenshot:
        screenshot(page, "workspace-switcher")
    page.get_by_role("link", name="+ Create workspace").click()
    expect(page.locator("#create-workspace")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    if display_name:
        page.get_by_label("Display name").fill(display_name)
    page.get_by_role("button", name="Create", exact=True).click()


def test_person_uploads_previews_copies_downloads_a_csv_and_signs_out(page, sign_in, screenshot, studio, tmp_path):
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", name="Sign in to ML Studio")).to_be_visible()
    screenshot(page, "login")
    sign_in(page)
    expect(page.get_by_test_id("user-menu")).to_contain_text(ADMIN_USER)
    page.goto("/workspaces/my-workspace/")
    expect(page.get_by_test_id("role")).to_have_text("Owner")
    screenshot(page, "home")

    name = unique("churn")
    create_workspace_from_switcher(page, name, display_name="Customer churn", screenshot=screenshot)
    expect(page).to_have_url(re.compile(rf"/workspaces/{name}/$"))
    expect(page.locator(".msg-success")).to_contain_text(f"Created workspace {name}")
    expect(page.get_by_test_id("workspace-switcher")).to_contain_text(name)
    screenshot(page, "workspace-created")

    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Datastores").click()
    expect(page.get_by_role("heading", name="Datastores")).to_be_visible()
    assert sorted(datastore_table_names(page)) == [
        "workspaceartifactstore",
        "workspaceblobstore",
        "workspacefilestore",
        "workspaceworkingdirectory",
    ]
    default_row = page.locator("[data-testid=datastores] tbody tr", has=page.locator(".tag", has_text="Default"))
    expect(default_row).to_have_count(1)
    expect(default_row.locator("td").first).to_contain_text("workspaceblobstore")
    screenshot(page, "datastores")

    page.get_by_role("link", name="workspaceblobstore").click()
    expect(page.get_by_role("heading", name="workspaceblobstore")).to_be_visible()
    expect(page.locator("#listing")).to_contain_text("This folder is empty")
    screenshot(page, "datastore-empty")

    # Upload a few MB through the hidden file input, with the network slowed so the bar moves.
    original = measurements_csv()
    assert len(original) > 2_000_000
    source = tmp_path / "measurements.csv"
    source.write_bytes(original)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 2_000_000},
    )
    page.evaluate(WATCH_PROGRESS)
    page.get_by_test_id("upload-files").set_input_files(source)
    progress = page.get_by_test_id("upload-progress")
    expect(progress).to_be_visible()
    # A function, not an expression: Playwright evals an expression, which the page's CSP refuses.
    page.wait_for_function("() => Number(document.querySelector('.upload-progress').dataset.percent) >= 20")
    screenshot(page, "upload-progress")
    expect(progress).to_have_attribute("data-done", "ok", timeout=30_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    seen = page.evaluate("window.seenPercents")
    assert seen[-1] == 100 and seen == sorted(seen) and len(seen) > 2, seen
    expect(progress.locator(".progress-bar")).to_have_attribute("style", re.compile(r"width:\s*100%"))
    expect(progress).to_contain_text("Uploaded 1 file")

    row = page.locator("#listing tr[data-path='measurements.csv']")
    expect(row).to_be_visible()
    expect(row).to_contain_text("MB")
    screenshot(page, "datastore-browse")

    row.get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", name="measurements.csv")).to_be_visible()
    table = page.get_by_test_id("preview").locator("table")
    expect(table.locator("thead th")).to_have_text(
        ["sample_id", "species", "sepal_length", "sepal_width", "petal_length", "petal_width"]
    )
    expect(table.locator("tbody tr").first.locator("td")).to_have_text(["0", "setosa", "4.3", "2.0", "1.0", "0.1"])
    expect(table.locator("tbody tr").nth(1).locator("td").nth(1)).to_have_text("versicolor")
    expect(page.get_by_test_id("preview")).to_contain_text("First 50 rows shown")
    screenshot(page, "preview-csv")

    page.get_by_role("button", name="Copy URI").click()
    uri = BLOB_URI + "measurements.csv"
    expect(page.locator("#toast")).to_contain_text(f"Copied {uri}")
    assert page.evaluate("navigator.clipboard.readText()") == uri

    with page.expect_download() as download_info:
        page.get_by_test_id("download").click()
    download = download_info.value
    assert download.suggested_filename == "measurements.csv"
    assert open(download.path(), "rb").read() == original

    page.get_by_test_id("user-menu").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, "user-menu")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("heading", name="Sign in to ML Studio")).to_be_visible()
    page.goto(f"/workspaces/{name}/datastores/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_folder_upload_shows_nested_folders_and_navigates_with_htmx(admin_page, screenshot, tmp_path):
    page = admin_page
    folder = tmp_path / "images"
    (folder / "train" / "cats").mkdir(parents=True)
    (folder / "train" / "cats" / "labels.csv").write_text("file,label\na.png,cat\n")
    (folder / "train" / "notes.txt").write_text("Training images, one folder per class.\n")
    (folder / "README.md").write_text("# Images\n")
    page.goto("/workspaces/my-workspace/datastores/workspaceblobstore/")

    page.get_by_test_id("upload-folder").set_input_files(folder)
    expect(page.get_by_test_id("upload-progress")).to_have_attribute("data-done", "ok")
    expect(page.get_by_test_id("upload-progress")).to_contain_text("Uploaded 3 files")
    listing = page.locator("#listing")
    images = listing.locator("a.folder", has_text="images")
    expect(images).to_be_visible()

    # Into the folder with htmx: only the listing is swapped, and the address follows.
    page.evaluate("window.notReloaded = true")
    images.click()
    expect(page).to_have_url(re.compile(r"\?path=images$"))
    expect(listing.locator("a.folder", has_text="train")).to_be_visible()
    expect(listing.locator("tr[data-path='images/README.md']")).to_be_visible()
    listing.locator("a.folder", has_text="train").click()
    expect(page).to_have_url(re.compile(r"\?path=images(/|%2F)train$"))
    expect(listing.locator("a.folder", has_text="cats")).to_be_visible()
    expect(listing.locator("tr[data-path='images/train/notes.txt']")).to_be_visible()
    expect(listing.locator(".pathbar")).to_have_text(re.compile(r"workspaceblobstore\s*/\s*images\s*/\s*train"))
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "datastore-folder")

    # The folder's Copy URI is the folder's path.
    listing.locator("tr[data-path='images/train/cats']").get_by_role("button", name="Copy URI").click()
    expect(page.locator("#toast")).to_contain_text("Copied " + BLOB_URI + "images/train/cats/")
    assert page.evaluate("navigator.clipboard.readText()") == BLOB_URI + "images/train/cats/"

    # A plain-text file previews as text.
    listing.locator("tr[data-path='images/train/notes.txt']").get_by_role("link", name="Preview").click()
    expect(page.locator("pre.code")).to_have_text("Training images, one folder per class.\n")
    screenshot(page, "preview-text")
    # Back from the preview shows the whole page again, not the cached htmx fragment.
    page.go_back()
    expect(page.get_by_role("navigation", name="Sections")).to_be_visible()
    expect(listing.locator("tr[data-path='images/train/notes.txt']")).to_be_visible()
    assert page.evaluate("typeof window.htmx") == "object"

    # The breadcrumb goes back up, still without a reload.
    page.evaluate("window.notReloaded = true")
    listing.locator(".pathbar").get_by_role("link", name="images").click()
    expect(page).to_have_url(re.compile(r"\?path=images$"))
    expect(listing.locator("a.folder", has_text="train")).to_be_visible()
    listing.locator(".pathbar").get_by_role("link", name="workspaceblobstore").click()
    expect(listing.locator("a.folder", has_text="images")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter a workspace name"),
        ("w" * 34, "33"),
        ("my-workspace", "already exists"),
        ("bad name!", "letters"),
    ],
    ids=["empty", "too-long", "duplicate", "bad-characters"],
)
def test_workspace_create_with_a_bad_name_shows_the_error_and_creates_nothing(admin_page, screenshot, name, message):
    page = admin_page
    before = workspace_names(page)
    page.get_by_test_id("new-workspace").click()
    page.locator("#create-workspace input[name=name]").fill(name)
    page.get_by_role("button", name="Create", exact=True).click()

    error = page.locator("#create-workspace .field.has-error small.error[data-field=name]")
    expect(error).to_be_visible()
    expect(error).to_contain_text(message, ignore_case=True)
    # The error sits under the name field, and the form keeps what was typed.
    expect(page.locator(".field.has-error input[name=name]")).to_have_value(name)
    if name == "":
        screenshot(page, "workspace-create-error")
    assert workspace_names(page) == before


def test_workspace_list_shows_the_create_form_on_demand(admin_page, screenshot):
    page = admin_page
    page.goto("/workspaces/")
    expect(page.locator("#create-workspace")).to_have_count(0)
    expect(page.locator("table tbody tr", has_text="my-workspace")).to_be_visible()
    screenshot(page, "workspaces")
    page.get_by_test_id("new-workspace").click()
    expect(page.locator("#create-workspace")).to_be_visible()
    expect(page.locator("#create-workspace")).to_contain_text("workspaceblobstore (default)")
    screenshot(page, "workspace-create")


def test_reader_sees_files_but_no_upload_or_delete(admin_api, context, sign_in, screenshot):
    username, password = unique("rita"), "Reader-password-42"
    admin_api.post("/api/v1/users", json={"username": username, "password": password}).raise_for_status()
    admin_api.post(
        "/api/v1/workspaces/my-workspace/members", json={"username": username, "role": "reader"}
    ).raise_for_status()
    admin_api.post(
        "/api/v1/workspaces/my-workspace/datastores/workspaceblobstore/files",
        data={"path": "shared"},
        files={"files": ("readme.txt", b"Shared with readers.\n")},
    ).raise_for_status()
    page = context.new_page()
    sign_in(page, username, password)
    expect(page.get_by_test_id("role")).to_have_text("Reader")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Datastores").click()
    expect(page.get_by_role("link", name="+ Create datastore")).to_have_count(0)
    page.get_by_role("link", name="workspaceblobstore").click()
    page.locator("#listing a.folder", has_text="shared").click()
    row = page.locator("#listing tr[data-path='shared/readme.txt']")
    expect(row).to_be_visible()
    expect(row.get_by_role("link", name="Download")).to_be_visible()
    expect(row.get_by_role("button", name="Copy URI")).to_be_visible()
    expect(page.locator("input[type=file]")).to_have_count(0)
    expect(page.get_by_text("Upload files")).to_have_count(0)
    expect(page.get_by_text("Upload folder")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    screenshot(page, "reader-browse")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Settings").click()
    expect(page.locator("form input[name=display_name]")).to_have_count(0)
    expect(page.get_by_text("can't change workspace settings")).to_be_visible()
    screenshot(page, "settings-reader")


def test_members_settings_tokens_and_users_pages(admin_page, screenshot, studio):
    page = admin_page
    ws = "my-workspace"
    page.goto(f"/workspaces/{ws}/members/")
    expect(page.get_by_test_id("members").locator("tbody tr", has_text=ADMIN_USER)).to_contain_text("Owner")
    screenshot(page, "members")

    page.goto(f"/workspaces/{ws}/settings/")
    page.get_by_label("Display name").fill("My first workspace")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".msg-success")).to_have_text("Settings saved.")
    expect(page.get_by_label("Display name")).to_have_value("My first workspace")
    screenshot(page, "settings")

    page.get_by_test_id("user-menu").click()
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("laptop-cli")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text()
    assert len(token) > 20
    expect(page.locator("table tbody tr", has_text="laptop-cli")).to_contain_text("Active")
    screenshot(page, "tokens")
    # The token works, and is never shown again.
    assert httpx.get(studio.url + "/api/v1/workspaces", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page.goto("/accounts/tokens/")
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert token not in page.content()

    page.get_by_test_id("user-menu").click()
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    expect(page.locator("table tbody tr", has_text=ADMIN_USER)).to_contain_text("Yes")
    screenshot(page, "users")


def test_register_datastore_form_shows_validation_errors(admin_page, screenshot):
    page = admin_page
    page.goto("/workspaces/my-workspace/datastores/")
    page.get_by_role("link", name="+ Create datastore").click()
    page.get_by_label("Name", exact=True).fill("bad name!")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator(".field.has-error small.error[data-field=name]")).to_be_visible()
    screenshot(page, "datastore-register", full_page=True)
    page.goto("/workspaces/my-workspace/datastores/")
    assert "bad name!" not in datastore_table_names(page)


def test_user_without_a_workspace_is_told_how_to_start(admin_api, page, sign_in, screenshot):
    username, password = unique("nina"), "Newcomer-password-42"
    admin_api.post("/api/v1/users", json={"username": username, "password": password}).raise_for_status()
    sign_in(page, username, password)
    expect(page).to_have_url(re.compile(r"/workspaces/$"))
    empty = page.locator(".empty")
    expect(empty).to_contain_text("No workspaces yet")
    expect(empty).to_contain_text("ask an Owner to add you")
    expect(page.get_by_role("navigation", name="Sections")).to_have_count(0)
    screenshot(page, "workspaces-empty")
    empty.get_by_role("link", name="Create workspace").click()
    expect(page.locator("#create-workspace input[name=name]")).to_be_visible()


def test_admin_creates_a_user_and_adds_them_as_a_member(admin_page, screenshot):
    page = admin_page
    username = unique("carl")
    page.goto("/accounts/users/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator(".field.has-error small.error[data-field=password]")).to_be_visible()
    expect(page.locator("table tbody tr", has_text=username)).to_have_count(0)
    screenshot(page, "users-error")

    page.get_by_label("Password").fill("Contributor-password-42")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator(".msg-success")).to_contain_text(f"Created user {username}")
    expect(page.locator("table tbody tr", has_text=username)).to_contain_text("No")

    page.goto("/workspaces/my-workspace/members/")
    page.get_by_label("Username").fill(username)
    page.get_by_role("combobox", name="Role", exact=True).select_option(label="Contributor")
    page.get_by_role("button", name="Add", exact=True).click()
    row = page.get_by_test_id("members").locator("tbody tr", has_text=username)
    expect(row.locator("td").nth(1)).to_have_text("Contributor")
    row.get_by_label(f"Role of {username}").select_option(label="Reader")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(".msg-success")).to_contain_text(f"{username} is now Reader")
    expect(page.get_by_test_id("members").locator("tbody tr", has_text=username).locator("td").nth(1)).to_have_text(
        "Reader"
    )
