"""404, 403, 400 and 500 pages are the studio's own, inside its shell, not Django's bare pages."""

from django.test import RequestFactory
from django.views import defaults


def test_an_unknown_address_gets_the_studio_404_inside_the_shell(owner, browser_client):
    response = browser_client(owner).get("/workspaces/team-ws/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert 'data-testid="error-page"' in page and "Page not found" in page
    assert 'data-testid="user-menu"' in page and "ML Studio" in page  # the shell, signed in


def test_a_workspace_someone_is_not_a_member_of_is_a_404_page_too(outsider, workspace, browser_client):
    response = browser_client(outsider).get(f"/workspaces/{workspace.name}/")
    assert response.status_code == 404
    assert 'data-testid="error-page"' in response.content.decode()


def test_the_500_page_renders_without_a_request_context():
    """Django renders 500.html with an empty context: the shell must not need the user or a workspace."""
    response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and "ML Studio" in page and 'data-testid="user-menu"' not in page


def test_400_and_403_pages_are_the_studios(rf):
    request = rf.get("/")
    for view, text in ((defaults.bad_request, "Bad request"), (defaults.permission_denied, "Not allowed")):
        response = view(request, exception=Exception("x"))
        assert text in response.content.decode() and 'data-testid="error-page"' in response.content.decode()
