"""Every kind of Azure ML YAML refuses alias bombs and runaway nesting before building anything."""

import pytest
from django.core.exceptions import ValidationError

from assets.yaml_errors import compose
from jobs.spec import parse_command_job

BOMB = (
    "".join(
        f"{name}: &{name} [{', '.join(['*' + prev] * 10 if prev else ['x'] * 10)}]\n"
        for prev, name in [("", "a"), ("a", "b"), ("b", "c"), ("c", "d"), ("c", "e")]
    )
    + "f: ["
    + ", ".join(["*e"] * 10)
    + "]\n"
)


def test_alias_bomb_is_refused_naming_the_line():
    with pytest.raises(ValidationError) as info:
        compose(BOMB)
    assert "expands to more than 100,000 values" in info.value.message_dict["yaml"][0]


def test_job_spec_with_an_alias_bomb_is_refused():
    with pytest.raises(ValidationError) as info:
        parse_command_job("command: echo hi\nenvironment: azureml:e:1\n" + BOMB)
    assert "expands to more than" in str(info.value)


def test_deep_nesting_is_refused():
    with pytest.raises(ValidationError) as info:
        compose("a: " + "[" * 5000 + "]" * 5000)
    assert "nested too deeply" in str(info.value)
