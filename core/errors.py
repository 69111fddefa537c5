"""Domain errors shared by services, forms and the API."""

from django.core.exceptions import ValidationError


class AlreadyExists(ValidationError):
    """A ValidationError (forms show it on the field it names) that the API answers with 409."""
