"""ASGI entry point: Django behind a guard that refuses oversized bodies before reading them."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
django_application = get_asgi_application()

from assets.data.asgi_chunks import ChunkUploadFastPath  # noqa: E402
from core.body_limit import BodySizeLimit  # noqa: E402
from tracking.http import MlflowFastPath  # noqa: E402

# Upload chunks stream straight into their staging file (assets/data/asgi_chunks.py), the MLflow
# client's hot calls go straight to their views (tracking/http.py); the rest is Django.
application = BodySizeLimit(MlflowFastPath(ChunkUploadFastPath(django_application)))
