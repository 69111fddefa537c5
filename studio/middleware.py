from django.conf import settings
from django.http import JsonResponse


class UploadSizeLimitMiddleware:
    """413 for a declared body over the upload limit (the ASGI guard also counts chunked ones)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > settings.STUDIO_MAX_UPLOAD_SIZE:
            return JsonResponse(
                {
                    "error": {
                        "code": "RequestEntityTooLarge",
                        "message": "The request body is larger than the upload limit of "
                        f"{settings.STUDIO_MAX_UPLOAD_SIZE} bytes.",
                    }
                },
                status=413,
            )
        return self.get_response(request)
