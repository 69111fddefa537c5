"""Create datastore: the form shows only the fields of the chosen kind and switches without a reload."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

FIELDS = {
    "azure_blob": {
        "account_name",
        "container_name",
        "endpoint",
        "root",
        "account_key",
        "sas_token",
        "connection_string",
    },
    "azure_file": {"account_name", "container_name", "endpoint", "root", "account_key", "sas_token"},
    "s3": {"container_name", "endpoint", "root", "access_key_id", "secret_access_key"},
    "local": {"root"},
}
ALL = set().union(*FIELDS.values())


def test_the_form_shows_the_fields_of_the_chosen_kind_only(admin_page, screenshot):
    page = admin_page
    page.goto("/workspaces/my-workspace/datastores/new/")
    form = page.get_by_test_id("datastore-form")
    url = page.url
    for kind, label in (("azure_blob", "Blob container"), ("azure_file", "File share"), ("s3", "Bucket")):
        page.get_by_label("Kind").select_option(kind)
        for name in ALL:
            field = form.get_by_test_id(f"field-{name}")
            (expect(field).to_be_visible if name in FIELDS[kind] else expect(field).to_be_hidden)()
        expect(form.get_by_test_id("field-container_name").locator("label")).to_have_text(label)
        screenshot(page, f"datastore-create-{kind.replace('_', '-')}")
    page.get_by_label("Kind").select_option("local")
    expect(form.get_by_test_id("credentials")).to_be_hidden()
    expect(form.get_by_test_id("field-root")).to_contain_text("The folder on the server")
    screenshot(page, "datastore-create-local")
    assert page.url == url  # no reload

    # A value typed for another kind is not sent: its field is disabled while hidden.
    page.get_by_label("Kind").select_option("s3")
    page.get_by_label("Access key ID").fill("AKIA123")
    page.get_by_label("Kind").select_option("azure_blob")
    sent = page.evaluate("Array.from(new FormData(document.querySelector('[data-datastore-form]')).keys())")
    assert "access_key_id" not in sent and "account_key" in sent
