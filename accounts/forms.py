from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from . import throttle


class TokenForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="What the token is for, e.g. 'laptop CLI'.")


class UserForm(forms.Form):
    username = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, required=False)
    is_admin = forms.BooleanField(required=False, label="Studio administrator")


class SignInForm(AuthenticationForm):
    """Django's sign-in form behind the sign-in throttle (accounts/throttle.py)."""

    retry_after: int | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = throttle.authenticate(self.request, username=username, password=password)
            except throttle.SignInThrottled as exc:
                self.retry_after = exc.retry_after
                raise ValidationError(str(exc), code="throttled") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
