from django import forms


class TokenForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="What the token is for, e.g. 'laptop CLI'.")


class UserForm(forms.Form):
    username = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, required=False)
    is_admin = forms.BooleanField(required=False, label="Studio administrator")
