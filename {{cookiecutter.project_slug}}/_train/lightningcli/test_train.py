"""train.py end to end, in this process: LightningCLI's subcommands, configs and checkpoints."""

import pytest
import torch
import yaml

from train import main


def fit(data_dir, root_dir, *flags):
    """Run `train.py fit` on a couple of batches and return the CLI object."""
    return main(
        [
            "fit",
            *("--data.data_dir", str(data_dir), "--trainer.default_root_dir", str(root_dir)),
            *("--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"),
            *("--trainer.limit_val_batches", "1", "--trainer.log_every_n_steps", "1"),
            *flags,
        ]
    )


def test_fast_dev_run_fits_then_tests(data_dir, tmp_path):
    cli = fit(data_dir, tmp_path, "--trainer.fast_dev_run", "1")
    assert cli.trainer.state.finished
    tested = main(
        [
            "test",
            *("--data.data_dir", str(data_dir), "--trainer.default_root_dir", str(tmp_path)),
            *("--trainer.fast_dev_run", "1"),
        ]
    )
    assert "test_acc" in tested.trainer.callback_metrics


def test_config_defaults_and_overrides_reach_the_objects(data_dir, tmp_path):
    cli = fit(data_dir, tmp_path, "--model.learning_rate", "0.01", "--data.batch_size", "16")
    assert cli.model.hparams.learning_rate == 0.01
    assert cli.datamodule.hparams.batch_size == 16
    assert cli.trainer.max_epochs == 1
    assert cli.config.fit.seed_everything == 42
    (last,) = tmp_path.rglob("last.ckpt")
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["hyper_parameters"]["learning_rate"] == 0.01
    assert "batch_size" not in checkpoint["hyper_parameters"]


def test_switching_off_checkpoints_and_the_progress_bar(data_dir, tmp_path):
    flags = ["--trainer.enable_checkpointing", "false", "--trainer.enable_progress_bar", "false"]
    cli = fit(data_dir, tmp_path, *flags)
    assert cli.trainer.checkpoint_callback is None
    assert cli.trainer.progress_bar_callback is None
    assert not list(tmp_path.rglob("*.ckpt"))


def test_config_file_sets_values(data_dir, tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump({"model": {"channels": 8}, "seed_everything": 7}))
    cli = fit(data_dir, tmp_path, "--config", str(config))
    assert cli.model.hparams.channels == 8
    assert cli.config.fit.seed_everything == 7


def test_print_config_shows_every_section(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--print_config"])
    assert exit_info.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["seed_everything"] == 42
    assert config["model"]["learning_rate"] == 0.003
    assert config["data"]["data_dir"] == "data"
    assert config["trainer"]["max_epochs"] == 10


def test_resume_from_last_continues_the_newest_run(data_dir, tmp_path, capsys):
    fit(data_dir, tmp_path)
    cli = fit(data_dir, tmp_path, "--ckpt_path", "last", "--trainer.max_epochs", "2")
    assert cli.trainer.current_epoch == 2
    assert "training continues at epoch 1" in capsys.readouterr().out


def test_resuming_from_the_best_weights_is_one_clear_error(data_dir, tmp_path):
    fit(data_dir, tmp_path)
    (best,) = tmp_path.rglob("best.ckpt")
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path, "--ckpt_path", str(best), "--trainer.max_epochs", "2")
    assert str(exit_info.value.code).startswith(f"error: --ckpt_path {best}: holds only")


def test_last_without_a_checkpoint_says_so(data_dir, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path, "--ckpt_path", "last")
    assert "no last.ckpt under" in str(exit_info.value.code)
