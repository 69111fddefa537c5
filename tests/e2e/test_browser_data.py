"""The Data section in a real Chromium: upload a CSV as a data asset through the create wizard
(chunked, surviving a dropped connection), then look at its Overview, Explore, Profile and Files.
Screenshots land in docs/screenshots/data-*.png."""

import csv
import hashlib
import io
import os
import re
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def iris_csv(rows: int = 3000) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sample_id", "species", "sepal_length", "sepal_width", "petal_length"])
    species = ["setosa", "versicolor", "virginica"]
    for i in range(rows):
        width = "" if i % 10 == 3 else round(2.0 + i % 24 / 10, 1)
        writer.writerow([i, species[i % 3], round(4.3 + i % 36 / 10, 1), width, round(1.0 + i % 59 / 10, 1)])
    return out.getvalue().encode()


def test_upload_a_csv_as_a_data_asset_and_explore_and_profile_it(admin_page, screenshot, tmp_path):
    page = admin_page
    name = f"iris-{uuid.uuid4().hex[:6]}"
    source = tmp_path / "iris.csv"
    source.write_bytes(iris_csv())

    page.goto("/workspaces/my-workspace/data/")
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    page.get_by_test_id("create-data").click()
    expect(page.get_by_role("heading", name="Create data asset")).to_be_visible()

    # The first chunk's connection is cut: the page asks the studio where the upload stands and resumes.
    dropped = []

    def drop_first_chunk(route):
        if route.request.method == "PUT" and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r".*/data/uploads/[0-9a-f-]+$"), drop_first_chunk)
    page.wait_for_selector("form[data-chunked-upload][data-ready]", state="attached")
    page.get_by_test_id("pick-files").set_input_files(source)
    expect(page.get_by_test_id("picked")).to_contain_text("iris.csv")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Type").select_option("uri_file")
    page.get_by_label("Description").fill("Fisher's **iris** measurements, with some widths missing.")
    page.get_by_label("Tags").fill("source=uci\nstage: raw")
    screenshot(page, "data-create")
    page.get_by_test_id("create-submit").click()

    expect(page).to_have_url(re.compile(rf"/workspaces/my-workspace/data/{name}/1/$"), timeout=30_000)
    assert dropped, "no chunk was dropped"
    expect(page.get_by_role("heading", name=re.compile(name))).to_be_visible()
    expect(page.get_by_test_id("uri")).to_have_text(
        re.compile(r"^azureml://datastores/workspaceblobstore/paths/LocalUpload/[0-9a-f]{32}/iris\.csv$")
    )
    expect(page.get_by_test_id("description").locator("strong")).to_have_text("iris")
    expect(page.get_by_test_id("tags")).to_contain_text("source: uci")
    expect(page.get_by_test_id("tags")).to_contain_text("stage: raw")
    expect(page.get_by_test_id("job-yaml")).to_contain_text(f"path: azureml:{name}:1")
    screenshot(page, "data-overview")
    page.get_by_test_id("copy-job-yaml").click()
    expect(page.locator("#toast")).to_contain_text("Copied inputs:")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"inputs:\n  my_data:\n    type: uri_file\n    path: azureml:{name}:1\n"
    expect(page.locator("#toast")).to_be_hidden()

    page.get_by_test_id("tab-explore").click()
    expect(page).to_have_url(re.compile(r"/explore/$"))
    table = page.get_by_test_id("explore-table")
    expect(table.locator("thead th")).to_have_text(
        ["#", "sample_id", "species", "sepal_length", "sepal_width", "petal_length"]
    )
    expect(table.locator("tbody tr")).to_have_count(100)
    expect(table.locator("tbody tr").first.locator("td")).to_have_text(["1", "0", "setosa", "4.3", "2.0", "1.0"])
    expect(table.locator("tbody tr").nth(3).locator("td").nth(4)).to_have_class("null")
    screenshot(page, "data-explore")

    page.get_by_test_id("tab-profile").click()
    profile = page.get_by_test_id("profile-table")
    expect(profile.locator("tbody tr")).to_have_count(5)
    width = profile.locator("tbody tr", has_text="sepal_width").locator("td")
    expect(width.nth(1)).to_have_text("Decimal")
    expect(width.nth(2)).to_have_text("2,700")  # count
    expect(width.nth(3)).to_have_text("300")  # missing
    expect(width.nth(4)).to_have_text("10.0%")  # missing %
    expect(profile.locator("tbody tr", has_text="species").locator("td").nth(5)).to_have_text("3")  # distinct
    expect(page.get_by_test_id("profile-note")).to_contain_text("3,000 rows")
    screenshot(page, "data-profile")

    page.get_by_test_id("tab-files").click()
    expect(page.get_by_test_id("files-table")).to_contain_text("iris.csv")
    with page.expect_download() as download_info:
        page.get_by_test_id("download-all").click()
    assert open(download_info.value.path(), "rb").read() == source.read_bytes()
    screenshot(page, "data-files")

    page.goto("/workspaces/my-workspace/data/")
    row = page.get_by_test_id("data-table").locator("tbody tr", has_text=name)
    expect(row).to_contain_text("uri_file")
    screenshot(page, "data-list")
    # Search by a tag's value: the rows are swapped in place and the query stays in the URL.
    page.evaluate("window.notReloaded = true")
    page.get_by_test_id("list-search").fill("uci")
    expect(page).to_have_url(re.compile(r"\?search=uci$"))
    expect(page.get_by_test_id("data-table").locator("tbody tr", has_text=name)).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "data-list-search")
    page.get_by_test_id("list-search").fill(f"{name}-nothing")
    expect(page.get_by_test_id("data-empty")).to_contain_text("No data assets match")


def test_a_large_file_goes_up_several_chunks_at_once_and_survives_a_dropped_chunk(admin_page, admin_api, tmp_path):
    from assets.data.uploads import CHUNK_SIZE

    page = admin_page
    name = f"big-{uuid.uuid4().hex[:6]}"
    content = os.urandom(2 * CHUNK_SIZE + 12_345)  # three chunks, the last one short
    source = tmp_path / "big.bin"
    source.write_bytes(content)

    # The second chunk's first try is cut off; every chunk PUT is counted while it is on its way.
    puts, dropped, on_the_way, most = [], [], set(), [0]

    def drop_second_chunk(route):
        request = route.request
        if request.method == "PUT":
            puts.append(request.headers.get("content-range"))
            if request.headers.get("content-range", "").startswith(f"bytes {CHUNK_SIZE}-") and not dropped:
                dropped.append(request.headers["content-range"])
                return route.abort("connectionreset")
        route.continue_()

    def started(request):
        if request.method == "PUT" and "/data/uploads/" in request.url:
            on_the_way.add(request)
            most[0] = max(most[0], len(on_the_way))

    def ended(request):
        on_the_way.discard(request)

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    page.route(re.compile(r".*/data/uploads/[0-9a-f-]+$"), drop_second_chunk)
    page.goto("/workspaces/my-workspace/data/create/")
    page.wait_for_selector("form[data-chunked-upload][data-ready]", state="attached")
    page.get_by_test_id("pick-files").set_input_files(source)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Type").select_option("uri_file")
    page.get_by_test_id("create-submit").click()

    expect(page).to_have_url(re.compile(rf"/workspaces/my-workspace/data/{name}/1/$"), timeout=120_000)
    assert dropped, "no chunk was dropped"
    assert most[0] >= 2, f"the chunks went one at a time: {puts}"
    assert sorted(set(puts)) == sorted(
        f"bytes {start}-{min(start + CHUNK_SIZE, len(content)) - 1}/{len(content)}"
        for start in range(0, len(content), CHUNK_SIZE)
    )
    stored = admin_api.get(f"/api/v1/workspaces/my-workspace/data/{name}/versions/1/files/content")
    assert stored.status_code == 200
    assert hashlib.sha256(stored.content).hexdigest() == hashlib.sha256(content).hexdigest()


def test_archive_hides_a_version_until_the_toggle_shows_it(admin_page, admin_api, screenshot):
    page = admin_page
    name = f"arch-{uuid.uuid4().hex[:6]}"
    upload = admin_api.post(
        "/api/v1/workspaces/my-workspace/data/uploads", json={"file_name": "a.csv", "size": 8}
    ).json()
    admin_api.put(
        f"/api/v1/workspaces/my-workspace/data/uploads/{upload['id']}",
        content=b"a,b\n1,2\n",
        headers={"Content-Type": "application/octet-stream", "Content-Range": "bytes 0-7/8"},
    ).raise_for_status()
    admin_api.post(
        "/api/v1/workspaces/my-workspace/data",
        json={"name": name, "type": "uri_file", "uploads": [{"id": upload["id"]}]},
    ).raise_for_status()

    page.goto(f"/workspaces/my-workspace/data/{name}/1/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_test_id("archived")).to_be_visible()
    page.goto("/workspaces/my-workspace/data/")
    table = page.locator("#data-assets")
    expect(table).not_to_contain_text(name)
    page.get_by_test_id("show-archived").click()
    expect(page).to_have_url(re.compile(r"\?archived=1$"))
    expect(table.locator("tr", has_text=name)).to_contain_text("Archived")


def test_yaml_errors_name_the_field_and_line_and_a_datastore_path_creates_the_asset(admin_page, admin_api, screenshot):
    page = admin_page
    name = f"ds-{uuid.uuid4().hex[:6]}"
    admin_api.post(
        "/api/v1/workspaces/my-workspace/datastores/workspaceblobstore/files",
        data={"path": f"raw/{name}"},
        files=[("files", ("iris.csv", iris_csv(50), "text/csv"))],
    ).raise_for_status()

    page.goto("/workspaces/my-workspace/data/create/?source=yaml")
    page.get_by_label("…or paste it").fill(
        f"$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\nname: {name}\ntype: csv\npath: azureml://datastores/workspaceblobstore/paths/raw/{name}/iris.csv\n"
    )
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".field .error").first).to_contain_text(
        "type: Must be one of: uri_file, uri_folder, mltable (line 3)."
    )
    screenshot(page, "data-create-yaml-error")

    page.goto("/workspaces/my-workspace/data/create/?source=datastore")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Datastore").select_option("workspaceblobstore")
    page.get_by_label("Path").fill(f"raw/{name}/../../../etc/passwd")
    page.get_by_test_id("create-submit").click()
    expect(page.locator("[data-field=path]")).to_contain_text("must not contain '..'")
    page.get_by_label("Path").fill(f"raw/{name}/iris.csv")
    screenshot(page, "data-create-datastore")
    page.get_by_test_id("create-submit").click()
    expect(page).to_have_url(re.compile(rf"/data/{name}/1/$"))
    expect(page.get_by_test_id("uri")).to_have_text(
        f"azureml://datastores/workspaceblobstore/paths/raw/{name}/iris.csv"
    )
