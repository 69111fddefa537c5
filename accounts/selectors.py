from .models import ApiToken


def tokens_for_user(*, user):
    """The user's personal tokens (job-scoped tokens the studio makes for running jobs are not listed)."""
    return ApiToken.objects.filter(user=user, job_name="")


def token_for_user(*, user, token_id: int) -> ApiToken | None:
    return tokens_for_user(user=user).filter(pk=token_id).first()
