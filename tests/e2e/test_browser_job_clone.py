"""A data scientist's second try, in a real Chromium against the real studio: submit from the form
with a data asset picked from the list (the code folder survives a failed submit), see it Running
without a reload, read the failed job's error on its Overview, then "Edit and submit" it with a
fixed command; both jobs are on Home, and a wrong address is a 404 inside the shell. Screenshots: jobs-submit-data-picker.png,
jobs-failed-error.png, jobs-clone-form.png, home-recent.png, error-404.png."""

import textwrap
import uuid

import pytest
from playwright.sync_api import expect

from tests.studio_process import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
WS = "my-workspace"
ENVIRONMENT = "azureml:AzureML-minimal-py311:1"
JOB_TIMEOUT = 90_000

SCRIPT = textwrap.dedent(
    """
    import sys, time
    rows = open(sys.argv[1]).read().splitlines()
    print(f"read {len(rows)} rows", flush=True)
    time.sleep(3)  # Running long enough to be seen
    if "--fixed" not in sys.argv:
        raise ValueError(f"column 'species' has an unexpected value: {rows[-1]!r}")
    print("trained", flush=True)
    """
)


def data_asset(admin_api, name: str) -> None:
    content = b"sepal,species\n5.1,setosa\n4.9,???\n"
    upload = admin_api.post(
        f"/api/v1/workspaces/{WS}/data/uploads", json={"file_name": "iris.csv", "size": len(content)}
    ).json()
    admin_api.put(
        f"/api/v1/workspaces/{WS}/data/uploads/{upload['id']}",
        content=content,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes 0-{len(content) - 1}/{len(content)}",
        },
    ).raise_for_status()
    admin_api.post(
        f"/api/v1/workspaces/{WS}/data", json={"name": name, "type": "uri_file", "uploads": [{"id": upload["id"]}]}
    ).raise_for_status()


def head_status(page):
    return page.locator("#job-live [data-job-status]")


def test_pick_data_fail_read_the_error_clone_and_resubmit(admin_page, admin_api, studio, screenshot, tmp_path):
    page = admin_page
    studio.wait_for_worker()
    name = f"iris-{uuid.uuid4().hex[:6]}"
    data_asset(admin_api, name)
    folder = tmp_path / "iris-train"
    folder.mkdir()
    (folder / "train.py").write_text(SCRIPT)

    page.goto(f"/workspaces/{WS}/jobs/submit/")
    page.locator("input[name=code_files]").set_input_files(folder)
    page.get_by_role("textbox", name="Command", exact=True).fill("python train.py ${{inputs.iris}}")
    page.get_by_role("combobox", name="Compute", exact=True).select_option("cpu-cluster")
    page.get_by_label("Experiment name").fill("clone-e2e")
    page.get_by_label("Display name").fill(f"Iris {name}")
    row = page.locator("table[data-rows=input] tbody tr").first
    row.get_by_label("Input name").fill("iris")
    row.get_by_label("Pick data for this input").select_option(f"azureml:{name}:1")
    expect(row.get_by_label("Input value or path")).to_have_value(f"azureml:{name}:1")
    expect(row.get_by_label("Input type")).to_have_value("uri_file")  # the asset's type comes along
    screenshot(page, "jobs-submit-data-picker")

    # No environment chosen: the form comes back with the folder kept on the server.
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page.get_by_test_id("staged-code")).to_contain_text("iris-train/ (1 file)")
    page.get_by_role("combobox", name="Environment", exact=True).select_option(ENVIRONMENT)
    page.get_by_test_id("submit").click()

    expect(page.locator(".msg-success")).to_contain_text("Submitted job")
    first_url = page.url
    # The page is pushed the job's states: Running shows without a reload, soon after the studio
    # records it (the bench measures how soon; 2 s leaves room for a busy host).
    job_name = first_url.rstrip("/").rsplit("/", 1)[1]
    wait_for(
        lambda: admin_api.get(f"/api/v1/workspaces/{WS}/jobs/{job_name}").json()["status"] == "Running",
        timeout=JOB_TIMEOUT / 1000,
        interval=0.05,
        what="the job to run",
    )
    expect(head_status(page)).to_have_text("Running", timeout=2_000)
    expect(head_status(page)).to_have_text("Failed", timeout=JOB_TIMEOUT)
    page.reload()
    error = page.get_by_test_id("job-error")
    expect(error).to_contain_text("ValueError: column 'species' has an unexpected value: '4.9,???'")
    expect(error).to_contain_text("Traceback (most recent call last)")
    expect(error).not_to_contain_text("read 2 rows")  # only the traceback, not what came before it
    error.scroll_into_view_if_needed()
    screenshot(page, "jobs-failed-error")
    error.get_by_test_id("job-error-log").click()
    expect(page.get_by_test_id("job-log")).to_contain_text("ValueError", timeout=10_000)

    page.goto(first_url)
    page.get_by_test_id("clone-job").click()
    expect(page.get_by_role("heading", name="Edit and submit")).to_be_visible()
    expect(page.get_by_test_id("code-from-job")).to_be_visible()
    expect(page.get_by_label("Display name")).to_have_value(f"Iris {name}")
    expect(page.get_by_role("combobox", name="Environment", exact=True)).to_have_value(ENVIRONMENT)
    first_input = page.locator("table[data-rows=input] tbody tr").first
    expect(first_input.get_by_label("Input value or path")).to_have_value(f"azureml:{name}:1")
    command = page.get_by_role("textbox", name="Command", exact=True)
    expect(command).to_have_value("python train.py ${{inputs.iris}}")
    command.fill("python train.py ${{inputs.iris}} --fixed")
    screenshot(page, "jobs-clone-form")
    page.get_by_test_id("submit").click()

    expect(page.locator(".msg-success")).to_contain_text("Submitted job")
    assert page.url != first_url
    expect(head_status(page)).to_have_text("Completed", timeout=JOB_TIMEOUT)

    # Both jobs are on the workspace's Home, newest first; an address that leads nowhere is a 404
    # inside the studio's shell, with the way back.
    page.get_by_role("link", name="Home", exact=True).click()
    recent = page.locator("section.card", has=page.get_by_role("heading", name="Recent"))
    expect(recent.get_by_role("link", name=f"Iris {name}")).to_have_count(2)
    expect(recent.get_by_role("link", name=f"{name}:1")).to_be_visible()
    screenshot(page, "home-recent")
    response = page.goto(f"/workspaces/{WS}/jobs/no-such-job-{name}/")
    assert response.status == 404
    expect(page.get_by_test_id("error-page")).to_contain_text("Page not found")
    expect(page.get_by_test_id("user-menu")).to_be_visible()
    screenshot(page, "error-404")
    page.get_by_role("link", name="Go to Home").click()
    expect(page.get_by_role("heading", name="Recent")).to_be_visible()
