"""Creating data assets (from finished uploads, a datastore path, a URI), versions, @latest,
archive/restore, edit and delete, through the services."""

import pytest
from django.core.exceptions import ValidationError

from assets.data import selectors, services, uploads
from assets.data.services import DataAssetSpec, UploadedFile
from assets.models import DataAsset, UploadSession
from assets.references import resolve
from assets.versioning import DuplicateVersion, asset_set_archived

from .data_support import CSV, _fast_password_hashing, blob_root, put_file, staged_upload, stored_files  # noqa: F401

pytestmark = pytest.mark.django_db


def create(workspace, owner, **fields):
    return services.data_asset_create(workspace=workspace, user=owner, spec=DataAssetSpec(**fields))


def test_a_single_uploaded_file_lands_under_a_generated_local_upload_path(workspace, owner):
    session = staged_upload(workspace=workspace, user=owner, name="iris.csv", content=CSV)
    asset = create(workspace, owner, name="iris", type="uri_file", uploads=[UploadedFile(str(session.pk))])
    prefix, folder, name = asset.path.split("/")
    assert (prefix, len(folder), name) == ("LocalUpload", 32, "iris.csv")
    assert int(folder, 16) >= 0
    assert (blob_root(workspace) / asset.path).read_bytes() == CSV
    assert asset.uri == f"azureml://datastores/workspaceblobstore/paths/{asset.path}"
    assert (asset.version, asset.size, asset.file_count, asset.original_name) == ("1", len(CSV), 1, "iris.csv")
    assert asset.datastore.name == "workspaceblobstore"


def test_creating_the_asset_removes_its_upload_sessions_and_staging_files(workspace, owner):
    session = staged_upload(workspace=workspace, user=owner, name="iris.csv", content=CSV)
    create(workspace, owner, name="iris", type="uri_file", uploads=[UploadedFile(str(session.pk))])
    assert not UploadSession.objects.exists()
    assert not uploads.staging_path(session.pk).exists()


def test_a_folder_upload_keeps_relative_paths_below_the_folder_name(workspace, owner):
    files = {"images/a.csv": b"a\n1\n", "images/sub/b.bin": bytes(range(256)), "images/empty.txt": b""}
    refs = [
        UploadedFile(str(staged_upload(workspace=workspace, user=owner, name=p, content=c).pk), p)
        for p, c in files.items()
    ]
    asset = create(workspace, owner, name="images", type="uri_folder", uploads=refs)
    assert asset.path.startswith("LocalUpload/") and asset.path.endswith("/images")
    assert asset.uri.endswith("/images/")
    for relative, content in files.items():
        assert (blob_root(workspace) / asset.path.rsplit("/", 1)[0] / relative).read_bytes() == content
    assert (asset.file_count, asset.size, asset.original_name) == (3, 260, "images")


def test_uri_file_needs_exactly_one_upload(workspace, owner):
    refs = [
        UploadedFile(str(staged_upload(workspace=workspace, user=owner, name=n, content=b"x").pk), n)
        for n in ("a.csv", "b.csv")
    ]
    with pytest.raises(ValidationError) as exc:
        create(workspace, owner, name="two", type="uri_file", uploads=refs)
    assert "uploads" in exc.value.message_dict


def test_an_unfinished_upload_is_refused_and_nothing_is_written(workspace, owner):
    session = uploads.upload_session_create(workspace=workspace, user=owner, file_name="big.csv", size=100)
    with pytest.raises(ValidationError) as exc:
        create(workspace, owner, name="big", type="uri_file", uploads=[UploadedFile(str(session.pk))])
    assert "has 0 of 100 bytes" in exc.value.message_dict["uploads"][0]
    assert not DataAsset.objects.exists()
    assert stored_files(workspace) == set()


def test_someone_elses_upload_cannot_be_used(workspace, owner, contributor):
    session = staged_upload(workspace=workspace, user=contributor, name="theirs.csv", content=CSV)
    with pytest.raises(ValidationError) as exc:
        create(workspace, owner, name="x", type="uri_file", uploads=[UploadedFile(str(session.pk))])
    assert "No upload" in exc.value.message_dict["uploads"][0]


def test_a_failure_while_placing_files_removes_what_was_placed_and_creates_nothing(workspace, owner, monkeypatch):
    refs = [
        UploadedFile(str(staged_upload(workspace=workspace, user=owner, name=n, content=b"data").pk), n)
        for n in ("d/a.csv", "d/b.csv", "d/c.csv")
    ]
    real_place, calls = services._place, []

    def failing_place(storage, source, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError("disk full")
        real_place(storage, source, target)

    monkeypatch.setattr(services, "_place", failing_place)
    with pytest.raises(OSError):
        create(workspace, owner, name="d", type="uri_folder", uploads=refs)
    assert not DataAsset.objects.exists()
    assert stored_files(workspace) == set()
    # The uploads are intact: the user can try again.
    assert UploadSession.objects.count() == 3
    monkeypatch.setattr(services, "_place", real_place)
    asset = create(workspace, owner, name="d", type="uri_folder", uploads=refs)
    assert asset.file_count == 3


def test_a_duplicate_version_raced_in_after_placing_removes_the_placed_files(workspace, owner, monkeypatch):
    session = staged_upload(workspace=workspace, user=owner, name="a.csv", content=CSV)
    real_place = services._place

    def place_then_someone_else_creates(storage, source, target):
        real_place(storage, source, target)
        put_file(workspace, "other/x.csv", b"1")
        create(workspace, owner, name="race", version="1", type="uri_file", path="other/x.csv")

    monkeypatch.setattr(services, "_place", place_then_someone_else_creates)
    with pytest.raises(DuplicateVersion):
        create(workspace, owner, name="race", version="1", type="uri_file", uploads=[UploadedFile(str(session.pk))])
    assert stored_files(workspace) == {"other/x.csv"}


def test_mltable_upload_needs_an_mltable_file_at_the_top(workspace, owner):
    session = staged_upload(workspace=workspace, user=owner, name="t/data.csv", content=CSV)
    with pytest.raises(ValidationError) as exc:
        create(workspace, owner, name="t", type="mltable", uploads=[UploadedFile(str(session.pk), "t/data.csv")])
    assert "MLTable" in exc.value.message_dict["uploads"][0]


def test_mltable_upload_with_a_bad_mltable_file_names_its_field_and_line(workspace, owner):
    mltable = b"paths:\n  - file: ./data.csv\ntransformations:\n  - read_delimited:\n      header: sometimes\n"
    refs = [
        UploadedFile(str(staged_upload(workspace=workspace, user=owner, name=n, content=c).pk), n)
        for n, c in (("t/MLTable", mltable), ("t/data.csv", CSV))
    ]
    with pytest.raises(ValidationError) as exc:
        create(workspace, owner, name="t", type="mltable", uploads=refs)
    (field, messages), *_ = exc.value.message_dict.items()
    assert field == "MLTable: transformations.0.read_delimited.header"
    assert "(line 5)" in messages[0]


# From a datastore path or a URI ------------------------------------------------------------------


def test_from_a_datastore_path(workspace, owner):
    put_file(workspace, "raw/2024/train.csv", CSV)
    asset = create(
        workspace, owner, name="train", type="uri_file", datastore="workspaceblobstore", path="raw/2024/train.csv"
    )
    assert (asset.path, asset.size, asset.original_name) == ("raw/2024/train.csv", len(CSV), "train.csv")


def test_from_an_azureml_uri_to_a_folder(workspace, owner):
    put_file(workspace, "raw/a.csv", CSV)
    put_file(workspace, "raw/b/c.csv", CSV)
    asset = create(
        workspace, owner, name="raw", type="uri_folder", path="azureml://datastores/workspaceblobstore/paths/raw/"
    )
    assert (asset.path, asset.file_count, asset.size) == ("raw", 2, 2 * len(CSV))
    assert asset.uri == "azureml://datastores/workspaceblobstore/paths/raw/"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"path": "../../etc/passwd"}, "path", id="dotdot"),
        pytest.param({"path": "/etc/passwd"}, "path", id="absolute"),
        pytest.param({"path": "raw/%2e%2e/%2e%2e/x"}, "path", id="encoded-dotdot"),
        pytest.param({"path": "azureml://datastores/workspaceblobstore/paths/../x"}, "path", id="uri-dotdot"),
        pytest.param({"path": "azureml://datastores/nope/paths/raw/a.csv"}, "path", id="unknown-datastore-uri"),
        pytest.param({"datastore": "nope", "path": "raw/a.csv"}, "datastore", id="unknown-datastore"),
        pytest.param({"path": "https://example.com/a.csv"}, "path", id="http-url"),
        pytest.param({"path": "file:///etc/passwd"}, "path", id="file-url"),
        pytest.param({"path": ""}, "path", id="missing"),
        pytest.param({"path": "raw/missing.csv"}, "path", id="not-there"),
        pytest.param({"path": "raw", "type": "uri_file"}, "path", id="folder-as-file"),
        pytest.param({"path": "raw/a.csv", "type": "uri_folder"}, "path", id="file-as-folder"),
        pytest.param({"path": "raw", "type": "mltable"}, "path", id="mltable-without-file"),
        pytest.param({"path": "raw/a.csv", "type": "csv_file"}, "type", id="unknown-type"),
        pytest.param({"path": "raw/a.csv", "name": "bad name!"}, "name", id="bad-name"),
        pytest.param({"path": "raw/a.csv", "version": "1/2"}, "version", id="bad-version"),
        pytest.param({"path": "raw/a.csv", "tags": ["a"]}, "tags", id="tags-not-a-mapping"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(workspace, owner, fields, field):
    put_file(workspace, "raw/a.csv", CSV)
    spec = {"name": "d", "type": "uri_file", **fields}
    with pytest.raises(ValidationError) as exc:
        create(workspace, owner, **spec)
    assert field in exc.value.message_dict, exc.value.message_dict
    assert not DataAsset.objects.exists()


# Versions, @latest, archive ----------------------------------------------------------------------


def test_versions_count_up_and_a_duplicate_is_a_conflict_naming_both(workspace, owner):
    put_file(workspace, "a.csv", CSV)
    assert [create(workspace, owner, name="d", type="uri_file", path="a.csv").version for _ in range(3)] == [
        "1",
        "2",
        "3",
    ]
    create(workspace, owner, name="d", version="v10", type="uri_file", path="a.csv")
    assert create(workspace, owner, name="d", type="uri_file", path="a.csv").version == "4"
    with pytest.raises(DuplicateVersion) as exc:
        create(workspace, owner, name="d", version="2", type="uri_file", path="a.csv")
    assert "d:2 already exists" in exc.value.message_dict["version"][0]


def test_latest_skips_archived_versions_and_lists_hide_them_unless_asked(workspace, owner):
    put_file(workspace, "a.csv", CSV)
    first, second = (create(workspace, owner, name="d", type="uri_file", path="a.csv") for _ in range(2))
    assert resolve(workspace=workspace, kind="data", ref="azureml:d@latest") == second
    asset_set_archived(asset=second, archived=True)
    assert resolve(workspace=workspace, kind="data", ref="azureml:d@latest") == first
    assert selectors.data_asset_latest(workspace=workspace, name="d") == first
    assert list(selectors.data_assets(workspace=workspace)) == [first]
    assert set(selectors.data_assets(workspace=workspace, include_archived=True)) == {first, second}
    asset_set_archived(asset=second, archived=False)
    assert selectors.data_asset_latest(workspace=workspace, name="d") == second


def test_description_and_tags_can_be_edited(workspace, owner):
    put_file(workspace, "a.csv", CSV)
    asset = create(workspace, owner, name="d", type="uri_file", path="a.csv", tags={"a": "1"})
    services.data_asset_update(asset=asset, description="# Iris\n*flowers*", tags={"stage": "raw"})
    asset.refresh_from_db()
    assert (asset.description, asset.tags) == ("# Iris\n*flowers*", {"stage": "raw"})
    with pytest.raises(ValidationError):
        services.data_asset_update(asset=asset, tags={"": "x"})


def test_deleting_an_uploaded_asset_removes_its_files_but_not_a_registered_path(workspace, owner):
    put_file(workspace, "raw/a.csv", CSV)
    registered = create(workspace, owner, name="reg", type="uri_file", path="raw/a.csv")
    session = staged_upload(workspace=workspace, user=owner, name="up.csv", content=CSV)
    uploaded = create(workspace, owner, name="up", type="uri_file", uploads=[UploadedFile(str(session.pk))])
    services.data_asset_delete(asset=uploaded)
    services.data_asset_delete(asset=registered)
    assert stored_files(workspace) == {"raw/a.csv"}
    assert not DataAsset.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["uploads", "create"])
def test_a_data_asset_cannot_take_the_name_of_a_page(name, owner, workspace):

    from assets.data.services import DataAssetSpec, _validate_fields

    errors = _validate_fields(DataAssetSpec(name=name, type="uri_file"))
    assert "reserved" in errors["name"][0]
