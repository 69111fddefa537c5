"""JSON error bodies in the shape Azure ML clients know: {"error": {"code", "message", "details"}}.

The message names the field, e.g. "name: A workspace with this name already exists."
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail, prefix: str = "") -> list[dict]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            field = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{prefix}.{field}" if prefix and field else (field or prefix))
        return out
    if isinstance(detail, list):
        out = []
        for item in detail:
            out += _flatten(item, prefix)
        return out
    return [{"field": prefix, "message": str(detail)}]


def _code_for(exc) -> str:
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return "Unauthorized"
    if isinstance(exc, exceptions.PermissionDenied):
        return "AuthorizationFailed"
    if isinstance(exc, exceptions.NotFound):
        return "NotFound"
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return "UnsupportedMediaType"
    if getattr(exc, "status_code", 400) == status.HTTP_409_CONFLICT:
        return "Conflict"
    return "UserError"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    details = _flatten(response.data) if isinstance(exc, exceptions.ValidationError) else []
    if details:
        message = "; ".join(f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details)
    else:
        message = str(getattr(exc, "detail", exc))
    body = {"error": {"code": _code_for(exc), "message": message}}
    if details:
        body["error"]["details"] = details
    return Response(body, status=response.status_code, headers=dict(response.items()))


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource already exists."
    default_code = "conflict"
