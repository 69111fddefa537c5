"""Form helpers shared by every app's pages."""

from django.core.exceptions import ValidationError


def add_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form fields it names."""
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)
