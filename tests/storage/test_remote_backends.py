"""Workspace storage accounts and registered datastores on S3 and Azure Blob Storage, against
services that speak the real protocols (moto's S3 server, Azurite)."""

import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.studio_process import StudioProcess
from workspaces import services
from workspaces.models import Datastore
from workspaces.preview import preview_file
from workspaces.services import DatastoreSpec, workspace_create
from workspaces.storage import datastore_storage, delete_tree, list_folder

pytestmark = pytest.mark.django_db

CSV = b"sepal_length,species\n5.1,setosa\n6.2,virginica\n"


def _upload_tree(datastore):
    return services.datastore_upload_files(
        datastore=datastore,
        folder="iris",
        files=[
            ("train.csv", SimpleUploadedFile("train.csv", CSV)),
            ("parts/one.bin", SimpleUploadedFile("one.bin", bytes(range(256)))),
        ],
    )


@pytest.fixture
def s3_workspace_storage(settings, s3_service):
    bucket = f"studio-{uuid.uuid4().hex[:10]}"
    s3_service.create_bucket(bucket)
    settings.STUDIO_STORAGE_KIND = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "workspaces": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_service.endpoint_url,
                "access_key": s3_service.access_key,
                "secret_key": s3_service.secret_key,
                "file_overwrite": True,
                "default_acl": None,
            },
        },
    }
    return bucket


@pytest.fixture
def azure_workspace_storage(settings, azurite):
    container = f"studio-{uuid.uuid4().hex[:10]}"
    azurite.create_container(container)
    settings.STUDIO_STORAGE_KIND = "azure"
    settings.STORAGES = {
        **settings.STORAGES,
        "workspaces": {
            "BACKEND": "storages.backends.azure_storage.AzureStorage",
            "OPTIONS": {
                "azure_container": container,
                "connection_string": azurite.connection_string,
                "overwrite_files": True,
            },
        },
    }
    return container


def test_workspace_storage_account_on_s3_keeps_each_datastore_under_its_own_prefix(
    owner, s3_service, s3_workspace_storage
):
    ws = workspace_create(user=owner, name="on-s3")
    blobstore = ws.datastores.get(name="workspaceblobstore")
    written = _upload_tree(blobstore)
    assert written == ["iris/train.csv", "iris/parts/one.bin"]
    prefix = f"{ws.storage_account.name}/azureml-blobstore-{ws.guid}/"
    assert s3_service.keys(s3_workspace_storage) == [prefix + "iris/parts/one.bin", prefix + "iris/train.csv"]

    storage = datastore_storage(blobstore)
    entries = list_folder(storage, "iris")
    assert [(e.name, e.is_folder) for e in entries] == [("parts", True), ("train.csv", False)]
    assert entries[1].size == len(CSV)
    assert preview_file(storage, "iris/train.csv").rows == [["5.1", "setosa"], ["6.2", "virginica"]]
    # The artifact store of the same account sees none of it.
    assert list_folder(datastore_storage(ws.datastores.get(name="workspaceartifactstore")), "") == []

    assert delete_tree(storage, "iris") == 2
    assert s3_service.keys(s3_workspace_storage) == []


def test_workspace_storage_account_on_azure_blob(owner, azurite, azure_workspace_storage):
    ws = workspace_create(user=owner, name="on-azure")
    blobstore = ws.datastores.get(name="workspaceblobstore")
    _upload_tree(blobstore)
    prefix = f"{ws.storage_account.name}/azureml-blobstore-{ws.guid}/"
    assert azurite.blob_names(azure_workspace_storage) == [prefix + "iris/parts/one.bin", prefix + "iris/train.csv"]
    storage = datastore_storage(blobstore)
    with storage.open("iris/parts/one.bin", "rb") as handle:
        assert handle.read() == bytes(range(256))
    assert [e.name for e in list_folder(storage, "iris")] == ["parts", "train.csv"]
    assert delete_tree(storage, "iris") == 2
    assert azurite.blob_names(azure_workspace_storage) == []


def test_registered_s3_datastore_is_browsable_and_keeps_its_keys_encrypted(
    owner, workspace, s3_service, allow_s3_endpoint
):
    bucket = f"external-{uuid.uuid4().hex[:8]}"
    s3_service.create_bucket(bucket)
    datastore = services.datastore_register(
        workspace=workspace,
        user=owner,
        spec=DatastoreSpec(
            name="raw_s3",
            kind="s3",
            container_name=bucket,
            endpoint=s3_service.endpoint_url,
            root="landing",
            credentials={"access_key_id": s3_service.access_key, "secret_access_key": s3_service.secret_key},
        ),
    )
    stored = Datastore.objects.get(pk=datastore.pk).credentials_encrypted
    assert s3_service.secret_key not in stored and s3_service.access_key not in stored
    _upload_tree(datastore)
    assert s3_service.keys(bucket) == ["landing/iris/parts/one.bin", "landing/iris/train.csv"]


def test_registered_azure_blob_datastore_with_account_key(owner, workspace, azurite, allow_azurite_endpoint):
    container = f"external-{uuid.uuid4().hex[:8]}"
    azurite.create_container(container)
    datastore = services.datastore_register(
        workspace=workspace,
        user=owner,
        spec=DatastoreSpec(
            name="raw_blob",
            kind="azure_blob",
            container_name=container,
            credentials={"connection_string": azurite.connection_string},
        ),
    )
    _upload_tree(datastore)
    assert azurite.blob_names(container) == ["iris/parts/one.bin", "iris/train.csv"]
    storage = datastore_storage(datastore)
    assert storage.open("iris/train.csv").read() == CSV


@pytest.mark.e2e
def test_studio_configured_for_s3_by_environment_alone_stores_uploads_in_the_bucket(tmp_path, s3_service):
    bucket = f"scaleout-{uuid.uuid4().hex[:8]}"
    s3_service.create_bucket(bucket)
    studio = StudioProcess(
        tmp_path / "data",
        extra_env={
            "STUDIO_STORAGE_KIND": "s3",
            "STUDIO_S3_BUCKET": bucket,
            "STUDIO_S3_ENDPOINT_URL": s3_service.endpoint_url,
            "AWS_ACCESS_KEY_ID": s3_service.access_key,
            "AWS_SECRET_ACCESS_KEY": s3_service.secret_key,
        },
    )
    try:
        studio.start()
        with studio.client() as api:
            response = api.post(
                "/api/v1/workspaces/my-workspace/datastores/workspaceblobstore/files",
                data={"path": "uploads"},
                files=[("files", ("train.csv", io.BytesIO(CSV)))],
            )
            assert response.status_code == 201, response.text
            keys = s3_service.keys(bucket)
            assert len(keys) == 1 and keys[0].endswith("/uploads/train.csv")
            content = api.get(
                "/api/v1/workspaces/my-workspace/datastores/workspaceblobstore/files/content",
                params={"path": "uploads/train.csv"},
            )
            assert content.content == CSV
    finally:
        studio.close()
