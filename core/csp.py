"""The Content-Security-Policy header (settings.CONTENT_SECURITY_POLICY) on every response."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Adds the studio's policy to each response that does not set one of its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
