import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import sandbox
from core.errors import AlreadyExists

from .models import TOKEN_PREFIX, ApiToken, hash_token

User = get_user_model()


def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns it with the raw key, which is never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name."})
    if len(name) > 100:
        raise ValidationError({"name": "At most 100 characters."})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, key_hash=hash_token(raw), hint=raw[:10])
    return token, raw


def token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_admin: bool = False):
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": "Enter a user name."})
    if User.objects.filter(username__iexact=username).exists():
        raise AlreadyExists({"username": f"A user named {username!r} already exists."})
    if User.objects.exists() and (refusal := sandbox.single_user_refusal()):
        raise ValidationError({"username": refusal})
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from exc
    if is_admin:
        return User.objects.create_superuser(username=username, email=email, password=password)
    return User.objects.create_user(username=username, email=email, password=password)
