"""The retraining DAG the Airflow backend test triggers (tests/airflow.rs).

It stands for a real training pipeline: it reads what mlops-mcp put in the run's conf and
returns the produced model in the shape the backend reads from the `train` task's XCom
`return_value`: metrics, an artifact URI and the artifact's sha256 digest.
"""

import datetime
import hashlib
import json

from airflow.sdk import dag, task


@dag(
    dag_id="mlops_retrain",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["mlops-mcp-test"],
)
def mlops_retrain():
    @task
    def train(**context):
        conf = context["dag_run"].conf or {}
        artifact = json.dumps(conf, sort_keys=True).encode()
        return {
            "metrics": {
                "roc_auc": 0.9,
                "training_files": float(len(conf.get("training_data", []))),
            },
            "artifact_uri": f"airflow://mlops_retrain/{conf.get('job_id')}",
            "artifact_digest": "sha256:" + hashlib.sha256(artifact).hexdigest(),
        }

    train()


mlops_retrain()
