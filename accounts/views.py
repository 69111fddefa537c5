from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.access import admin_view, public_view, user_view
from core.forms import add_errors

from . import selectors, services
from .forms import SignInForm, TokenForm, UserForm


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


login = public_view(SignInView.as_view())
logout = public_view(auth_views.LogoutView.as_view())


@user_view
def token_list(request):
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            token, new_token = services.token_create(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            form = TokenForm()
    return render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "new_token": new_token,
            "tokens": selectors.tokens_for_user(user=request.user),
        },
    )


@user_view
@require_POST
def token_revoke(request, token_id: int):
    token = selectors.token_for_user(user=request.user, token_id=token_id)
    if token is None:
        raise Http404("No such token.")
    services.token_revoke(token=token)
    messages.success(request, f"Revoked token {token.name}.")
    return redirect("token_list")


@admin_view
def user_list(request):
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(**form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Created user {user.username}. Add them to a workspace on its Members page.")
            return redirect("user_list")
    users = get_user_model().objects.order_by("username")
    return render(request, "accounts/users.html", {"form": form, "users": users})
