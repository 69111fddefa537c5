"""ASGI entry point: Django behind a guard that refuses oversized bodies before reading them."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

from studio.body_limit import BodySizeLimit  # noqa: E402

application = BodySizeLimit(django_application, max_bytes=settings.STUDIO_MAX_UPLOAD_SIZE)
