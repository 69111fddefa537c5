from django import forms

from .models import DatastoreKind
from .roles import Role


class WorkspaceForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        required=False,
        help_text="3 to 33 letters, digits, hyphens or underscores. It cannot be changed later.",
    )
    display_name = forms.CharField(max_length=200, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class WorkspaceSettingsForm(forms.Form):
    display_name = forms.CharField(max_length=200, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)


class DatastoreForm(forms.Form):
    name = forms.CharField(max_length=300, required=False, help_text="Letters, digits and underscores.")
    kind = forms.ChoiceField(choices=DatastoreKind.choices, initial=DatastoreKind.AZURE_BLOB)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    account_name = forms.CharField(required=False, label="Storage account name")
    container_name = forms.CharField(required=False, label="Container, file share or bucket")
    endpoint = forms.CharField(
        required=False,
        help_text="Optional. Azure: an endpoint suffix or the account's URL; S3: the endpoint URL (https).",
    )
    root = forms.CharField(
        required=False,
        label="Folder",
        help_text="For a local datastore (studio administrators only): the folder on the server. "
        "Otherwise an optional prefix.",
    )
    account_key = forms.CharField(required=False, widget=forms.PasswordInput)
    sas_token = forms.CharField(required=False, widget=forms.PasswordInput, label="SAS token")
    connection_string = forms.CharField(required=False, widget=forms.PasswordInput)
    access_key_id = forms.CharField(required=False, label="Access key ID")
    secret_access_key = forms.CharField(required=False, widget=forms.PasswordInput)

    CREDENTIALS = ("account_key", "sas_token", "connection_string", "access_key_id", "secret_access_key")


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DATA_SCIENTIST)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
