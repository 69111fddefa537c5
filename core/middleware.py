from django.conf import settings
from django.http import JsonResponse

from . import body_limit


class UploadSizeLimitMiddleware:
    """413 for a declared body over its route's limit: the upload limit on an upload route, the
    request limit elsewhere. The ASGI guard in front of Django (studio/body_limit.py) applies the
    same limits first, counts chunked bodies too, and holds anonymous callers to the request limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        size = int(declared) if declared.isdigit() else 0
        if size > body_limit.request_limit():
            upload = body_limit.is_upload_route(request.method, request.path_info)
            limit = settings.STUDIO_MAX_UPLOAD_SIZE if upload else body_limit.request_limit()
            if size > limit:
                return JsonResponse(body_limit.too_large(limit, request.path), status=413)
        return self.get_response(request)
