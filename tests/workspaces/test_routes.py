"""Authorization on every route, found by walking the URL conf (SECURITY.md 9, 10, 11).

A new route fails here until its view is marked with `studio_access` (workspaces/access.py), and a
route that needs no sign-in must also be named in ALLOW_LIST. Each route is then requested as
anonymous, an outsider (member of another workspace only), a Reader and the Owner (an admin for
admin routes), with every method the view has.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

# Routes anyone may reach without signing in.
ALLOW_LIST = {"login", "logout", "healthz"}
SCOPES = {"public", "user", "admin", "workspace"}
# Placeholder values for the URL kwargs; "workspace" is the fixture workspace.
PLACEHOLDERS = {
    "workspace": "team-ws",
    "datastore": "workspaceblobstore",
    "username": "olivia",
    "token_id": 1,
    "name": "placeholder-asset",
    "version": "1",
    "upload_id": "00000000-0000-4000-8000-000000000000",
    "build_id": 1,
    "artifact_path": "workspaceartifactstore/placeholder",
    "model_id": "m-00000000000000000000000000000000",
    "tag_key": "placeholder-tag",
}
# Token APIs: anonymous calls get 401 (not a login redirect) and reads may be POSTs (MLflow's search).
# The pages at a tracking URI itself (mlflow/v1.0/workspaces/<ws>/, its `open`) are browser pages.
API_PREFIXES = ("api/", "mlflow/v1.0/workspaces/<str:workspace>/api/")
READER_PERMS = {"workspace.read", "data.read", "jobs.read", "compute.read"}


def _walk(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


ROUTES = list(_walk(get_resolver()))


def _access(pattern) -> dict | None:
    return getattr(pattern.callback, "studio_access", None)


def _methods(route: str, pattern) -> list[str]:
    methods = ["GET", "POST"]
    view_class = getattr(pattern.callback, "cls", None)
    if route.startswith("api/") and view_class is not None:
        methods += [m for m in ("PATCH", "DELETE") if hasattr(view_class, m.lower())]
    mlflow_methods = getattr(pattern.callback, "mlflow_methods", None)
    if mlflow_methods:
        methods = list(mlflow_methods)
    return methods


def _cases():
    for route, pattern in ROUTES:
        access = _access(pattern)
        if access is None or pattern.name in ALLOW_LIST:
            continue  # the marker tests below fail for these
        scope = access["scope"]
        for method in _methods(route, pattern):
            users = ["anonymous", "reader", "owner"]
            if scope == "workspace":
                users.append("outsider")
            if scope == "admin":
                users.append("admin_user")
            for user in users:
                yield pytest.param(route, pattern, method, user, id=f"{method} /{route} as {user}")


CASES = list(_cases())


def _kwargs(route: str) -> list[str]:
    """The kwargs of the whole route, including those of the include() it sits in."""
    return re.findall(r"<(?:\w+:)?(\w+)>", route)


def _url(route, pattern) -> str:
    return reverse(pattern.name, kwargs={name: PLACEHOLDERS[name] for name in _kwargs(route)})


def _request(route, pattern, method, user, browser_client, api_client):
    url = _url(route, pattern)
    if route.startswith(API_PREFIXES):
        client = api_client(user)
        return getattr(client, method.lower())(url, {}, format="json")
    client = browser_client(user)
    return getattr(client, method.lower())(url)


@pytest.mark.parametrize(("route", "pattern"), [pytest.param(r, p, id=f"/{r}") for r, p in ROUTES])
def test_every_route_declares_who_may_reach_it(route, pattern):
    access = _access(pattern)
    assert access is not None, f"/{route} ({pattern.lookup_str}) has no studio_access: mark its view"
    assert access["scope"] in SCOPES
    if "workspace" in _kwargs(route):
        assert access["scope"] == "workspace", f"/{route} takes a workspace but is not workspace-scoped"
    if access["scope"] == "public":
        assert pattern.name in ALLOW_LIST, f"/{route} is public but not on the allow-list"


def test_allow_list_names_only_existing_public_routes():
    public = {p.name for _, p in ROUTES if (_access(p) or {}).get("scope") == "public"}
    assert ALLOW_LIST == public


def test_the_walk_finds_html_and_api_routes():
    names = {p.name for _, p in ROUTES}
    assert {"workspace_home", "datastore_upload", "api_datastore_files", "api_members", "user_list"} <= names
    assert len(CASES) > 100


@pytest.mark.parametrize(("route", "pattern", "method", "user"), CASES)
def test_route_access(route, pattern, method, user, request, workspace, browser_client, api_client):
    scope = _access(pattern)["scope"]
    actor = None if user == "anonymous" else request.getfixturevalue(user)
    response = _request(route, pattern, method, actor, browser_client, api_client)
    status = response.status_code
    is_api = route.startswith(API_PREFIXES)

    if user == "anonymous":
        if is_api:
            assert status == 401, f"anonymous {method} /{route} -> {status}"
        else:
            assert status == 302, f"anonymous {method} /{route} -> {status}"
            assert response["Location"].startswith(reverse("login") + "?next=")
        return

    assert status not in (401, 500), f"{user} {method} /{route} -> {status}"
    if user == "outsider":
        assert status == 404, f"outsider {method} /{route} -> {status}"
    elif scope == "admin" and user != "admin_user":
        assert status == 403, f"{user} {method} /{route} -> {status}"
    elif (
        user == "reader" and scope == "workspace" and method != "GET" and _access(pattern)["write"] not in READER_PERMS
    ):
        assert status in (403, 405), f"reader {method} /{route} -> {status}"
    elif user in ("owner", "admin_user"):
        assert status != 403, f"{user} {method} /{route} -> {status}"


def test_anonymous_htmx_request_is_told_to_go_to_the_login_page(workspace, browser_client):
    response = browser_client(None).get("/workspaces/team-ws/datastores/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/login/?next=/workspaces/team-ws/datastores/"


def test_outsider_cannot_tell_a_missing_workspace_from_a_foreign_one(workspace, outsider, api_client):
    client = api_client(outsider)
    foreign = client.get("/api/v1/workspaces/team-ws/datastores")
    missing = client.get("/api/v1/workspaces/no-such-ws/datastores")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == missing.json()["error"]["code"] == "NotFound"


def test_outsider_reaches_their_own_workspace(workspace, outsider, api_client):
    assert api_client(outsider).get("/api/v1/workspaces/oscars-ws/datastores").status_code == 200
