"""A training script as a user writes it for a studio job: no MLflow configuration at all.

The studio sets MLFLOW_TRACKING_URI, MLFLOW_RUN_ID, MLFLOW_EXPERIMENT_NAME and MLFLOW_TRACKING_TOKEN,
so everything below lands in the job's own run. Usage: python train.py --model-name NAME --other-workspace WS

The end checks what the job's token reaches: nothing in another workspace. It leaves the token in
./outputs for the test to check that it was revoked when the job ended.
"""

import argparse
import os
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
from sklearn.linear_model import LogisticRegression

parser = argparse.ArgumentParser()
parser.add_argument("--model-name", required=True)
parser.add_argument("--other-workspace", required=True)
args = parser.parse_args()

mlflow.log_param("learning_rate", "0.05")
mlflow.log_params({"epochs": 3, "optimizer": "sgd"})
for step, loss in enumerate([0.9, 0.5, 0.25]):
    mlflow.log_metric("loss", loss, step=step)
mlflow.set_tag("stage", "inside-a-job")

Path("notes").mkdir(exist_ok=True)
Path("notes/summary.txt").write_text("trained inside a studio job\n")
mlflow.log_artifact("notes/summary.txt")
mlflow.log_artifacts("notes", artifact_path="bundle")

rng = np.random.default_rng(0)
features = rng.normal(size=(60, 3))
labels = (features[:, 0] + features[:, 1] > 0).astype(int)
model = LogisticRegression().fit(features, labels)
info = mlflow.sklearn.log_model(model, name="model", registered_model_name=args.model_name)

run = mlflow.active_run()
print(f"run_id={run.info.run_id}")
print(f"model_uri={info.model_uri}")
print(f"registered_version={info.registered_model_version}")

token = os.environ["MLFLOW_TRACKING_TOKEN"]
other = os.environ["MLFLOW_TRACKING_URI"].rsplit("/", 1)[0] + "/" + args.other_workspace
request = urllib.request.Request(
    other + "/api/2.0/mlflow/experiments/search?max_results=1", headers={"Authorization": f"Bearer {token}"}
)
try:
    with urllib.request.urlopen(request) as response:
        print(f"other_workspace_status={response.status}")
except urllib.error.HTTPError as exc:
    print(f"other_workspace_status={exc.code}")
Path("outputs").mkdir(exist_ok=True)
Path("outputs/job_token.txt").write_text(token)
