"""The experiment logger: MLflow, in a local file store under the runs folder."""

import os
from pathlib import Path

from pytorch_lightning.loggers import Logger, MLFlowLogger


def make_logger(root_dir: str | Path) -> tuple[Logger, None]:
    """The MLflow logger; each run's folder is named after its unique id, inside the store."""
    # MLflow 3 keeps its local file store in maintenance mode and refuses it unless asked;
    # a folder of plain files is what this project wants: no database, nothing to run.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    # A local file store: `mlflow ui --backend-store-uri <root_dir>/mlruns` browses it.
    tracking_uri = f"file:{(Path(root_dir) / 'mlruns').resolve()}"
    experiment_name = {{ cookiecutter.project_slug | tojson }}
    create_experiment(tracking_uri, experiment_name)
    return MLFlowLogger(experiment_name=experiment_name, tracking_uri=tracking_uri), None


def create_experiment(tracking_uri: str, name: str) -> None:
    """Create the MLflow experiment unless it exists, also when runs start at the same moment."""
    # MLFlowLogger looks the name up and creates it if missing, so of two runs starting
    # together one would fail with "already exists"; here the loser finds the winner's.
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri)
    if client.get_experiment_by_name(name) is not None:
        return
    try:
        client.create_experiment(name)
    except MlflowException:
        if client.get_experiment_by_name(name) is None:
            raise
