"""Where a run writes: a folder of its own under the root folder, and the logger writing there."""
{% if cookiecutter.logger in ("wandb", "mlflow") %}
import os
{%- endif %}
from pathlib import Path

from pytorch_lightning.loggers import Logger
from pytorch_lightning.utilities.rank_zero import rank_zero_only


def start_run(root_dir: str | Path, with_logger: bool = True) -> tuple[Logger | bool, Path | None]:
    """This run's logger (False for none) and its folder (None where the logger names one)."""
    # The Trainer's default_root_dir stays `root_dir`: Lightning keeps its SLURM requeue
    # checkpoints there, and finds them there when the job restarts.
    if not with_logger:
        return False, claim_run_dir(root_dir)
    return make_logger(root_dir)


def claim_run_dir(root_dir: str | Path) -> Path | None:
    """Create the next free root_dir/version_N folder and return it.

    Under DDP only the main process claims one; the others get None.
    """
    # Creating a folder either succeeds or finds it taken, so runs that start at the same
    # moment each get their own. Under DDP Lightning hands the main process's folder on.
    if rank_zero_only.rank != 0:
        return None
    root = Path(root_dir)
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(path.name[8:]) for path in root.glob("version_*") if path.name[8:].isdigit()]
    version = max(taken, default=-1) + 1
    while True:
        try:
            (root / f"version_{version}").mkdir()
            return root / f"version_{version}"
        except FileExistsError:
            version += 1


def make_logger(root_dir: str | Path) -> tuple[Logger | bool, Path | None]:
    """The experiment logger chosen when the project was generated, and the run's folder."""
{%- if cookiecutter.logger in ("tensorboard", "csv") %}
    run_dir = claim_run_dir(root_dir)
    version = int(run_dir.name[8:]) if run_dir else None
{%- endif %}
{%- if cookiecutter.logger == "tensorboard" %}
    from pytorch_lightning.loggers import TensorBoardLogger

    logger = TensorBoardLogger(save_dir=root_dir, name="", version=version, default_hp_metric=False)
    return logger, run_dir
{%- elif cookiecutter.logger == "csv" %}
    from pytorch_lightning.loggers import CSVLogger

    return CSVLogger(save_dir=root_dir, name="", version=version), run_dir
{%- elif cookiecutter.logger == "wandb" %}
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    # Runs in one process (tune.py's trials) each need a wandb run of their own, and
    # WandbLogger would join the run an earlier one left open.
    if wandb.run is not None:
        wandb.finish()
    # Offline unless you ask for more: `wandb login` and WANDB_MODE=online sync the run.
    offline = os.environ.get("WANDB_MODE", "offline") != "online"
    # wandb looks for the git repository from save_dir, which must exist by then.
    Path(root_dir).mkdir(parents=True, exist_ok=True)
    logger = WandbLogger(
        project={{ cookiecutter.project_slug | tojson }},
        save_dir=str(root_dir),
        offline=offline,
    )
    # Each run's folder is named after its unique id, under the project's name.
    return logger, None
{%- elif cookiecutter.logger == "mlflow" %}
    from pytorch_lightning.loggers import MLFlowLogger

    # MLflow 3 keeps its local file store in maintenance mode and refuses it unless asked;
    # a folder of plain files is what this project wants: no database, nothing to run.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    # A local file store: `mlflow ui --backend-store-uri <root_dir>/mlruns` browses it.
    tracking_uri = f"file:{(Path(root_dir) / 'mlruns').resolve()}"
    experiment_name = {{ cookiecutter.project_slug | tojson }}
    create_experiment(tracking_uri, experiment_name)
    logger = MLFlowLogger(experiment_name=experiment_name, tracking_uri=tracking_uri)
    # Each run's folder is named after its unique id, inside the store.
    return logger, None
{%- else %}
    # No experiment logger: metrics still reach the progress bar and the learning curves.
    return False, claim_run_dir(root_dir)
{%- endif %}
{%- if cookiecutter.logger == "mlflow" %}


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
{%- endif %}
