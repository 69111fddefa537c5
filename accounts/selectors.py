from .models import ApiToken


def tokens_for_user(*, user):
    return ApiToken.objects.filter(user=user)


def token_for_user(*, user, token_id: int) -> ApiToken | None:
    return ApiToken.objects.filter(user=user, pk=token_id).first()
