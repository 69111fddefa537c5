"""JSON error bodies in the shape Azure ML clients know: {"error": {"code", "message", "details"}}.

The message names the field, e.g. "name: A workspace with this name already exists."
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import AlreadyExists


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
    if isinstance(exc, PayloadTooLarge):
        return "RequestEntityTooLarge"
    if getattr(exc, "status_code", 400) == status.HTTP_409_CONFLICT:
        return "Conflict"
    return "UserError"


logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    conflict = isinstance(exc, AlreadyExists)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages})
        if conflict:
            exc.status_code = status.HTTP_409_CONFLICT
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(str(exc))
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in the API", exc_info=exc)
        return Response(
            {"error": {"code": "InternalServerError", "message": "The studio failed to handle this request."}},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    details = _flatten(response.data) if isinstance(exc, exceptions.ValidationError) else []
    if details:
        message = "; ".join(f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details)
    else:
        message = str(getattr(exc, "detail", exc))
    body = {"error": {"code": _code_for(exc), "message": message}}
    if details:
        body["error"]["details"] = details
    return Response(body, status=response.status_code, headers=dict(response.items()))


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_entity_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource already exists."
    default_code = "conflict"


def error_json(exc: DjangoValidationError) -> JsonResponse:
    """The API's error body ({"error": {code, message, details}}) for the browser's upload requests."""
    details = [{"field": f, "message": m} for f, ms in exc.message_dict.items() for m in ms]
    conflict = isinstance(exc, AlreadyExists)
    message = "; ".join(f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details)
    return JsonResponse(
        {"error": {"code": "Conflict" if conflict else "UserError", "message": message, "details": details}},
        status=409 if conflict else 400,
    )
