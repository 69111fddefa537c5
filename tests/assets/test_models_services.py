"""Registering models: from uploaded files, a datastore path or a model YAML; MLflow models read
from a real folder written by mlflow + scikit-learn in the test."""

import io
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.mlmodels import services
from assets.mlmodels.mlmodel import example_table, signature_rows
from assets.models import Model
from assets.versioning import DuplicateVersion, asset_set_archived
from workspaces.storage import datastore_storage

pytestmark = pytest.mark.django_db


def save_iris_mlflow_model(folder: Path) -> Path:
    """An MLflow model folder as `mlflow.sklearn.save_model` writes it, with a signature and an input example."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    mlflow.sklearn.save_model(model, str(folder), input_example=X[:3], signature=infer_signature(X, y))
    return folder


@pytest.fixture(scope="session")
def iris_model(tmp_path_factory) -> Path:
    return save_iris_mlflow_model(tmp_path_factory.mktemp("mlflow") / "iris")


def uploads_of(folder: Path, *, prefix: str | None = None) -> list[tuple[str, SimpleUploadedFile]]:
    """The files of `folder` as a browser's folder upload sends them: `<folder name>/<relative path>`."""
    prefix = folder.name if prefix is None else prefix
    return [
        (f"{prefix}/{p.relative_to(folder).as_posix()}".lstrip("/"), SimpleUploadedFile(p.name, p.read_bytes()))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def blob(workspace):
    return workspace.datastores.get(name="workspaceblobstore")


def stored_files(workspace) -> set[str]:
    root = Path(datastore_storage(blob(workspace)).location)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def fields(name="iris", **kw):
    return services.ModelFields(name=name, **kw)


# MLflow ------------------------------------------------------------------------------------------


def test_mlflow_folder_upload_reads_flavors_signature_and_input_example(workspace, owner, iris_model):
    model = services.model_create_from_upload(
        workspace=workspace, user=owner, fields=fields(type="mlflow_model"), files=uploads_of(iris_model)
    )
    assert (model.name, model.version, model.type) == ("iris", "1", "mlflow_model")
    assert model.flavors["python_function"]["loader_module"] == "mlflow.sklearn"
    assert model.flavors["python_function"]["python_version"].startswith("3.")
    import sklearn

    assert model.flavors["sklearn"]["sklearn_version"] == sklearn.__version__
    inputs = model.signature["inputs"]
    assert [c["name"] for c in inputs] == [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]
    assert {c["type"] for c in inputs} == {"double"}
    outputs = signature_rows(model.signature["outputs"])
    assert len(outputs) == 1 and outputs[0]["type"] in ("long", "tensor (int64)")
    example = model.input_example
    assert example["columns"] == [c["name"] for c in inputs]
    assert example["data"][0] == [5.1, 3.5, 1.4, 0.2]
    assert len(example["data"]) == 3
    # The files landed in the default datastore under LocalUpload/<32 hex>/iris.
    assert model.datastore.name == "workspaceblobstore"
    prefix, hexpart, folder = model.path.split("/")
    assert (prefix, len(hexpart), folder) == ("LocalUpload", 32, "iris")
    int(hexpart, 16)
    assert f"{model.path}/MLmodel" in stored_files(workspace)
    assert model.uri == f"azureml://datastores/workspaceblobstore/paths/{model.path}"


def test_mlflow_model_without_mlmodel_is_refused_naming_path_and_nothing_is_stored(workspace, owner, iris_model):
    files = [(name, upload) for name, upload in uploads_of(iris_model) if not name.endswith("/MLmodel")]
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_upload(
            workspace=workspace, user=owner, fields=fields(type="mlflow_model"), files=files
        )
    assert "MLmodel" in caught.value.message_dict["path"][0]
    assert not Model.objects.exists()
    assert stored_files(workspace) == set()


def test_mlflow_model_from_a_datastore_path_reads_its_mlmodel(workspace, owner, iris_model):
    storage = datastore_storage(blob(workspace))
    for p in iris_model.rglob("*"):
        storage.save(f"shared/models/iris/{p.relative_to(iris_model).as_posix()}", io.BytesIO(p.read_bytes()))
    model = services.model_create_from_datastore(
        workspace=workspace,
        user=owner,
        fields=fields(type="mlflow_model", version="7"),
        path="azureml://datastores/workspaceblobstore/paths/shared/models/iris",
    )
    assert (model.version, model.path) == ("7", "shared/models/iris")
    assert model.signature["inputs"][0]["name"] == "sepal length (cm)"


def test_mlmodel_naming_an_input_example_outside_the_folder_is_refused(workspace, owner):
    mlmodel = b"flavors:\n  python_function: {loader_module: x}\nsaved_input_example_info:\n  artifact_path: ../../secret.json\n"
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_upload(
            workspace=workspace,
            user=owner,
            fields=fields(type="mlflow_model"),
            files=[("m/MLmodel", SimpleUploadedFile("MLmodel", mlmodel))],
        )
    assert "input example" in caught.value.message_dict["path"][0]


def test_mlmodel_with_broken_signature_json_is_refused_naming_path(workspace, owner):
    mlmodel = b"flavors:\n  python_function: {loader_module: x}\nsignature:\n  inputs: '[{\"name\": '\n"
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_upload(
            workspace=workspace,
            user=owner,
            fields=fields(type="mlflow_model"),
            files=[("m/MLmodel", SimpleUploadedFile("MLmodel", mlmodel))],
        )
    assert "signature inputs is not valid JSON" in caught.value.message_dict["path"][0]


@pytest.mark.parametrize(
    ("example", "orient", "columns", "first_row"),
    [
        ({"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}, "split", ["a", "b"], [1, 2]),
        ([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], "records", ["a", "b"], [1, "x"]),
        ({"inputs": [[0.1, 0.2, 0.3]]}, "", ["0", "1", "2"], [0.1, 0.2, 0.3]),
        ({"dataframe_split": {"columns": ["q"], "data": [["hi"]]}}, "", ["q"], ["hi"]),
    ],
    ids=["pandas-split", "pandas-records", "ndarray", "serving-split"],
)
def test_input_examples_become_tables(example, orient, columns, first_row):
    table_columns, rows, truncated = example_table(json.loads(json.dumps(example)), orient=orient)
    assert table_columns == columns
    assert rows[0] == first_row
    assert truncated is False


def test_tensor_signature_rows_show_dtype_and_shape():
    rows = signature_rows([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 28, 28]}}])
    assert rows == [
        {"name": "—", "type": "tensor (float32)", "shape": "(-1, 28, 28)", "required": None, "default": None}
    ]


# Uploads -----------------------------------------------------------------------------------------


def test_one_file_upload_is_the_model_itself(workspace, owner):
    model = services.model_create_from_upload(
        workspace=workspace, user=owner, fields=fields("churn"), files=[("model.pkl", SimpleUploadedFile("m", b"pk"))]
    )
    assert model.type == "custom_model"
    assert model.path.startswith("LocalUpload/") and model.path.endswith("/model.pkl")
    assert datastore_storage(blob(workspace)).open(model.path).read() == b"pk"


def test_loose_files_go_into_a_folder_named_after_the_model(workspace, owner):
    model = services.model_create_from_upload(
        workspace=workspace,
        user=owner,
        fields=fields("churn"),
        files=[("a.pkl", SimpleUploadedFile("a", b"a")), ("b.json", SimpleUploadedFile("b", b"{}"))],
    )
    assert model.path.endswith("/churn")
    assert {f"{model.path}/a.pkl", f"{model.path}/b.json"} == stored_files(workspace)


def test_versions_count_up_and_a_duplicate_version_is_a_conflict(workspace, owner):
    def register(version=None):
        return services.model_create_from_upload(
            workspace=workspace,
            user=owner,
            fields=fields("churn", version=version),
            files=[("model.pkl", SimpleUploadedFile("m", b"pk"))],
        )

    assert [register().version, register().version, register("10").version, register().version] == [
        "1",
        "2",
        "10",
        "11",
    ]
    before = stored_files(workspace)
    with pytest.raises(DuplicateVersion):
        register("2")
    assert stored_files(workspace) == before


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "/abs/model.pkl", "a\\b.pkl", "x/../../y", "%2e%2e%2fx", "a#b"], ids=str
)
def test_upload_names_that_escape_are_refused_and_nothing_written(workspace, owner, bad, settings):
    before = {p for p in Path(settings.STUDIO_DATA_DIR).rglob("*")}
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_upload(
            workspace=workspace, user=owner, fields=fields(), files=[(bad, SimpleUploadedFile("x", b"x"))]
        )
    assert "relative_paths" in caught.value.message_dict
    assert {p for p in Path(settings.STUDIO_DATA_DIR).rglob("*")} == before


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"name": "bad name!"}, "name"),
        ({"name": ""}, "name"),
        ({"version": "1 2"}, "version"),
        ({"type": "onnx_model"}, "type"),
        ({"tags": {"": "x"}}, "tags"),
        ({"properties": ["a"]}, "properties"),
    ],
    ids=["name", "empty-name", "version", "type", "tag-key", "properties-list"],
)
def test_bad_fields_are_named(workspace, owner, kw, field):
    values = {"name": "iris", **kw}
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_upload(
            workspace=workspace,
            user=owner,
            fields=services.ModelFields(**values),
            files=[("m.pkl", SimpleUploadedFile("m", b"m"))],
        )
    assert field in caught.value.message_dict
    assert not Model.objects.exists()


# Datastore paths ---------------------------------------------------------------------------------


def test_datastore_path_must_exist_and_stay_inside(workspace, owner):
    for path, needle in [
        ("azureml://datastores/workspaceblobstore/paths/nothing/here", "Nothing at"),
        ("azureml://datastores/nosuch/paths/x", "No datastore"),
        ("azureml://datastores/workspaceblobstore/paths/../x", "'..'"),
        ("azureml://jobs/abc/outputs/artifacts/paths/model/", "job outputs"),
        ("file:///etc/passwd", "azureml://datastores"),
    ]:
        with pytest.raises(ValidationError) as caught:
            services.model_create_from_datastore(workspace=workspace, user=owner, fields=fields(), path=path)
        messages = " ".join(m for ms in caught.value.message_dict.values() for m in ms)
        assert needle in messages, (path, messages)
    assert not Model.objects.exists()


def test_another_workspaces_datastore_cannot_be_named(workspace, owner, outsider):
    from workspaces.models import Workspace

    theirs = Workspace.objects.get(name="oscars-ws")
    datastore_storage(theirs.datastores.get(name="workspaceblobstore")).save("secret.pkl", io.BytesIO(b"s"))
    with pytest.raises(ValidationError):
        services.model_create_from_datastore(
            workspace=workspace, user=owner, fields=fields(), path="secret.pkl", datastore="oscars-ws"
        )
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_datastore(workspace=workspace, user=owner, fields=fields(), path="secret.pkl")
    assert "Nothing at" in caught.value.message_dict["path"][0]


# YAML --------------------------------------------------------------------------------------------

MODEL_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
name: iris-yaml
version: 3
type: mlflow_model
path: ./iris
description: An **iris** classifier.
tags:
  team: flowers
properties:
  accuracy: 0.97
"""


def test_model_yaml_with_local_folder_registers_uploaded_files(workspace, owner, iris_model):
    model = services.model_create_from_yaml(
        workspace=workspace, user=owner, yaml_text=MODEL_YAML, files=uploads_of(iris_model)
    )
    assert (model.name, model.version, model.type) == ("iris-yaml", "3", "mlflow_model")
    assert model.tags == {"team": "flowers"}
    assert model.properties == {"accuracy": "0.97"}
    assert model.description == "An **iris** classifier."
    assert "sklearn" in model.flavors


def test_model_yaml_with_datastore_uri(workspace, owner):
    datastore_storage(blob(workspace)).save("models/m.onnx", io.BytesIO(b"onnx"))
    text = MODEL_YAML.replace("./iris", "azureml://datastores/workspaceblobstore/paths/models/m.onnx").replace(
        "mlflow_model", "custom_model"
    )
    model = services.model_create_from_yaml(workspace=workspace, user=owner, yaml_text=text, version="9")
    assert (model.version, model.path, model.type) == ("9", "models/m.onnx", "custom_model")


@pytest.mark.parametrize(
    ("change", "field", "line"),
    [
        (("type: mlflow_model", "type: onnx_model"), "type", 4),
        (("tags:\n  team: flowers", "tags: [flowers]"), "tags", 7),
        (("name: iris-yaml", "name: 'bad name!'"), "name", 2),
        (("version: 3", "version: '3 4'"), "version", 3),
        (("tags:\n", "tags: [\n"), "yaml", 9),
    ],
    ids=["unknown-type", "tags-not-a-mapping", "bad-name", "bad-version", "malformed"],
)
def test_model_yaml_errors_name_the_field_and_the_line(workspace, owner, change, field, line, iris_model):
    text = MODEL_YAML.replace(*change)
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_yaml(workspace=workspace, user=owner, yaml_text=text, files=uploads_of(iris_model))
    errors = caught.value.message_dict
    assert field in errors, errors
    assert f"line {line}" in errors[field][0], errors
    assert not Model.objects.exists()
    assert stored_files(workspace) == set()


def test_model_yaml_with_local_path_and_no_files_names_path_and_line(workspace, owner):
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_yaml(workspace=workspace, user=owner, yaml_text=MODEL_YAML)
    assert "(line 5)" in caught.value.message_dict["path"][0]


def test_mlflow_yaml_without_mlmodel_names_path_and_line(workspace, owner):
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_yaml(
            workspace=workspace,
            user=owner,
            yaml_text=MODEL_YAML,
            files=[("iris/model.pkl", SimpleUploadedFile("model.pkl", b"x"))],
        )
    message = caught.value.message_dict["path"][0]
    assert "MLmodel" in message and "(line 5)" in message


# Changes -----------------------------------------------------------------------------------------


def test_archive_hides_from_latest_and_restore_brings_back(workspace, owner):
    from assets.references import resolve

    one = services.model_create_from_upload(
        workspace=workspace, user=owner, fields=fields("m"), files=[("m.pkl", SimpleUploadedFile("m", b"1"))]
    )
    two = services.model_create_from_upload(
        workspace=workspace, user=owner, fields=fields("m"), files=[("m.pkl", SimpleUploadedFile("m", b"2"))]
    )
    assert resolve(workspace=workspace, kind="models", ref="azureml:m@latest") == two
    asset_set_archived(asset=two, archived=True)
    assert resolve(workspace=workspace, kind="models", ref="azureml:m@latest") == one
    assert resolve(workspace=workspace, kind="models", ref="azureml:m:2") == two  # still usable by version
    asset_set_archived(asset=two, archived=False)
    assert resolve(workspace=workspace, kind="models", ref="azureml:m@latest") == two


def test_update_changes_description_and_tags_only(workspace, owner):
    model = services.model_create_from_upload(
        workspace=workspace,
        user=owner,
        fields=fields("m", tags={"a": "1"}),
        files=[("m.pkl", SimpleUploadedFile("m", b"1"))],
    )
    services.model_update(model=model, description="# New", tags={"b": 2})
    model.refresh_from_db()
    assert (model.description, model.tags) == ("# New", {"b": "2"})


def test_mlmodel_alias_bomb_is_refused_naming_path(workspace, owner):
    bomb = "flavors:\n  python_function: {loader_module: x}\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_upload(
            workspace=workspace,
            user=owner,
            fields=fields(type="mlflow_model"),
            files=[("m/MLmodel", SimpleUploadedFile("MLmodel", bomb.encode()))],
        )
    assert "expands to more than" in caught.value.message_dict["path"][0]
    assert not Model.objects.exists()


def test_deeply_nested_input_example_is_shown_as_unreadable(workspace, owner):
    mlmodel = b"flavors:\n  python_function: {loader_module: x}\nsaved_input_example_info: {artifact_path: ex.json}\n"
    model = services.model_create_from_upload(
        workspace=workspace,
        user=owner,
        fields=fields(type="mlflow_model"),
        files=[
            ("m/MLmodel", SimpleUploadedFile("MLmodel", mlmodel)),
            ("m/ex.json", SimpleUploadedFile("ex.json", b"[" * 100_000 + b"]" * 100_000)),
        ],
    )
    assert model.input_example == {"type": "", "path": "ex.json", "unreadable": True}


def test_model_yaml_that_refers_to_itself_is_refused(workspace, owner):
    with pytest.raises(ValidationError) as caught:
        services.model_create_from_yaml(workspace=workspace, user=owner, yaml_text="name: x\npath: &p [*p]\n")
    assert "refers to itself" in caught.value.message_dict["yaml"][0]
