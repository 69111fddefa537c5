import pytest

from .services import AzuriteService, S3Service


@pytest.fixture(scope="session")
def s3_service():
    service = S3Service()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    service = AzuriteService(tmp_path_factory.mktemp("azurite"))
    yield service
    service.stop()


@pytest.fixture
def allow_s3_endpoint(settings, s3_service):
    """Lets registered datastores reach moto's server: it listens on loopback over http, which a
    datastore may name only when an administrator allow-lists it (SECURITY.md 34)."""
    settings.STUDIO_DATASTORE_ENDPOINT_ALLOWLIST = [
        *settings.STUDIO_DATASTORE_ENDPOINT_ALLOWLIST,
        f"127.0.0.1:{s3_service.port}",
    ]


@pytest.fixture
def allow_azurite_endpoint(settings, azurite):
    """The same for Azurite."""
    settings.STUDIO_DATASTORE_ENDPOINT_ALLOWLIST = [
        *settings.STUDIO_DATASTORE_ENDPOINT_ALLOWLIST,
        f"127.0.0.1:{azurite.port}",
    ]
