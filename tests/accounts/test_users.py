"""Studio administrators create users; nobody else can."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

User = get_user_model()
GOOD_PASSWORD = "a-Long-enough-passphrase-7"


def test_admin_creates_a_user_through_the_api(admin_user, api_client):
    response = api_client(admin_user).post(
        "/api/v1/users", {"username": "mia", "email": "mia@example.com", "password": GOOD_PASSWORD}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["username"] == "mia"
    assert "password" not in response.json()
    mia = User.objects.get(username="mia")
    assert mia.check_password(GOOD_PASSWORD)
    assert not mia.is_superuser


def test_admin_creates_another_admin_through_the_html_page(admin_user, browser_client):
    response = browser_client(admin_user).post(
        "/accounts/users/", {"username": "max", "password": GOOD_PASSWORD, "is_admin": "on"}
    )
    assert response.status_code == 302
    assert User.objects.get(username="max").is_superuser


def test_admin_lists_users(admin_user, owner, api_client, browser_client):
    assert [u["username"] for u in api_client(admin_user).get("/api/v1/users").json()] == ["olivia", "root-admin"]
    assert "olivia" in browser_client(admin_user).get("/accounts/users/").content.decode()


@pytest.mark.parametrize("role", ["owner", "reader"])
def test_non_admin_cannot_list_or_create_users(role, request, api_client, browser_client):
    user = request.getfixturevalue(role)
    api = api_client(user)
    assert api.get("/api/v1/users").status_code == 403
    assert api.post("/api/v1/users", {"username": "eve", "password": GOOD_PASSWORD}, format="json").status_code == 403
    html = browser_client(user)
    assert html.get("/accounts/users/").status_code == 403
    assert html.post("/accounts/users/", {"username": "eve", "password": GOOD_PASSWORD}).status_code == 403
    assert not User.objects.filter(username="eve").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "", "password": GOOD_PASSWORD}, "username"),
        ({"username": "bad name!", "password": GOOD_PASSWORD}, "username"),
        ({"username": "weak", "password": "123"}, "password"),
        ({"username": "weak", "password": "password"}, "password"),
    ],
)
def test_bad_new_user_is_refused_naming_the_field(payload, field, admin_user, api_client, browser_client):
    before = User.objects.count()
    response = api_client(admin_user).post("/api/v1/users", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"{field}: ")
    page = browser_client(admin_user).post("/accounts/users/", payload)
    assert page.status_code == 200
    assert field in page.context["form"].errors
    assert User.objects.count() == before


def test_duplicate_user_name_is_refused_case_insensitively(admin_user, owner, api_client, browser_client):
    response = api_client(admin_user).post("/api/v1/users", {"username": "OLIVIA", "password": GOOD_PASSWORD})
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "username: A user named 'OLIVIA' already exists."
    page = browser_client(admin_user).post("/accounts/users/", {"username": "Olivia", "password": GOOD_PASSWORD})
    assert "already exists" in page.context["form"].errors["username"][0]
    assert User.objects.filter(username__iexact="olivia").count() == 1
