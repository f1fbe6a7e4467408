"""How the tests spell this command line's (argparse) flags; no code of the project runs."""

# Each setting the tests give, as this train.py spells its flag.
FLAG = {
    name: f"--{name}"
    for name in (
        *("data_dir", "batch_size", "num_workers", "seed", "ckpt_path", "task"),
        *("learning_rate", "channels", "hidden_units", "dropout"),
        *("default_root_dir", "max_epochs", "limit_train_batches", "limit_val_batches"),
        *("log_every_n_steps", "enable_progress_bar", "enable_model_summary"),
    )
}
# The flag that switches the augmentation on.
AUGMENT = ["--augment"]
# What comes before the flags of a training run; tune.py takes the flags alone.
SUBCOMMAND = []
