"""Uploads that try to escape the datastore, carry active content, are too large or have too many
parts (SECURITY.md 1, 2, 3, 4), through the REST API and the HTML upload view.

The data directory is a fresh tmp dir per test (tests/conftest.py), so "nothing written anywhere"
is checked by comparing its whole tree before and after.
"""

import asyncio
from pathlib import Path

import pytest

from core.body_limit import BodySizeLimit
from workspaces.storage import datastore_storage

from .multipart import CONTENT_TYPE, field_part, file_part, multipart
from .multipart import end as multipart_end

pytestmark = pytest.mark.django_db

UPLOAD_URLS = {
    "api": "/api/v1/workspaces/team-ws/datastores/workspaceblobstore/files",
    "html": "/workspaces/team-ws/datastores/workspaceblobstore/upload",
}
CREATED = {"api": 201, "html": 200}
BAD_PATHS = [
    pytest.param("../../etc/passwd", id="dotdot"),
    pytest.param("..\\..\\x.ini", id="backslashes"),
    pytest.param("/abs.csv", id="absolute"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("..", id="parent"),
    pytest.param("%2e%2e%2f%2e%2e%2fetc%2fpasswd", id="percent-encoded"),
    pytest.param("%252e%252e%252fx.csv", id="double-encoded"),
    pytest.param("C:/x.csv", id="drive-letter"),
    pytest.param("a#b.csv", id="hash"),
    pytest.param("ok/../../x.csv", id="dotdot-inside"),
]


@pytest.fixture
def uploader(owner, workspace, api_client, browser_client):
    """upload(via, body) -> response: a raw multipart body to the API or the HTML upload view."""
    clients = {"api": api_client(owner), "html": browser_client(owner)}

    def upload(via: str, body: bytes):
        return clients[via].generic("POST", UPLOAD_URLS[via], body, content_type=CONTENT_TYPE)

    return upload


@pytest.fixture
def data_tree(settings):
    """data_tree() -> every file and folder under the data directory, relative to it."""
    root = Path(settings.STUDIO_DATA_DIR)

    def snapshot() -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*")}

    return snapshot


def blob_folder(workspace, settings) -> str:
    location = Path(datastore_storage(workspace.datastores.get(name="workspaceblobstore")).location)
    return str(location.relative_to(settings.STUDIO_DATA_DIR))


def error_message(response) -> str:
    return response.json()["error"]["message"]


@pytest.mark.parametrize("via", ["api", "html"])
@pytest.mark.parametrize("bad", BAD_PATHS)
def test_bad_target_folder_is_refused_naming_path(via, bad, uploader, data_tree):
    before = data_tree()
    response = uploader(via, multipart(fields=[("path", bad)], files=[("ok.csv", b"1,2\n")]))
    assert response.status_code == 400
    assert error_message(response).startswith("path: ")
    assert data_tree() == before


@pytest.mark.parametrize("via", ["api", "html"])
@pytest.mark.parametrize("bad", BAD_PATHS)
def test_bad_relative_path_is_refused_naming_relative_paths(via, bad, uploader, data_tree):
    before = data_tree()
    response = uploader(via, multipart(fields=[("relative_paths", bad)], files=[("ok.csv", b"1,2\n")]))
    assert response.status_code == 400
    assert error_message(response).startswith("relative_paths: ")
    assert data_tree() == before


def test_one_bad_relative_path_stops_the_whole_upload(uploader, data_tree):
    before = data_tree()
    body = multipart(
        fields=[("relative_paths", "good/a.csv"), ("relative_paths", "../b.csv")],
        files=[("a.csv", b"a"), ("b.csv", b"b")],
    )
    response = uploader("api", body)
    assert response.status_code == 400
    assert data_tree() == before


# The multipart parser reduces a file name to its base name and drops "." and "..", before the
# studio sees it; what is left is checked like any other path, and lands inside the datastore.
FILE_NAMES = [
    pytest.param("../../etc/passwd", "passwd", id="dotdot"),
    pytest.param("..\\..\\x.ini", "x.ini", id="backslashes"),
    pytest.param("/abs.csv", "abs.csv", id="absolute"),
    pytest.param("a\x00b", "ab", id="nul"),
    pytest.param("..", None, id="parent"),
    pytest.param("%2e%2e%2f%2e%2e%2fetc%2fpasswd", None, id="percent-encoded"),
    pytest.param("%252e%252e%252fx.csv", None, id="double-encoded"),
    pytest.param("a#b.csv", None, id="hash"),
]


@pytest.mark.parametrize("via", ["api", "html"])
@pytest.mark.parametrize(("bad", "stored_as"), FILE_NAMES)
def test_bad_file_name_is_refused_or_kept_inside_the_datastore(
    via, bad, stored_as, uploader, data_tree, workspace, settings
):
    before = data_tree()
    response = uploader(via, multipart(files=[(bad, b"payload")]))
    if stored_as is None:
        assert response.status_code == 400
        assert error_message(response).startswith("files: ")
        assert data_tree() == before
    else:
        assert response.status_code == CREATED[via]
        assert response.json()["uploaded"] == [stored_as]
        assert data_tree() - before == {f"{blob_folder(workspace, settings)}/{stored_as}"}


@pytest.mark.parametrize("via", ["api", "html"])
def test_folder_upload_keeps_sub_folders_inside_the_target(via, uploader, workspace):
    body = multipart(
        fields=[("path", "raw"), ("relative_paths", "2024/a.csv"), ("relative_paths", "2024/deep/b.csv")],
        files=[("a.csv", b"a"), ("b.csv", b"b")],
    )
    response = uploader(via, body)
    assert response.status_code == CREATED[via]
    assert response.json()["uploaded"] == ["raw/2024/a.csv", "raw/2024/deep/b.csv"]
    storage = datastore_storage(workspace.datastores.get(name="workspaceblobstore"))
    assert storage.open("raw/2024/deep/b.csv").read() == b"b"


# Active content ---------------------------------------------------------------------------------

EVIL = {
    "evil.html": b"<html><body><script>alert(document.cookie)</script></body></html>",
    "evil.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
}
DOWNLOAD_URLS = {
    "api": "/api/v1/workspaces/team-ws/datastores/workspaceblobstore/files/content",
    "html": "/workspaces/team-ws/datastores/workspaceblobstore/download",
}


@pytest.mark.parametrize("via", ["api", "html"])
@pytest.mark.parametrize("name", EVIL)
def test_uploaded_markup_downloads_as_an_inert_attachment(via, name, uploader, owner, api_client, browser_client):
    assert uploader("api", multipart(files=[(name, EVIL[name])])).status_code == 201
    client = api_client(owner) if via == "api" else browser_client(owner)
    response = client.get(DOWNLOAD_URLS[via], {"path": name})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == EVIL[name]


@pytest.mark.parametrize("via", ["api", "html"])
def test_folder_download_is_an_attachment_zip(via, uploader, owner, api_client, browser_client):
    uploader("api", multipart(fields=[("path", "site")], files=[("evil.html", EVIL["evil.html"])]))
    client = api_client(owner) if via == "api" else browser_client(owner)
    response = client.get(DOWNLOAD_URLS[via], {"path": "site"})
    assert response["Content-Disposition"] == 'attachment; filename="site.zip"'
    assert response["Content-Type"] == "application/zip"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", EVIL)
def test_preview_shows_uploaded_markup_escaped(name, uploader, owner, browser_client):
    uploader("api", multipart(files=[(name, EVIL[name])]))
    response = browser_client(owner).get("/workspaces/team-ws/datastores/workspaceblobstore/preview", {"path": name})
    assert response.status_code == 200
    page = response.content.decode()
    preview = page[page.index('data-testid="preview"') :]
    preview = preview[: preview.index("</section>")]
    assert "<script" not in preview
    assert "<svg" not in preview
    assert 'onload="' not in page
    assert "&lt;script&gt;alert(" in preview


# Size and shape of the body ---------------------------------------------------------------------


@pytest.mark.parametrize("via", ["api", "html"])
def test_upload_over_the_size_limit_is_refused_with_413_and_nothing_written(via, uploader, data_tree, settings):
    settings.STUDIO_MAX_UPLOAD_SIZE = 10_000
    before = data_tree()
    response = uploader(via, multipart(files=[("big.bin", b"x" * 20_000)]))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "RequestEntityTooLarge"
    assert data_tree() == before


@pytest.mark.parametrize("via", ["api", "html"])
def test_upload_under_the_size_limit_goes_through(via, uploader, settings):
    settings.STUDIO_MAX_UPLOAD_SIZE = 10_000
    assert uploader(via, multipart(files=[("small.bin", b"x" * 5_000)])).status_code == CREATED[via]


@pytest.mark.parametrize("via", ["api", "html"])
def test_ten_thousand_file_parts_are_refused_and_nothing_written(via, uploader, data_tree):
    before = data_tree()
    body = b"".join(file_part("files", f"f{i}.txt", b"x") for i in range(10_000)) + multipart_end()
    response = uploader(via, body)
    assert response.status_code == 400
    assert data_tree() == before


@pytest.mark.parametrize("via", ["api", "html"])
def test_ten_thousand_fields_are_refused_and_nothing_written(via, uploader, data_tree):
    before = data_tree()
    fields = b"".join(field_part(f"note{i}", "x") for i in range(10_000))  # fields the view would ignore
    response = uploader(via, fields + file_part("files", "a.txt", b"x") + multipart_end())
    assert response.status_code == 400
    assert data_tree() == before


# The ASGI guard in front of Django (studio/body_limit.py) ----------------------------------------


def run_guard(settings, *, max_bytes: int, chunks: list[bytes], headers: list[tuple[bytes, bytes]]):
    """Send `chunks` through BodySizeLimit to an app that records what it got, with a request
    limit of `max_bytes`; returns (what the app saw or None, the response status)."""
    settings.STUDIO_MAX_REQUEST_SIZE = max_bytes
    seen = {}
    sent = []

    async def app(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.update(headers=dict(scope["headers"]), body=body)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(BodySizeLimit(app)(scope, receive, send))
    return (seen or None), sent[0]["status"]


CHUNKED = [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/octet-stream")]


def test_chunked_body_reaches_django_whole_and_with_its_length(settings):
    chunks = [b"a" * 3000, b"b" * 3000, b"c"]
    seen, status = run_guard(settings, max_bytes=10_000, chunks=chunks, headers=CHUNKED)
    assert status == 201
    assert seen["body"] == b"".join(chunks)
    assert seen["headers"][b"content-length"] == b"6001"
    assert b"transfer-encoding" not in seen["headers"]


def test_chunked_body_over_the_limit_gets_413_and_never_reaches_django(settings):
    seen, status = run_guard(settings, max_bytes=5_000, chunks=[b"a" * 3000, b"b" * 3000], headers=CHUNKED)
    assert status == 413
    assert seen is None


def test_declared_body_over_the_limit_gets_413_and_never_reaches_django(settings):
    headers = [(b"content-length", b"6000")]
    seen, status = run_guard(settings, max_bytes=5_000, chunks=[b"a" * 6000], headers=headers)
    assert status == 413
    assert seen is None
