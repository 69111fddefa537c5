from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        from core import body_limit

        from . import schema  # noqa: F401 - registers the OpenAPI security scheme
        from .authentication import authenticate

        # The request-body guard lets a signed-in caller's uploads be large.
        body_limit.signed_in = lambda request: authenticate(request, basic=True) is not None
