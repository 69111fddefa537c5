"""The command line itself, in-process: help, version and usage errors that need no studio."""

import re

import pytest

from cli.main import main
from cli.version import __version__


@pytest.fixture(autouse=True)
def _no_studio_settings(monkeypatch):
    for name in ("STUDIO_URL", "STUDIO_TOKEN", "STUDIO_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)


def _exit_code(argv) -> int:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    return caught.value.code


def test_version(capsys):
    assert _exit_code(["--version"]) == 0
    assert capsys.readouterr().out == f"studio {__version__}\n"


def test_help_lists_the_groups_the_environment_and_examples(capsys):
    assert _exit_code(["--help"]) == 0
    text = capsys.readouterr().out
    text = re.sub(r" {2,}", "  ", text)  # the column width grows with the longest group name
    for expected in ("workspace  Manage workspaces.", "datastore  Manage datastores", "STUDIO_TOKEN", "examples:"):
        assert expected in text
    description = text.split("groups:")[0]  # what the studio's CLI is for names every group
    for group in ("workspaces", "datastores", "data", "environments", "models", "components", "compute", "jobs"):
        assert group in description, group


@pytest.mark.parametrize("group", ["workspace", "datastore"])
def test_a_group_alone_prints_its_help(group, capsys):
    assert main([group]) == 0
    text = capsys.readouterr().out
    assert f"usage: studio {group}" in text
    assert "list" in text


def test_upload_help_says_where_a_folder_goes(capsys):
    assert _exit_code(["datastore", "upload", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "For a folder, its *contents* are stored below DEST" in text
    assert "$ studio datastore upload" in text


def test_missing_url_is_a_usage_error(capsys):
    assert _exit_code(["workspace", "list", "--token", "stu_x"]) == 2
    assert "STUDIO_URL" in capsys.readouterr().err


def test_url_without_scheme_is_a_usage_error(capsys):
    assert _exit_code(["workspace", "list", "--url", "localhost:8000", "--token", "stu_x"]) == 2
    assert "must start with http:// or https://" in capsys.readouterr().err


def test_unknown_output_format_is_a_usage_error(capsys):
    assert _exit_code(["workspace", "list", "-o", "xml"]) == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_workspace_create_requires_a_name(capsys):
    assert _exit_code(["workspace", "create"]) == 2
    assert "--name/-n" in capsys.readouterr().err
