"""train.py end to end, in this process: the three argument groups and one batch of each stage."""

import pytest
import torch

from train import build_parser, main


def test_fast_dev_run_trains_validates_and_tests(data_dir, tmp_path):
    metrics = main(
        ["--fast_dev_run", "1", "--data_dir", str(data_dir), "--default_root_dir", str(tmp_path)]
    )
    assert set(metrics) == {"test_loss", "test_acc"}
    assert 0.0 <= metrics["test_acc"] <= 1.0


def test_help_shows_the_three_groups(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for heading in ("Program:", "{{ cookiecutter.model_class }}:", "Trainer:"):
        assert heading in help_text
    for flag in ("--data_dir", "--learning_rate", "--accelerator", "--devices", "--num_nodes"):
        assert flag in help_text


def test_checkpoint_holds_only_the_model_hyperparameters(data_dir, tmp_path):
    main(
        [
            *("--data_dir", str(data_dir), "--default_root_dir", str(tmp_path)),
            *("--max_epochs", "1", "--limit_train_batches", "2", "--limit_val_batches", "1"),
            *("--limit_test_batches", "1", "--channels", "8", "--batch_size", "16"),
            *("--log_every_n_steps", "1"),
        ]
    )
    (last,) = tmp_path.rglob("last.ckpt")
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["hyper_parameters"]["channels"] == 8
    assert "batch_size" not in checkpoint["hyper_parameters"]
    assert "max_epochs" not in checkpoint["hyper_parameters"]
    assert checkpoint["datamodule_hyper_parameters"]["batch_size"] == 16


@pytest.mark.parametrize(
    ("flags", "culprit"),
    [(["--max_epochs", "ten"], "--max_epochs"), (["--no_such_flag"], "--no_such_flag")],
    ids=["wrong-type", "unknown-flag"],
)
def test_bad_flags_exit_with_one_line(capsys, flags, culprit):
    with pytest.raises(SystemExit) as exit_info:
        main(flags)
    assert exit_info.value.code == 2
    error_lines = capsys.readouterr().err.strip().splitlines()
    assert len(error_lines) == 1
    assert culprit in error_lines[0]
