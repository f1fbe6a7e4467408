"""train.py end to end, in this process: the three argument groups and one batch of each stage."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from train import build_parser, main

PROJECT_ROOT = Path(__file__).resolve().parents[1]


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


def test_resuming_from_the_best_weights_is_one_clear_error(data_dir, tmp_path):
    flags = ["--data_dir", str(data_dir), "--default_root_dir", str(tmp_path)]
    short = ["--max_epochs", "1", "--limit_train_batches", "2", "--log_every_n_steps", "1"]
    main([*flags, *short])
    (best,) = tmp_path.rglob("best.ckpt")
    with pytest.raises(SystemExit) as exit_info:
        main([*flags, "--ckpt_path", str(best), "--max_epochs", "2"])
    assert str(exit_info.value.code).startswith(f"error: --ckpt_path {best}: holds only")


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


def test_unwritable_data_dir_is_one_clear_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(SystemExit) as exit_info:
        main(["--data_dir", str(blocker / "data"), "--fast_dev_run", "1"])
    assert str(exit_info.value.code).startswith(f"error: data_dir {blocker / 'data'}: cannot")
    assert blocker.read_text() == "a file where a folder should be"


@pytest.mark.parametrize("content", [b"", b"\x93NUMPY garbage"], ids=["empty", "malformed"])
def test_broken_data_file_is_one_clear_error(data_dir, tmp_path, content):
    (tmp_path / "images.npy").write_bytes((data_dir / "images.npy").read_bytes())
    (tmp_path / "labels.npy").write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["--data_dir", str(tmp_path), "--fast_dev_run", "1"])
    assert str(exit_info.value.code).startswith(f"error: {tmp_path / 'labels.npy'}: ")
    assert (tmp_path / "labels.npy").read_bytes() == content


def test_corrupt_checkpoint_exits_without_a_traceback(data_dir, tmp_path):
    checkpoint = tmp_path / "broken.ckpt"
    checkpoint.write_bytes(b"PK\x03\x04 truncated")
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), "--ckpt_path", str(checkpoint)]
    command += ["--data_dir", str(data_dir), "--default_root_dir", str(tmp_path)]
    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    assert finished.stderr.strip().splitlines()[-1].startswith(f"error: --ckpt_path {checkpoint}")
    assert not (tmp_path / "version_0").exists()
