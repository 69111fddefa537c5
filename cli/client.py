"""The studio's REST API (/api/v1) over HTTP, with its errors turned into CliError."""

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx

from .errors import ApiError, CliError
from .version import __version__

TIMEOUT = httpx.Timeout(300.0, connect=10.0)


def api_path(*segments: str) -> str:
    """'workspaces/my%20ws/datastores': each segment quoted, so a name can never change the route."""
    return "/".join(quote(segment, safe="") for segment in segments)


def _error_from(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(str(error["message"]), code=str(error.get("code") or ""), status=response.status_code)
    except (ValueError, KeyError, TypeError):
        request = response.request
        answer = f"{response.status_code} {response.reason_phrase} to {request.method} {request.url}"
        if response.is_server_error:
            hint = "the studio's log has the details."
        else:
            hint = "is --url / STUDIO_URL the studio's address?"
        return ApiError(f"The studio answered {answer}; {hint}", status=response.status_code)


class StudioClient:
    def __init__(self, url: str, token: str, *, transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url + "/api/v1/",
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"studio-cli/{__version__}"},
            timeout=TIMEOUT,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "StudioClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def stream(self, method: str, path: str, **kwargs) -> Iterator[httpx.Response]:
        """A response whose body is not read yet; raises ApiError for anything but a 2xx answer."""
        try:
            with self._http.stream(method, path, **kwargs) as response:
                if not response.is_success:
                    response.read()
                    raise _error_from(response)
                yield response
        except httpx.TransportError as exc:
            raise CliError(f"cannot reach the studio at {self.url}: {exc or type(exc).__name__}")

    def request(self, method: str, path: str, **kwargs):
        """The JSON body of the answer (None for 204 No Content)."""
        with self.stream(method, path, **kwargs) as response:
            response.read()
        if response.status_code == 204:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"The studio answered {method} {response.url} with something other than JSON; "
                "is --url / STUDIO_URL the studio's address?"
            )

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)
