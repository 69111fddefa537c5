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
