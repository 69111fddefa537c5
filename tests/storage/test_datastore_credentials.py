"""A registered S3 or Azure datastore signs its requests with its own credentials or none, never
with the studio's (SECURITY.md 33), against moto's S3 server and Azurite."""

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from botocore.exceptions import ClientError

from workspaces import services
from workspaces.services import DatastoreSpec
from workspaces.storage import datastore_storage, list_folder

from .services import AZURITE_ACCOUNT, AZURITE_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3_bucket(s3_service):
    """A private bucket holding one private object and one object anyone may read."""
    bucket = f"private-{uuid.uuid4().hex[:8]}"
    client = s3_service.client()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="private.csv", Body=b"the studio's own data\n")
    client.put_object(Bucket=bucket, Key="public.csv", Body=b"open data\n", ACL="public-read")
    return bucket


def test_s3_datastore_without_keys_is_anonymous_although_the_studio_has_aws_credentials(
    monkeypatch, owner, workspace, s3_service, s3_bucket, allow_s3_endpoint
):
    """SECURITY 33: with the studio's own AWS_* variables set to keys the server accepts, a datastore
    registered without keys reads public objects only; a private one answers 403."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_service.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_service.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    datastore = services.datastore_register(
        workspace=workspace,
        user=owner,
        spec=DatastoreSpec(name="open_bucket", kind="s3", container_name=s3_bucket, endpoint=s3_service.endpoint_url),
    )
    storage = datastore_storage(datastore)
    with storage.open("public.csv", "rb") as handle:
        assert handle.read() == b"open data\n"
    with pytest.raises(ClientError) as refused:
        storage.open("private.csv", "rb").read()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_s3_datastore_with_keys_signs_with_its_own_keys_only(
    monkeypatch, owner, workspace, s3_service, s3_bucket, allow_s3_endpoint
):
    """SECURITY 33: the studio's session token is not added to a datastore's own key pair."""
    monkeypatch.setenv("AWS_SESSION_TOKEN", "the-studio-session-token")
    datastore = services.datastore_register(
        workspace=workspace,
        user=owner,
        spec=DatastoreSpec(
            name="keyed_bucket",
            kind="s3",
            container_name=s3_bucket,
            endpoint=s3_service.endpoint_url,
            credentials={"access_key_id": s3_service.access_key, "secret_access_key": s3_service.secret_key},
        ),
    )
    storage = datastore_storage(datastore)
    assert storage.security_token is None
    with storage.open("private.csv", "rb") as handle:
        assert handle.read() == b"the studio's own data\n"


class AmbientCredential:
    """The studio's own Azure credential (django-storages' AZURE_TOKEN_CREDENTIAL); records use."""

    asked = 0

    def get_token(self, *scopes, **kwargs):
        AmbientCredential.asked += 1
        raise AssertionError("a registered datastore asked for the studio's own Azure token")


def test_azure_datastore_without_credentials_reads_public_containers_only(
    settings, owner, workspace, azurite, allow_azurite_endpoint
):
    """SECURITY 33: the studio's Azure settings (a token credential, an account key, a connection
    string) are never used for a datastore registered without credentials."""
    settings.AZURE_TOKEN_CREDENTIAL = AmbientCredential()
    settings.AZURE_ACCOUNT_KEY = AZURITE_KEY
    settings.AZURE_CONNECTION_STRING = azurite.connection_string
    service = azurite.service()
    public, private = f"open-{uuid.uuid4().hex[:8]}", f"closed-{uuid.uuid4().hex[:8]}"
    service.create_container(public, public_access="container")
    service.create_container(private)
    service.get_container_client(public).upload_blob("open.csv", b"open data\n")
    service.get_container_client(private).upload_blob("secret.csv", b"the studio's own data\n")

    def register(name, container):
        return services.datastore_register(
            workspace=workspace,
            user=owner,
            spec=DatastoreSpec(
                name=name,
                kind="azure_blob",
                account_name=AZURITE_ACCOUNT,
                container_name=container,
                endpoint=azurite.blob_endpoint,
            ),
        )

    open_storage = datastore_storage(register("open_blob", public))
    assert [e.name for e in list_folder(open_storage, "")] == ["open.csv"]
    assert open_storage.open("open.csv").read() == b"open data\n"
    closed_storage = datastore_storage(register("closed_blob", private))
    with pytest.raises(HttpResponseError):
        list_folder(closed_storage, "")
    with pytest.raises(HttpResponseError):
        closed_storage.open("secret.csv").read()
    assert AmbientCredential.asked == 0
