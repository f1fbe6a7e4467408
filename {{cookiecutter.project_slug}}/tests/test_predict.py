"""predict.py restores the model from a checkpoint and writes one CSV row per example."""

import csv
import sys

import pytest

from predict import main as predict
from train import main as train


@pytest.fixture(scope="module")
def run_root(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(root)
        monkeypatch.setattr(sys, "argv", ["train.py"])
        train_briefly(data_dir, root)
    return root


@pytest.fixture(params=["best.ckpt", "last.ckpt"], ids=["best", "last"])
def checkpoint(request, run_root):
    """Each of the run's checkpoints: the best weights, and the whole state of the last epoch."""
    (path,) = run_root.rglob(request.param)
    return path


def train_briefly(data_dir, root):
{%- if cookiecutter.cli == "argparse" %}
    train(
        [
            *("--data_dir", str(data_dir), "--default_root_dir", str(root)),
            *("--max_epochs", "1", "--limit_train_batches", "3", "--channels", "8"),
            *("--log_every_n_steps", "1"),
        ]
    )
{%- else %}
    train(
        [
            *("fit", "--data.data_dir", str(data_dir), "--trainer.default_root_dir", str(root)),
            *("--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3"),
            *("--model.channels", "8", "--trainer.log_every_n_steps", "1"),
        ]
    )
{%- endif %}


def test_predict_writes_one_row_per_example(checkpoint, data_dir, tmp_path):
    output = tmp_path / "predictions.csv"
    predict(["--ckpt_path", str(checkpoint), "--data_dir", str(data_dir), "--output", str(output)])
    with output.open() as csv_file:
        rows = list(csv.DictReader(csv_file))
    assert len(rows) == 1797
    assert list(rows[0]) == ["index", "label", "prediction", "confidence"]
    assert {int(row["prediction"]) for row in rows} <= set(range(10))
    assert all(0.0 <= float(row["confidence"]) <= 1.0 for row in rows)


def test_predict_takes_data_dir_from_the_checkpoint(checkpoint, tmp_path):
    output = tmp_path / "predictions.csv"
    predict(["--ckpt_path", str(checkpoint), "--output", str(output)])
    assert len(output.read_text().splitlines()) == 1798


def corrupt(tmp_path, checkpoint, kind):
    path = tmp_path / "model.ckpt"
    if kind == "truncated":
        path.write_bytes(checkpoint.read_bytes()[:1000])
    elif kind == "corrupt":
        path.write_bytes(b"\x00garbage" * 100)
    return path


@pytest.mark.parametrize("kind", ["missing", "truncated", "corrupt"])
def test_bad_checkpoint_is_one_clear_error(checkpoint, tmp_path, kind):
    path = corrupt(tmp_path, checkpoint, kind)
    output = tmp_path / "predictions.csv"
    output.write_text("earlier results\n")
    with pytest.raises(SystemExit) as exit_info:
        predict(["--ckpt_path", str(path), "--output", str(output)])
    assert str(exit_info.value.code).startswith(f"error: --ckpt_path {path}")
    assert output.read_text() == "earlier results\n"
