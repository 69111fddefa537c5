"""Symbolic links planted in a datastore's folder (by a job, or anyone with a shell) never lead the
studio outside it (SECURITY.md 36): browse, preview, download, folder zip, upload and a job's input
copy, through the HTML views and the REST API. A link to a file inside the folder is served."""

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.runner import _copy_tree_from_storage
from workspaces.models import Workspace
from workspaces.storage import OutsideDatastore, datastore_storage

pytestmark = pytest.mark.django_db

HTML = "/workspaces/team-ws/datastores/workspaceblobstore"
API = "/api/v1/workspaces/team-ws/datastores/workspaceblobstore/files"
THEIRS = b"another workspace's data\n"
KEY = b"the studio's secret key\n"
MINE = b"mine,1\n"


@pytest.fixture
def planted(workspace, outsider, tmp_path):
    """team-ws's blob store holding its own file, a link to it, and links leading out: to the
    studio's key file, to another workspace's folder (inside `data`), and a linked top folder."""
    theirs = datastore_storage(Workspace.objects.get(name="oscars-ws").datastores.get(name="workspaceblobstore"))
    theirs.save("secret.csv", io.BytesIO(THEIRS))
    key = tmp_path / "secret_key"
    key.write_bytes(KEY)
    blobstore = workspace.datastores.get(name="workspaceblobstore")
    root = Path(datastore_storage(blobstore).location)
    (root / "data").mkdir(parents=True)
    (root / "data" / "ok.csv").write_bytes(MINE)
    (root / "data" / "inside.csv").symlink_to(root / "data" / "ok.csv")
    (root / "data" / "key.txt").symlink_to(key)
    (root / "data" / "theirs").symlink_to(theirs.location, target_is_directory=True)
    (root / "data" / "loop").symlink_to(root / "data", target_is_directory=True)
    (root / "linked").symlink_to(theirs.location, target_is_directory=True)
    return blobstore


OUTSIDE = [
    pytest.param("data/key.txt", id="link-to-a-file-outside"),
    pytest.param("data/theirs/secret.csv", id="file-in-a-linked-folder-outside"),
    pytest.param("linked/secret.csv", id="file-below-a-linked-parent-folder"),
]
OUTSIDE_FOLDERS = [pytest.param("data/theirs", id="linked-folder"), pytest.param("linked", id="linked-parent")]


def _leaks(response) -> bool:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return THEIRS in body or KEY in body


def test_browsing_leaves_out_links_leading_outside(planted, owner, browser_client, api_client):
    """SECURITY 36"""
    page = browser_client(owner).get(f"{HTML}/", {"path": "data"})
    assert page.status_code == 200
    assert [e.name for e in page.context["entries"]] == ["loop", "inside.csv", "ok.csv"]
    root = browser_client(owner).get(f"{HTML}/")
    assert [e.name for e in root.context["entries"]] == ["data"]
    listing = api_client(owner).get(API, {"path": "data"})
    assert [e["name"] for e in listing.json()] == ["loop", "inside.csv", "ok.csv"]


@pytest.mark.parametrize("path", OUTSIDE_FOLDERS)
def test_browsing_into_a_linked_folder_outside_is_refused(path, planted, owner, browser_client, api_client):
    """SECURITY 36"""
    page = browser_client(owner).get(f"{HTML}/", {"path": path})
    assert page.status_code == 400
    assert not _leaks(page)
    listing = api_client(owner).get(API, {"path": path})
    assert listing.status_code == 400
    assert "outside the datastore" in listing.json()["error"]["message"]


@pytest.mark.parametrize("path", OUTSIDE)
def test_preview_and_download_refuse_a_file_outside(path, planted, owner, browser_client, api_client):
    """SECURITY 36"""
    client = browser_client(owner)
    for response in (
        client.get(f"{HTML}/preview", {"path": path}),
        client.get(f"{HTML}/download", {"path": path}),
        api_client(owner).get(f"{API}/content", {"path": path}),
    ):
        assert response.status_code == 400
        assert not _leaks(response)


def test_a_link_to_a_file_inside_is_previewed_and_downloaded(planted, owner, browser_client, api_client):
    """SECURITY 36"""
    client = browser_client(owner)
    preview = client.get(f"{HTML}/preview", {"path": "data/inside.csv"})
    assert preview.status_code == 200
    assert preview.context["preview"].header == ["mine", "1"]
    download = client.get(f"{HTML}/download", {"path": "data/inside.csv"})
    assert b"".join(download.streaming_content) == MINE
    content = api_client(owner).get(f"{API}/content", {"path": "data/inside.csv"})
    assert b"".join(content.streaming_content) == MINE


@pytest.mark.parametrize("path", ["", "data"])
def test_a_folder_zip_leaves_out_links_outside_and_ends_on_a_loop(path, planted, owner, browser_client, api_client):
    """SECURITY 36"""
    prefix = "data/" if not path else ""
    for response in (
        browser_client(owner).get(f"{HTML}/download", {"path": path}),
        api_client(owner).get(f"{API}/content", {"path": path}),
    ):
        assert response.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        assert sorted(archive.namelist()) == [f"{prefix}inside.csv", f"{prefix}ok.csv"]
        assert all(archive.read(name) == MINE for name in archive.namelist())


@pytest.mark.parametrize("folder", ["linked", "data/theirs"])
def test_an_upload_through_a_linked_folder_outside_is_refused(folder, planted, owner, api_client, outsider):
    """SECURITY 36: nothing is written into the other workspace's folder."""
    upload = SimpleUploadedFile("planted.csv", b"x\n")
    response = api_client(owner).post(API, {"path": folder, "files": [upload]}, format="multipart")
    assert response.status_code == 400
    theirs = datastore_storage(Workspace.objects.get(name="oscars-ws").datastores.get(name="workspaceblobstore"))
    assert not theirs.exists("planted.csv")


def test_a_file_opened_outside_is_refused_even_when_a_link_changed_after_the_check(planted, tmp_path):
    """SECURITY 36: the file actually opened is checked, not only its name beforehand."""
    storage = datastore_storage(planted)
    storage.path = lambda name: str(tmp_path / "secret_key")  # as if the link moved in between
    with pytest.raises(OutsideDatastore):
        storage.open("data/ok.csv")


def test_a_jobs_input_copy_leaves_out_links_outside(planted, tmp_path):
    """SECURITY 36: a download-mode input is copied through the storage, not by following links."""
    target = tmp_path / "job-input"
    _copy_tree_from_storage(planted, "data", target)
    copied = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert copied == ["inside.csv", "ok.csv"]
    assert all((target / name).read_bytes() == MINE for name in copied)
