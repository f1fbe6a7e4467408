"""How the tests spell this command line's (LightningCLI) flags; no code of the project runs."""

# Each setting the tests give, as this train.py spells its flag.
FLAG = {
    **{name: f"--data.{name}" for name in ("data_dir", "batch_size", "num_workers", "task")},
    **{
        name: f"--model.{name}" for name in ("learning_rate", "channels", "hidden_units", "dropout")
    },
    **{
        name: f"--trainer.{name}"
        for name in (
            *("default_root_dir", "max_epochs", "limit_train_batches", "limit_val_batches"),
            *("log_every_n_steps", "enable_progress_bar", "enable_model_summary"),
        )
    },
    "seed": "--seed_everything",
    "ckpt_path": "--ckpt_path",
}
# The flag that switches the augmentation on.
AUGMENT = ["--data.augment", "true"]
# What comes before the flags of a training run; tune.py takes the flags alone.
SUBCOMMAND = ["fit"]
