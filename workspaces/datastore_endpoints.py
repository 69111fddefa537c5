"""Where a registered datastore's requests go, and whether the studio may send them there
(SECURITY.md 34).

An endpoint a user chose (an S3 endpoint URL, an Azure endpoint suffix or account URL, the
endpoints in an Azure connection string) must be https to a host that resolves only to public
addresses, unless a studio administrator allow-listed the host, or host:port, in
STUDIO_DATASTORE_ENDPOINT_ALLOWLIST. It is checked when the datastore is registered and again
each time its backend is built, since a name can resolve elsewhere later. With no endpoint a
datastore reaches its provider's public cloud (AWS, core.windows.net).
"""

import re
import socket
from dataclasses import dataclass

from django.conf import settings

from core import netaddr

from .models import DatastoreKind

AZURE_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
AZURE_DEFAULT_SUFFIX = "core.windows.net"
AZURITE_DEFAULT_URL = "http://127.0.0.1:10000"  # UseDevelopmentStorage=true
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# The whole grammar of an endpoint URL: no user, query, fragment, backslash or space, so that every
# HTTP library reads the same host from it.
_ENDPOINT_URL = re.compile(
    r"(?P<scheme>https?)://(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<host>[a-z0-9.-]+))(?::(?P<port>\d{1,5}))?(?:/[a-z0-9._~%/-]*)?",
    re.IGNORECASE,
)


class EndpointRefused(Exception):
    """Requests may not go to this endpoint; `field` names where it was given."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Endpoint:
    field: str  # the registration field it came from
    url: str


def is_url(endpoint: str) -> bool:
    return bool(_URL.match(endpoint))


def _check_account_name(name: str, field: str) -> None:
    if not AZURE_ACCOUNT_NAME.match(name):
        raise EndpointRefused(
            field, f"A storage account name is 3 to 24 lowercase letters and digits (got {name[:40]!r})."
        )


def _connection_settings(connection_string: str) -> dict[str, str]:
    """A connection string's settings as the Azure SDK reads them: keys upper-cased, the last of a
    repeated key wins."""
    pairs = [part.split("=", 1) for part in connection_string.rstrip(";").split(";")]
    if not connection_string.isascii() or any(len(pair) != 2 for pair in pairs):
        raise EndpointRefused("credentials", "The connection string cannot be read.")
    return {key.upper(): value for key, value in pairs}


def azure_account_name(*, account_name: str, connection_string: str) -> str:
    """The storage account an Azure datastore reaches: from its connection string when it has one."""
    if connection_string:
        return _connection_settings(connection_string).get("ACCOUNTNAME", "").lower()
    return account_name.strip().lower()


def _azure_endpoints(*, service: str, account_name: str, endpoint: str, connection_string: str) -> list[Endpoint]:
    if connection_string:
        parts = _connection_settings(connection_string)
        if parts.get("USEDEVELOPMENTSTORAGE") == "true":
            return [Endpoint("credentials", AZURITE_DEFAULT_URL)]
        urls = [value for key, value in sorted(parts.items()) if key.endswith("ENDPOINT")]
        if f"{service.upper()}ENDPOINT" not in parts:
            name = parts.get("ACCOUNTNAME", "")
            _check_account_name(name, "credentials")
            suffix = parts.get("ENDPOINTSUFFIX", AZURE_DEFAULT_SUFFIX)
            protocol = parts.get("DEFAULTENDPOINTSPROTOCOL", "https") if "ENDPOINTSUFFIX" in parts else "https"
            if suffix != AZURE_DEFAULT_SUFFIX or protocol not in ("https", "http"):
                urls.append(f"{protocol}://{name}.{service}.{suffix}")
        return [Endpoint("credentials", url) for url in urls]
    if account_name:
        _check_account_name(account_name, "account_name")
    if not endpoint or endpoint == AZURE_DEFAULT_SUFFIX:
        return []
    if is_url(endpoint):
        return [Endpoint("endpoint", endpoint)]
    return [Endpoint("endpoint", f"https://{account_name}.{service}.{endpoint}")]


def datastore_endpoints(*, kind: str, account_name: str, endpoint: str, secret: dict) -> list[Endpoint]:
    """The endpoints a datastore of `kind` sends requests to, other than its provider's public cloud."""
    endpoint = endpoint.strip()
    if kind == DatastoreKind.S3:
        return [Endpoint("endpoint", endpoint)] if endpoint else []
    if kind in (DatastoreKind.AZURE_BLOB, DatastoreKind.AZURE_FILE):
        return _azure_endpoints(
            service="blob" if kind == DatastoreKind.AZURE_BLOB else "file",
            account_name=account_name.strip(),
            endpoint=endpoint,
            connection_string=secret.get("connection_string", ""),
        )
    return []


def _allow_listed(host: str, port: int) -> bool:
    allowed = {entry.strip().lower() for entry in settings.STUDIO_DATASTORE_ENDPOINT_ALLOWLIST if entry.strip()}
    name = f"[{host}]" if ":" in host else host
    return bool({host, name, f"{name}:{port}"} & allowed)


def check_endpoint(endpoint: Endpoint, *, unresolved_ok: bool = False) -> None:
    """Raise EndpointRefused unless requests may go to `endpoint`.

    A name that does not resolve passes when `unresolved_ok` (at registration: nothing can be sent
    to it, and it is checked again before each use).
    """
    match = _ENDPOINT_URL.fullmatch(endpoint.url)
    if not match or int(match["port"] or 0) > 65535:
        raise EndpointRefused(endpoint.field, "Give the endpoint as a URL: https://host or https://host:port.")
    scheme = match["scheme"].lower()
    host = (match["ipv6"] or match["host"]).lower()
    port = int(match["port"] or (443 if scheme == "https" else 80))
    if _allow_listed(host, port):
        return
    hint = "a studio administrator can allow it in STUDIO_DATASTORE_ENDPOINT_ALLOWLIST"
    if scheme != "https":
        raise EndpointRefused(endpoint.field, f"The endpoint {host} must use https ({hint}).")
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        if unresolved_ok:
            return
        raise EndpointRefused(endpoint.field, f"The endpoint {host} cannot be resolved.") from exc
    if any(netaddr.is_internal(sockaddr[0]) for *_, sockaddr in answers):
        raise EndpointRefused(
            endpoint.field, f"The endpoint {host} is an internal address of the studio's network ({hint})."
        )


def check_datastore_endpoints(
    *, kind: str, account_name: str, endpoint: str, secret: dict, unresolved_ok: bool = False
) -> None:
    for found in datastore_endpoints(kind=kind, account_name=account_name, endpoint=endpoint, secret=secret):
        check_endpoint(found, unresolved_ok=unresolved_ok)
