"""From conda files and pip requirements to the resolved spec (and hash) a build is keyed by."""

import pytest
from django.core.exceptions import ValidationError

from assets.environments.packages import STUDIO_PYTHON, load_conda_yaml, resolve_conda, resolve_pip


def test_comments_whitespace_order_and_case_do_not_change_the_hash():
    first = resolve_pip("pandas>=2\nscikit-learn==1.5.2\n")
    second = resolve_pip("# training packages\n\n  Scikit_Learn == 1.5.2   # pinned\npandas >= 2\n\n")
    assert first.requirements == second.requirements == ("pandas>=2", "scikit-learn==1.5.2")
    assert first.hash == second.hash


def test_the_hash_is_stable_across_runs():
    # The hash is a pure function of the resolved spec: a changed algorithm would orphan every build.
    spec = resolve_pip("six\n", python="3.11")
    assert spec.hash == "05735139733b8c7311f8260b10e7770d83f2479f19d3a22ca5c4795b8b780e4a"


def test_a_different_python_or_package_changes_the_hash():
    base = resolve_pip("six", python="3.11")
    assert resolve_pip("six", python="3.12").hash != base.hash
    assert resolve_pip("six==1.17.0", python="3.11").hash != base.hash


def test_the_specifier_order_and_duplicates_do_not_matter():
    assert resolve_pip("requests<3,>=2\nrequests<3,>=2").requirements == resolve_pip("requests>=2,<3").requirements


def test_pip_options_are_refused_naming_the_line():
    with pytest.raises(ValidationError) as caught:
        resolve_pip("six\n--index-url https://evil.example/simple\n-e .\n")
    messages = caught.value.message_dict["pip_requirements"]
    assert messages[0].startswith("line 2: pip option '--index-url'")
    assert messages[1].startswith("line 3: pip option '-e'")


@pytest.mark.parametrize("line", ["six @ file:///etc/passwd", "six @ http://example.com/six.whl", "not a requirement!"])
def test_local_files_plain_http_and_garbage_are_refused(line):
    with pytest.raises(ValidationError, match="line 1"):
        resolve_pip(line)


def test_conda_dependencies_map_to_pypi():
    spec = resolve_conda(
        {
            "channels": ["conda-forge", "pytorch"],
            "dependencies": [
                "python=3.11.4",
                "pip=24.0",
                "pytorch::pytorch=2.1.0",
                "py-xgboost=2.0.3=cpu_py311h_1",
                "numpy=1.26",
                "scikit-learn==1.5.2",
                "pandas>=2.1,<3",
                "matplotlib-base 3.8.4 py311h_0",
                "openssl=3.0.13=h4ab18f5_0",
                {"pip": ["mlflow-skinny==2.14.1", "azureml-mlflow"]},
            ],
        }
    )
    assert spec.python == "3.11"
    assert spec.requirements == (
        "azureml-mlflow",
        "matplotlib==3.8.4",
        "mlflow-skinny==2.14.1",
        "numpy==1.26.*",
        "openssl==3.0.13",
        "pandas<3,>=2.1",
        "scikit-learn==1.5.2",
        "torch==2.1.0",
        "xgboost==2.0.3",
    )
    # Where each came from, for the message when a conda package has no PyPI twin.
    assert spec.from_conda["torch"] == "pytorch"
    assert spec.from_conda["openssl"] == "openssl"
    assert "mlflow-skinny" not in spec.from_conda


def test_conda_without_python_uses_the_studios_python():
    assert resolve_conda({"dependencies": ["pip", {"pip": ["six"]}]}).python == STUDIO_PYTHON


def test_a_python_range_is_kept_for_uv_to_match():
    assert resolve_conda({"dependencies": ["python>=3.10"]}).python == ">=3.10"


def test_the_same_packages_from_conda_and_from_pip_share_a_hash():
    conda = resolve_conda({"dependencies": [f"python={STUDIO_PYTHON}", "pip", {"pip": ["six"]}]})
    assert conda.hash == resolve_pip("six").hash


def test_conda_alternatives_and_bracket_options_are_refused_naming_the_entry():
    with pytest.raises(ValidationError) as caught:
        resolve_conda({"dependencies": ["numpy=1.25|1.26", "pandas[version='>=2']", {"conda": ["x"]}]})
    messages = caught.value.message_dict["conda_file"]
    assert messages[0].startswith("dependencies[0]: 'numpy=1.25|1.26'")
    assert messages[1].startswith("dependencies[1]:")
    assert messages[2].startswith("dependencies[2]: only a 'pip' list")


def test_pip_options_inside_a_conda_file_are_refused():
    with pytest.raises(ValidationError, match=r"dependencies\[0\]\.pip item 1: pip option '-r'"):
        resolve_conda({"dependencies": [{"pip": ["-r requirements.txt"]}]})


def test_a_conda_file_that_is_not_yaml_names_the_line():
    with pytest.raises(ValidationError) as caught:
        load_conda_yaml("dependencies:\n  - numpy\n  bad: [\n")
    assert "line" in caught.value.message_dict["conda_file"][0]


def test_a_conda_file_that_is_not_a_mapping_is_refused():
    with pytest.raises(ValidationError, match="mapping"):
        load_conda_yaml("- numpy\n- pandas\n")
