"""Tags are entered the same way on every form: one name=value (or name: value) per line."""

import pytest
from django.core.exceptions import ValidationError

from assets.data.forms import DataEditForm, DatastorePathForm
from assets.environments.forms import EnvironmentForm
from assets.mlmodels.forms import ModelDatastoreForm, ModelEditForm
from compute.forms import ClusterForm
from core.forms import TAGS_HELP, parse_tags, tags_text
from jobs.forms import JobSubmitForm


def test_name_value_and_name_colon_value_per_line():
    text = "team=fraud\nstage: dev\n\n url = http://x:80/a \nratio: a=b"
    assert parse_tags(text) == {"team": "fraud", "stage": "dev", "url": "http://x:80/a", "ratio": "a=b"}


def test_a_line_without_a_name_is_an_error_naming_the_line():
    with pytest.raises(ValidationError) as exc:
        parse_tags("team=fraud\nno separator\n=value")
    assert exc.value.messages == [
        "Line 2: write tags as name=value (got 'no separator').",
        "Line 3: write tags as name=value (got '=value').",
    ]


def test_tags_text_is_what_the_field_parses_back():
    tags = {"team": "fraud", "stage": "dev"}
    assert tags_text(tags) == "team=fraud\nstage=dev"
    assert parse_tags(tags_text(tags)) == tags


@pytest.mark.parametrize(
    "form",
    [
        DatastorePathForm(),
        DataEditForm(),
        ModelDatastoreForm(),
        ModelEditForm(),
        EnvironmentForm(),
        JobSubmitForm(),
        ClusterForm(),
    ],
    ids=lambda f: type(f).__name__,
)
def test_every_form_has_the_same_tags_widget_and_help(form):
    field = form.fields["tags"]
    assert field.help_text == TAGS_HELP
    assert type(field.widget).__name__ == "Textarea"
    assert field.widget.attrs.get("placeholder") == "team=fraud"


def test_an_edit_form_shows_the_tags_one_per_line():
    html = str(DataEditForm(initial={"tags": {"a": "b", "c": "d"}})["tags"])
    assert "a=b\nc=d" in html
