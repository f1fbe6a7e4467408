"""Where a run writes: a folder of its own under the root folder, and the logger writing there."""
{% if cookiecutter.logger in ("wandb", "mlflow") %}
import os
{%- endif %}
from pathlib import Path

from pytorch_lightning.loggers import Logger
{%- if cookiecutter.logger in ("tensorboard", "csv", "none") %}
from pytorch_lightning.utilities.rank_zero import rank_zero_only
{%- endif %}


def claim_run_dir(root_dir: str | Path) -> Path:
    """Create the next free root_dir/version_N folder and return it.

    Creating a folder either succeeds or finds it taken, so runs that start at the same
    moment each get their own. Under DDP only the main process claims one; Lightning
    hands its folder to the others.
    """
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


def make_logger(root_dir: str | Path) -> tuple[Logger | bool, str]:
    """The experiment logger chosen when the project was generated, and the run's folder.

    The folder is where the Trainer's default_root_dir should point: checkpoints and the
    learning curves go there when the logger does not place them itself.
    """
{%- if cookiecutter.logger in ("tensorboard", "csv", "none") %}
    main_process = rank_zero_only.rank == 0
    run_dir = claim_run_dir(root_dir) if main_process else Path(root_dir)
{%- endif %}
{%- if cookiecutter.logger == "tensorboard" %}
    from pytorch_lightning.loggers import TensorBoardLogger

    version = int(run_dir.name[8:]) if main_process else None
    logger = TensorBoardLogger(save_dir=root_dir, name="", version=version, default_hp_metric=False)
    return logger, str(run_dir)
{%- elif cookiecutter.logger == "csv" %}
    from pytorch_lightning.loggers import CSVLogger

    version = int(run_dir.name[8:]) if main_process else None
    return CSVLogger(save_dir=root_dir, name="", version=version), str(run_dir)
{%- elif cookiecutter.logger == "wandb" %}
    from pytorch_lightning.loggers import WandbLogger

    # Offline unless you ask for more: `wandb login` and WANDB_MODE=online sync the run.
    offline = os.environ.get("WANDB_MODE", "offline") != "online"
    # wandb looks for the git repository from save_dir, which must exist by then.
    Path(root_dir).mkdir(parents=True, exist_ok=True)
    logger = WandbLogger(
        project={{ cookiecutter.project_slug | tojson }},
        save_dir=str(root_dir),
        offline=offline,
    )
    # Each run gets a folder named after its unique id, under the project's name.
    return logger, str(root_dir)
{%- elif cookiecutter.logger == "mlflow" %}
    from pytorch_lightning.loggers import MLFlowLogger

    # MLflow 3 keeps its local file store in maintenance mode and refuses it unless asked;
    # a folder of plain files is what this project wants: no database, nothing to run.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    # A local file store: `mlflow ui --backend-store-uri <root_dir>/mlruns` browses it.
    store = (Path(root_dir) / "mlruns").resolve()
    logger = MLFlowLogger(
        experiment_name={{ cookiecutter.project_slug | tojson }},
        tracking_uri=f"file:{store}",
    )
    # Each run gets a folder named after its unique id, inside the store.
    return logger, str(root_dir)
{%- else %}
    # No experiment logger: metrics still reach the progress bar and the learning curves.
    return False, str(run_dir)
{%- endif %}
