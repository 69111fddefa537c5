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
    LOCATION = ("account_name", "container_name", "endpoint", "root")
    # The fields each kind takes (the credentials as workspaces.services.CREDENTIAL_FIELDS); the
    # page shows only those of the chosen kind.
    KIND_FIELDS = {
        DatastoreKind.AZURE_BLOB: (
            "account_name",
            "container_name",
            "endpoint",
            "root",
            "account_key",
            "sas_token",
            "connection_string",
        ),
        DatastoreKind.AZURE_FILE: ("account_name", "container_name", "endpoint", "root", "account_key", "sas_token"),
        DatastoreKind.S3: ("container_name", "endpoint", "root", "access_key_id", "secret_access_key"),
        DatastoreKind.LOCAL: ("root",),
    }
    CONTAINER_LABELS = {
        DatastoreKind.AZURE_BLOB: "Blob container",
        DatastoreKind.AZURE_FILE: "File share",
        DatastoreKind.S3: "Bucket",
    }
    ROOT_HELP = {
        DatastoreKind.LOCAL: "The folder on the server (studio administrators only).",
        "": "Optional: a folder inside it that the datastore starts at.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kind = self.data.get("kind") if self.is_bound else self.fields["kind"].initial
        self.kind = kind if kind in self.KIND_FIELDS else DatastoreKind.AZURE_BLOB
        self.fields["container_name"].label = self.CONTAINER_LABELS.get(self.kind, "Container")
        self.fields["root"].help_text = self.ROOT_HELP.get(self.kind, self.ROOT_HELP[""])

    def _by_kind(self, names) -> list[tuple]:
        """(bound field, the kinds it belongs to, whether it is hidden for the chosen kind)."""
        rows = []
        for name in names:
            kinds = " ".join(kind for kind, fields in self.KIND_FIELDS.items() if name in fields)
            rows.append((self[name], kinds, name not in self.KIND_FIELDS[self.kind]))
        return rows

    @property
    def kind_texts(self) -> dict:
        """What changes with the kind besides which fields show: for the page's script."""
        root = {kind: self.ROOT_HELP.get(kind, self.ROOT_HELP[""]) for kind in self.KIND_FIELDS}
        return {"container": {str(k): v for k, v in self.CONTAINER_LABELS.items()}, "root": root}

    def location_fields(self) -> list[tuple]:
        return self._by_kind(self.LOCATION)

    def credential_fields(self) -> list[tuple]:
        return self._by_kind(self.CREDENTIALS)


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DATA_SCIENTIST)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
