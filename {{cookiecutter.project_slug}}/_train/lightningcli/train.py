"""Train, validate, test or predict with LightningCLI; `python train.py --help` lists how.

configs/default.yaml holds the project's defaults; `--config FILE` and flags override them.
"""

import sys
from pathlib import Path

from pytorch_lightning.cli import LightningCLI

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}
from {{ cookiecutter.package_name }}.errors import CheckpointError, DataError
from {{ cookiecutter.package_name }}.experiment import make_callbacks, resolve_ckpt_path
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.yaml"
SUBCOMMANDS = ("fit", "validate", "test", "predict")


class CLI(LightningCLI):
    def instantiate_trainer(self, **kwargs):
        # The project's callbacks join any the config names, except those it switches off.
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        trainer_config = config.trainer
        kwargs["callbacks"] = [
            *(trainer_config.callbacks or []),
            *make_callbacks(
                enable_checkpointing=trainer_config.enable_checkpointing is not False,
                enable_progress_bar=trainer_config.enable_progress_bar is not False,
            ),
        ]
        return super().instantiate_trainer(**kwargs)

    def before_fit(self):
        # "last" means the newest last.ckpt of any earlier run, and a checkpoint must hold
        # the whole training state: the same rules as the argparse variant's --ckpt_path.
        self.config_init.fit.ckpt_path = resolve_ckpt_path(
            self.config_init.fit.ckpt_path, self.trainer.default_root_dir
        )


def main(args=None):
    try:
        return CLI(
            {{ cookiecutter.model_class }},
            {{ cookiecutter.datamodule_class }},
            parser_kwargs={
                name: {"default_config_files": [DEFAULT_CONFIG]} for name in SUBCOMMANDS
            },
            # Without a logger, runs share default_root_dir; keep the newest config there.
            save_config_kwargs={"overwrite": True},
            args=args,
        )
    except (DataError, CheckpointError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
