"""A training loop as a user writes it for a studio job: `import mlflow` and nothing else to set up.

The studio sets MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and a job-scoped MLFLOW_TRACKING_TOKEN, so the
param and every point land in the job's own run while it runs.
Usage: python train.py --learning-rate 0.01 --steps 80 --delay 0.2
"""

import argparse
import time

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--learning-rate", type=float, required=True)
parser.add_argument("--steps", type=int, default=80)
parser.add_argument("--delay", type=float, default=0.2)
args = parser.parse_args()

mlflow.log_param("learning_rate", args.learning_rate)
for i in range(args.steps):
    mlflow.log_metric("loss", 1 / (i + 1) + args.learning_rate, step=i)
    print(f"step {i} logged", flush=True)
    time.sleep(args.delay)
print("training done", flush=True)
