"""The backend of a registered Azure Blob Storage datastore (imported when one is used: the Azure
SDK takes a while to load)."""

from azure.storage.blob import BlobServiceClient
from storages.backends.azure_storage import AzureStorage


class RegisteredAzureStorage(AzureStorage):
    """An Azure Blob container reached at its account's URL when one is given (Azurite, a private
    endpoint), with the credential it was registered with or none, and no redirect followed."""

    def get_default_settings(self):
        return {**super().get_default_settings(), "account_url": None}

    def _get_service_client(self):
        options = {**self.client_options, "permit_redirects": False}
        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string, **options)
        credential = None
        if self.account_key:
            credential = {"account_name": self.account_name, "account_key": self.account_key}
        elif self.sas_token:
            credential = self.sas_token
        url = self.account_url or f"{self.azure_protocol}://{self.account_name}.blob.{self.endpoint_suffix}"
        return BlobServiceClient(url, credential=credential, **options)
