"""Where a registered datastore may send requests (SECURITY.md 34), and the studio's own bucket or
container, which no datastore may name (SECURITY.md 33). Through the REST API (the CLI's path too)
and the HTML form; at registration and again at each use."""

import socket
import threading

import psutil
import pytest

from core import netaddr
from workspaces.models import Datastore
from workspaces.services import DatastoreSpec, datastore_register
from workspaces.storage import DatastoreUnavailable, datastore_storage

pytestmark = pytest.mark.django_db

API = "/api/v1/workspaces/team-ws/datastores"
HTML = "/workspaces/team-ws/datastores"

REFUSED_ENDPOINTS = [
    pytest.param("https://127.0.0.1", id="loopback"),
    pytest.param("https://127.8.9.10:8443", id="loopback-range"),
    pytest.param("https://localhost:9000", id="loopback-by-name"),
    pytest.param("https://2130706433", id="loopback-as-a-number"),
    pytest.param("https://10.1.2.3", id="private-10"),
    pytest.param("https://172.16.5.4", id="private-172"),
    pytest.param("https://192.168.1.1", id="private-192"),
    pytest.param("https://100.64.0.1", id="carrier-grade-nat"),
    pytest.param("https://169.254.169.254", id="cloud-metadata"),
    pytest.param("https://0.0.0.0", id="unspecified"),
    pytest.param("https://224.0.0.1", id="multicast"),
    pytest.param("https://[::1]", id="ipv6-loopback"),
    pytest.param("https://[::]", id="ipv6-unspecified"),
    pytest.param("https://[fd00::5]", id="unique-local"),
    pytest.param("https://[fe80::1]", id="ipv6-link-local"),
    pytest.param("https://[::ffff:169.254.169.254]", id="ipv4-mapped-metadata"),
    pytest.param("http://203.0.113.80", id="public-over-http"),
    pytest.param("https://203.0.113.80\\@127.0.0.1", id="backslash-before-the-host"),
    pytest.param("https://user@127.0.0.1", id="user-part"),
    pytest.param("file:///etc/passwd", id="not-http"),
]
PUBLIC_ENDPOINTS = ["https://203.0.113.80", "https://198.51.100.7:9000", "https://[2001:db8::7]"]


def s3(endpoint: str, name: str = "bucket") -> dict:
    return {"name": name, "kind": "s3", "container_name": "data", "endpoint": endpoint}


@pytest.mark.parametrize("endpoint", REFUSED_ENDPOINTS)
def test_api_refuses_an_endpoint_that_is_not_https_to_a_public_address(endpoint, owner, workspace, api_client):
    """SECURITY 34"""
    response = api_client(owner).post(API, s3(endpoint), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("endpoint: ")
    assert not Datastore.objects.filter(name="bucket").exists()


@pytest.mark.parametrize("endpoint", REFUSED_ENDPOINTS)
def test_html_form_shows_a_refused_endpoint_on_its_field(endpoint, owner, workspace, browser_client):
    """SECURITY 34"""
    response = browser_client(owner).post(f"{HTML}/new/", s3(endpoint))
    assert response.status_code == 200
    assert "endpoint" in response.context["form"].errors
    assert not Datastore.objects.filter(name="bucket").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"endpoint": "https://169.254.169.254/acct"}, "endpoint", id="account-url"),
        pytest.param({"endpoint": "core.windows.net/@127.0.0.1"}, "endpoint", id="suffix-naming-another-host"),
        pytest.param({"account_name": "evil.example#"}, "account_name", id="account-name-naming-another-host"),
        pytest.param(
            {"credentials": {"connection_string": "BlobEndpoint=http://169.254.169.254/;SharedAccessSignature=sv=1"}},
            "credentials",
            id="connection-string-endpoint",
        ),
        pytest.param(
            {"credentials": {"connection_string": "blobendpoint=https://10.0.0.8/;SharedAccessSignature=sv=1"}},
            "credentials",
            id="connection-string-lowercase-key",
        ),
        pytest.param(
            {"credentials": {"connection_string": "UseDevelopmentStorage=true"}},
            "credentials",
            id="development-storage",
        ),
        pytest.param(
            {"credentials": {"connection_string": "AccountName=acct;AccountKey=a2V5;EndpointSuffix=x@127.0.0.1"}},
            "credentials",
            id="connection-string-suffix",
        ),
    ],
)
def test_api_refuses_an_azure_datastore_reaching_an_internal_address(payload, field, owner, workspace, api_client):
    """SECURITY 34"""
    body = {"name": "lake", "kind": "azure_blob", "account_name": "acct", "container_name": "raw", **payload}
    response = api_client(owner).post(API, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"{field}: ")
    assert not Datastore.objects.filter(name="lake").exists()


def _an_own_address_not_otherwise_internal() -> str | None:
    for items in psutil.net_if_addrs().values():
        for item in items:
            if item.family == socket.AF_INET and not item.address.startswith(("127.", "10.", "172.", "192.168.")):
                return item.address
    return None


def test_an_address_of_the_studios_own_host_is_refused(owner, workspace, api_client):
    """SECURITY 34: a server listening on all interfaces is reachable on each of them."""
    address = _an_own_address_not_otherwise_internal()
    if address is None:
        pytest.skip("this host has no address outside the private ranges")
    response = api_client(owner).post(API, s3(f"https://{address}"), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("endpoint: ")


@pytest.mark.parametrize("endpoint", PUBLIC_ENDPOINTS)
def test_https_to_a_public_address_is_accepted_documentation_ranges_included(endpoint, owner, workspace, api_client):
    """SECURITY 34: the documentation ranges are public (some networks route them to mirrors)."""
    response = api_client(owner).post(API, s3(endpoint), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["endpoint"] == endpoint


@pytest.mark.parametrize(
    ("allowed", "endpoint", "status"),
    [
        pytest.param(["127.0.0.1:9000"], "http://127.0.0.1:9000", 201, id="host-and-port"),
        pytest.param(["127.0.0.1:9000"], "http://127.0.0.1:9001", 400, id="another-port"),
        pytest.param(["localhost"], "http://localhost:9000", 201, id="host-any-port"),
        pytest.param(["[::1]:9000"], "https://[::1]:9000", 201, id="ipv6"),
        pytest.param(["minio.internal"], "https://10.0.0.7", 400, id="another-host"),
    ],
)
def test_an_administrator_allow_lists_an_internal_endpoint(
    allowed, endpoint, status, settings, owner, workspace, api_client
):
    """SECURITY 34"""
    settings.STUDIO_DATASTORE_ENDPOINT_ALLOWLIST = allowed
    response = api_client(owner).post(API, s3(endpoint), format="json")
    assert response.status_code == status


# At each use -------------------------------------------------------------------------------------


class Listener:
    """A TCP server on loopback that counts connections and answers each with 403."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close()

    def close(self):
        self.server.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def _every_read(client, api_client, owner):
    """Browse, preview, download and the API's listing and content of the datastore `bucket`."""
    base = f"{HTML}/bucket"
    api = api_client(owner)
    return {
        "browse": client.get(f"{base}/"),
        "preview": client.get(f"{base}/preview", {"path": "a.csv"}),
        "download": client.get(f"{base}/download", {"path": "a.csv"}),
        "api-list": api.get(f"{API}/bucket/files"),
        "api-content": api.get(f"{API}/bucket/files/content", {"path": "a.csv"}),
    }


def test_an_endpoint_no_longer_allowed_is_refused_before_any_request(
    settings, owner, workspace, listener, browser_client, api_client
):
    """SECURITY 34: checked again at each use; no connection reaches the endpoint once refused."""
    endpoint = f"http://127.0.0.1:{listener.port}"
    settings.STUDIO_DATASTORE_ENDPOINT_ALLOWLIST = [f"127.0.0.1:{listener.port}"]
    datastore_register(workspace=workspace, user=owner, spec=DatastoreSpec(**s3(endpoint)))
    client = browser_client(owner)
    assert "could not be read" in client.get(f"{HTML}/bucket/").content.decode()
    assert listener.connections >= 1  # while allowed, requests do reach it

    settings.STUDIO_DATASTORE_ENDPOINT_ALLOWLIST = []
    listener.connections = 0
    responses = _every_read(client, api_client, owner)
    assert "must use https" in responses.pop("browse").content.decode()
    for what, response in responses.items():
        assert response.status_code == 400, what
    assert "must use https" in responses["api-list"].json()["error"]["message"]
    assert listener.connections == 0


def test_a_name_that_resolves_to_an_internal_address_after_registration_is_refused(
    monkeypatch, owner, workspace, listener, browser_client, api_client
):
    """SECURITY 34: DNS rebinding. The name resolved to a public address when registered; at use it
    resolves to loopback, where the listener waits, and nothing is sent."""
    answer = {"address": "203.0.113.9"}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "data.rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer["address"], int(port)))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    endpoint = f"https://data.rebind.test:{listener.port}"
    datastore = datastore_register(workspace=workspace, user=owner, spec=DatastoreSpec(**s3(endpoint)))
    answer["address"] = "127.0.0.1"
    with pytest.raises(DatastoreUnavailable, match="internal address"):
        datastore_storage(datastore)
    responses = _every_read(browser_client(owner), api_client, owner)
    assert "internal address" in responses.pop("browse").content.decode()
    assert all(response.status_code == 400 for response in responses.values())
    assert listener.connections == 0


def test_the_address_classifier_knows_the_documentation_ranges_are_public():
    """SECURITY 34: pypi.org may resolve into one of them; they are not the studio's network."""
    own = {item.address.split("%")[0] for items in psutil.net_if_addrs().values() for item in items}
    for address in ("192.0.2.10", "198.51.100.7", "203.0.113.80", "2001:db8::7"):
        assert netaddr.is_internal(address) == (address in own)
    for address in ("127.0.0.1", "10.0.0.1", "100.64.1.1", "169.254.169.254", "fd00::1", "fe80::1", "::ffff:10.0.0.1"):
        assert netaddr.is_internal(address)


# The studio's own storage -------------------------------------------------------------------------


@pytest.fixture
def studio_on_s3(settings):
    settings.STUDIO_STORAGE_KIND = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "workspaces": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "studio-bucket", "endpoint_url": "https://s3.example.test"},
        },
    }


@pytest.fixture
def studio_on_azure(settings):
    settings.STUDIO_STORAGE_KIND = "azure"
    settings.STORAGES = {
        **settings.STORAGES,
        "workspaces": {
            "BACKEND": "storages.backends.azure_storage.AzureStorage",
            "OPTIONS": {
                "azure_container": "studio",
                "connection_string": "DefaultEndpointsProtocol=https;AccountName=studioacct;AccountKey=a2V5;",
            },
        },
    }


def test_api_refuses_the_studios_own_bucket(studio_on_s3, owner, workspace, api_client):
    """SECURITY 33"""
    client = api_client(owner)
    for endpoint in ("", "https://s3.example.test", "https://203.0.113.80"):
        body = {"name": "mine", "kind": "s3", "container_name": "studio-bucket", "endpoint": endpoint}
        response = client.post(API, body, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith("container_name: ")
    body = {"name": "theirs", "kind": "s3", "container_name": "another-bucket"}
    assert client.post(API, body, format="json").status_code == 201
    assert list(Datastore.objects.filter(name__in=["mine", "theirs"]).values_list("name", flat=True)) == ["theirs"]


def test_html_form_refuses_the_studios_own_bucket(studio_on_s3, owner, workspace, browser_client):
    """SECURITY 33"""
    body = {"name": "mine", "kind": "s3", "container_name": "studio-bucket"}
    response = browser_client(owner).post(f"{HTML}/new/", body)
    assert "studio's own storage" in response.context["form"].errors["container_name"][0]
    assert not Datastore.objects.filter(name="mine").exists()


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        pytest.param({"account_name": "studioacct"}, 400, id="same-account"),
        pytest.param(
            {"credentials": {"connection_string": "AccountName=studioacct;AccountKey=a2V5"}},
            400,
            id="same-account-in-a-connection-string",
        ),
        pytest.param({"account_name": "otheracct"}, 201, id="another-account"),
    ],
)
def test_api_refuses_the_studios_own_container(payload, status, studio_on_azure, owner, workspace, api_client):
    """SECURITY 33"""
    body = {"name": "lake", "kind": "azure_blob", "container_name": "studio", **payload}
    response = api_client(owner).post(API, body, format="json")
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["message"].startswith("container_name: ")
