import httpx
import pytest

from cli.client import StudioClient, api_path
from cli.errors import ApiError, CliError


def _client(handler) -> StudioClient:
    return StudioClient("http://studio.test/prefix/", "stu_secret", transport=httpx.MockTransport(handler))


def test_requests_carry_the_bearer_token_under_the_api_prefix():
    seen = {}

    def handler(request):
        seen["auth"] = request.headers["authorization"]
        seen["url"] = str(request.url)
        return httpx.Response(200, json=[{"name": "ws"}])

    assert _client(handler).get("workspaces") == [{"name": "ws"}]
    assert seen == {"auth": "Bearer stu_secret", "url": "http://studio.test/prefix/api/v1/workspaces"}


def test_api_path_quotes_each_segment_so_a_name_cannot_change_the_route():
    assert api_path("workspaces", "a/../b?x", "datastores") == "workspaces/a%2F..%2Fb%3Fx/datastores"


def test_an_error_body_becomes_an_api_error_with_its_code_and_message():
    def handler(request):
        return httpx.Response(404, json={"error": {"code": "NotFound", "message": "No workspace named 'x'."}})

    with pytest.raises(ApiError) as caught:
        _client(handler).get("workspaces/x")
    assert str(caught.value) == "(NotFound) No workspace named 'x'."
    assert (caught.value.status, caught.value.exit_code) == (404, 1)


def test_an_answer_that_is_not_the_studio_names_the_status():
    def handler(request):
        return httpx.Response(502, text="<html>Bad gateway</html>")

    with pytest.raises(
        ApiError, match="502 Bad Gateway to GET http://studio.test/prefix/api/v1/workspaces; the studio's log"
    ):
        _client(handler).get("workspaces")


def test_a_page_that_is_not_the_api_suggests_checking_the_url():
    def handler(request):
        return httpx.Response(404, text="<html>Not found</html>")

    with pytest.raises(ApiError, match="404 Not Found .* is --url / STUDIO_URL the studio's address"):
        _client(handler).get("workspaces")


def test_a_redirect_is_reported_not_followed():
    def handler(request):
        return httpx.Response(302, headers={"location": "/accounts/login/"})

    with pytest.raises(ApiError, match="302 Found"):
        _client(handler).get("workspaces")


def test_no_content_is_none():
    assert _client(lambda request: httpx.Response(204)).delete("workspaces/x/datastores/d") is None


def test_a_network_failure_says_the_studio_cannot_be_reached():
    def handler(request):
        raise httpx.ConnectError("Connection refused")

    with pytest.raises(CliError, match=r"cannot reach the studio at http://studio.test/prefix: Connection refused"):
        _client(handler).get("workspaces")
