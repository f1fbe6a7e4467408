"""predict.py rebuilds the model from a checkpoint and writes one CSV row per example."""

import csv
import io
import shutil
import sys

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.dataset_class }}

from command_line import SUBCOMMAND
from conftest import assert_no_workers_left, settings_flags
from predict import CSVPredictionWriter
from predict import main as predict
from train_in_process import fit_in_process


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
    flags = settings_flags(data_dir=data_dir, default_root_dir=root, max_epochs=1, channels=8)
    flags += settings_flags(limit_train_batches=3, log_every_n_steps=1, num_workers=0)
    fit_in_process([*SUBCOMMAND, *flags])


def read_rows(path):
    with path.open() as csv_file:
        return list(csv.DictReader(csv_file))


def test_predict_writes_a_row_per_example_and_the_accuracy(checkpoint, data_dir, tmp_path, capsys):
    output = tmp_path / "predictions.csv"
    predict(["--ckpt_path", str(checkpoint), "--data_dir", str(data_dir), "--output", str(output)])
    rows = read_rows(output)
    labels = {{ cookiecutter.dataset_class }}(data_dir).labels
    assert len(rows) == len(labels)
    assert list(rows[0]) == ["index", "label", "prediction", "confidence"]
    assert [int(row["label"]) for row in rows] == labels.tolist()
    assert {int(row["prediction"]) for row in rows} <= set(range(labels.max() + 1))
    assert all(0.0 <= float(row["confidence"]) <= 1.0 for row in rows)
    assert f"Accuracy on {len(labels)} labelled examples: " in capsys.readouterr().out


def test_predict_reads_its_checkpoint_once(checkpoint, data_dir, tmp_path, monkeypatch):
    loaded = []
    torch_load = torch.load

    def counting_load(path, *args, **kwargs):
        loaded.append(str(path))
        return torch_load(path, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    output = tmp_path / "predictions.csv"
    predict(["--ckpt_path", str(checkpoint), "--data_dir", str(data_dir), "--output", str(output)])
    assert loaded == [str(checkpoint)]


def test_rows_keep_their_order_with_the_workers_a_bigger_machine_starts(
    run_root, data_dir, tmp_path, monkeypatch
):
    (checkpoint,) = run_root.rglob("best.ckpt")
    flags = ["--ckpt_path", str(checkpoint), "--data_dir", str(data_dir)]
    written = []
    # Lightning's suggestion stands in for the machine: none spare, then cores to spare.
    for suggested, workers in ((1, 0), (8, 2)):
        monkeypatch.setattr(
            "{{ cookiecutter.package_name }}.machinery.workers.suggested_max_num_workers",
            lambda num_devices, suggested=suggested: suggested,
        )
        output = tmp_path / f"predictions-{workers}-workers.csv"
        predict([*flags, "--output", str(output)])
        written.append(output.read_bytes())
    assert written[0] == written[1]
    assert_no_workers_left()


def test_rows_are_written_as_each_batch_arrives():
    csv_file = io.StringIO()
    writer = CSVPredictionWriter(csv_file)

    def batch(labels, predictions):
        prediction = {
            "label": torch.tensor(labels),
            "prediction": torch.tensor(predictions),
            "confidence": torch.full((len(labels),), 0.5),
        }
        writer.write_on_batch_end(None, None, prediction, None, None, 0)

    batch([1, 2], [1, 0])
    assert csv_file.getvalue().splitlines() == [
        "index,label,prediction,confidence",
        "0,1,1,0.5",
        "1,2,0,0.5",
    ]
    batch([3], [3])
    assert csv_file.getvalue().splitlines()[-1] == "2,3,3,0.5"
    assert writer.summary() == "Accuracy on 3 labelled examples: 0.6667"


@pytest.mark.npy
def test_unlabelled_data_gets_no_label_column(checkpoint, data_dir, tmp_path, capsys):
    new_data = tmp_path / "new"
    new_data.mkdir()
    shutil.copy(data_dir / "inputs.npy", new_data / "inputs.npy")
    output = tmp_path / "predictions.csv"
    predict(["--ckpt_path", str(checkpoint), "--data_dir", str(new_data), "--output", str(output)])
    rows = read_rows(output)
    assert len(rows) == len(np.load(new_data / "inputs.npy", mmap_mode="r"))
    assert list(rows[0]) == ["index", "prediction", "confidence"]
    assert "Accuracy" not in capsys.readouterr().out


def test_replaced_predictions_keep_their_file_mode(checkpoint, data_dir, tmp_path):
    output = tmp_path / "predictions.csv"
    output.write_text("earlier results\n")
    output.chmod(0o644)
    predict(["--ckpt_path", str(checkpoint), "--data_dir", str(data_dir), "--output", str(output)])
    assert output.stat().st_mode & 0o777 == 0o644
    assert output.read_text().startswith("index,")


def data_of(tmp_path, inputs, labels=None):
    folder = tmp_path / "other"
    folder.mkdir()
    np.save(folder / "inputs.npy", inputs)
    if labels is not None:
        np.save(folder / "labels.npy", labels)
    return folder


def expect_error(arguments, message, output):
    output.write_text("earlier results\n")
    with pytest.raises(SystemExit) as exit_info:
        predict([*arguments, "--output", str(output)])
    assert message in str(exit_info.value.code)
    assert "\n" not in str(exit_info.value.code)
    assert output.read_text() == "earlier results\n"


def trained_on(checkpoint):
    return torch.load(checkpoint, weights_only=True)["hyper_parameters"]


@pytest.mark.npy
def test_data_of_another_shape_is_one_clear_error(checkpoint, tmp_path):
    folder = data_of(tmp_path, np.zeros((3, 5, 5)))
    arguments = ["--ckpt_path", str(checkpoint), "--data_dir", str(folder)]
    expected = tuple(trained_on(checkpoint)["input_shape"])
    message = (
        f"error: {folder / 'inputs.npy'} holds inputs shaped (1, 5, 5);"
        f" the checkpoint was trained on {expected}"
    )
    expect_error(arguments, message, tmp_path / "p.csv")


@pytest.mark.npy
def test_labels_the_model_never_learned_are_one_clear_error(checkpoint, data_dir, tmp_path):
    inputs = np.load(data_dir / "inputs.npy")[:4]
    too_high = np.full(4, 10_000)
    folder = data_of(tmp_path, inputs, too_high)
    arguments = ["--ckpt_path", str(checkpoint), "--data_dir", str(folder)]
    num_classes = trained_on(checkpoint)["num_classes"]
    message = (
        f"error: {folder / 'labels.npy'} holds label 10000;"
        f" the checkpoint was trained on {num_classes} classes, 0 to {num_classes - 1}"
    )
    expect_error(arguments, message, tmp_path / "p.csv")


def corrupt(tmp_path, checkpoint, kind):
    path = tmp_path / "model.ckpt"
    if kind == "truncated":
        path.write_bytes(checkpoint.read_bytes()[:1000])
    elif kind == "corrupt":
        path.write_bytes(b"\x00garbage" * 100)
    return path


def test_a_batch_size_below_1_is_one_clear_error(data_dir, tmp_path):
    arguments = ["--ckpt_path", "unused.ckpt", "--data_dir", str(data_dir), "--batch_size", "0"]
    expect_error(
        arguments, "error: batch_size 0 is not allowed: give an integer, 1 or more", tmp_path / "p"
    )


@pytest.mark.parametrize("kind", ["missing", "truncated", "corrupt"])
def test_bad_checkpoint_is_one_clear_error(checkpoint, data_dir, tmp_path, kind):
    path = corrupt(tmp_path, checkpoint, kind)
    arguments = ["--ckpt_path", str(path), "--data_dir", str(data_dir)]
    expect_error(arguments, f"error: --ckpt_path {path}", tmp_path / "predictions.csv")
