"""Each task labels.npy can describe trains, predicts, exports and serves with no code change."""

import csv
import json
import signal
import sys

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.machinery.errors import DataError
from {{ cookiecutter.package_name }}.machinery.extras import missing_extra
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}

from command_line import FLAG
from conftest import run_flags
from predict import main as predict
from train_in_process import fit_in_process

# Each task is read from labels.npy: a Dataset of another format brings its own labels.
pytestmark = pytest.mark.npy

NUM_EXAMPLES = 300
NUM_FEATURES = 6


def features(seed=0):
    return np.random.default_rng(seed).normal(size=(NUM_EXAMPLES, NUM_FEATURES))


def regression(num_targets):
    """Targets in units of their own (about 50, give or take 20) that the features explain."""
    inputs = features()
    weights = np.random.default_rng(1).normal(size=(NUM_FEATURES, num_targets))
    targets = 50 + 20 * np.tanh(inputs @ weights)
    return inputs.astype(np.float32), targets[:, 0] if num_targets == 1 else targets


def multilabel():
    """Three labels, each present where one feature is positive."""
    inputs = features()
    return inputs.astype(np.float32), (inputs[:, :3] > 0).astype(np.int64)


# (inputs, labels, the task read from them, the CSV header predict.py writes)
TASKS = {
    "regression-1-target": (
        *regression(1),
        "regression",
        ["index", "label", "prediction"],
    ),
    "regression-3-targets": (
        *regression(3),
        "regression",
        ["index", *(f"label_{t}" for t in range(3)), *(f"prediction_{t}" for t in range(3))],
    ),
    "multilabel-3-labels": (
        *multilabel(),
        "multilabel",
        [
            "index",
            *(f"{name}_{k}" for k in range(3) for name in ("label", "prediction", "probability")),
        ],
    ),
}
# The headline validation metric of each task, and what the tests' data reach in the epochs
# below: far above what guessing gives (R² 0; F1 about 0.5).
GOOD_ENOUGH = {"regression": ("val_r2", 0.5), "multilabel": ("val_f1", 0.8)}
EPOCHS = ["--max_epochs", "25"]


def write_data(folder, inputs, labels=None):
    folder.mkdir(parents=True)
    np.save(folder / "inputs.npy", inputs)
    if labels is not None:
        np.save(folder / "labels.npy", labels)
    return folder


def train(folder, root, *flags):
    """Fit on `folder` as train.py would; return the Trainer and the newest best.ckpt's path."""
    trainer = fit_in_process(
        run_flags(
            folder,
            root,
            *(FLAG["batch_size"], "32", FLAG["num_workers"], "0"),
            *(FLAG["max_epochs"], EPOCHS[1], FLAG["limit_train_batches"], "1.0"),
            *flags,
        )
    )
    (best,) = root.rglob("best.ckpt")
    return trainer, best


@pytest.fixture(scope="module", params=TASKS, ids=TASKS)
def trained(request, tmp_path_factory):
    """One run per task: its data folder, unlabelled copy, checkpoint, Trainer and expectations."""
    inputs, labels, task, header = TASKS[request.param]
    base = tmp_path_factory.mktemp(request.param)
    folder = write_data(base / "data", inputs, labels)
    unlabelled = write_data(base / "unlabelled", inputs[:20])
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(base)
        monkeypatch.setattr(sys, "argv", ["train.py"])
        trainer, best = train(folder, base / "runs")
    return {
        "folder": folder,
        "unlabelled": unlabelled,
        "best": best,
        "trainer": trainer,
        "task": task,
        "header": header,
        "labels": labels,
    }


def test_the_task_and_its_size_come_from_the_labels_into_the_checkpoint(trained):
    saved = torch.load(trained["best"], weights_only=True)["hyper_parameters"]
    labels = trained["labels"]
    assert saved["task"] == trained["task"]
    if trained["task"] == "regression":
        targets = labels.reshape(len(labels), -1)
        assert saved["num_targets"] == targets.shape[1]
        # The training split's statistics: near the whole set's.
        assert np.allclose(saved["target_mean"], targets.mean(axis=0), atol=5)
        assert np.allclose(saved["target_std"], targets.std(axis=0), rtol=0.3)
    else:
        assert saved["num_classes"] == labels.shape[1]


def test_the_task_learns_and_logs_its_metrics(trained):
    metrics = trained["trainer"].callback_metrics
    name, floor = GOOD_ENOUGH[trained["task"]]
    assert float(metrics[name]) >= floor, {key: float(value) for key, value in metrics.items()}
    expected = {"val_mae", "val_r2"} if trained["task"] == "regression" else {"val_f1", "val_acc"}
    assert expected <= set(metrics)
    assert "val_loss" in metrics


def script_flags(trained, folder, output):
    """predict.py's or export.py's flags: the trained run's best.ckpt, one of its folders."""
    return [
        "--ckpt_path",
        str(trained["best"]),
        "--data_dir",
        str(trained[folder]),
        "--output",
        str(output),
    ]


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def test_predict_writes_the_tasks_columns_and_scores_labelled_data(trained, tmp_path, capsys):
    output = tmp_path / "predictions.csv"
    predict(script_flags(trained, "folder", output))
    rows = read_csv(output)
    assert rows[0] == trained["header"]
    assert len(rows) == 1 + NUM_EXAMPLES
    printed = capsys.readouterr().out
    score = (
        "Mean absolute error" if trained["task"] == "regression" else "Accuracy over every label"
    )
    assert f"{score} on {NUM_EXAMPLES} labelled examples" in printed
    if trained["task"] == "regression":
        # Predictions come out in the targets' units, near them.
        values = np.array(rows[1:], dtype=float)[:, 1:]
        truths, predictions = np.split(values, 2, axis=1)
        assert np.abs(truths - predictions).mean() < 0.5 * truths.std()


def test_predict_without_labels_writes_no_label_columns(trained, tmp_path):
    output = tmp_path / "predictions.csv"
    predict(script_flags(trained, "unlabelled", output))
    header = read_csv(output)[0]
    assert header == [name for name in trained["header"] if not name.startswith("label")]


@pytest.mark.skipif(missing_extra("export") is not None, reason="the export extra is not installed")
def test_export_checks_each_task_with_onnxruntime(trained, tmp_path, capsys):
    from export import main as export

    output = tmp_path / "model.onnx"
    export(script_flags(trained, "folder", output))
    assert "largest difference" in capsys.readouterr().out
    assert output.stat().st_size > 0


@pytest.mark.skipif(missing_extra("serve") is not None, reason="the serve extra is not installed")
def test_the_server_answers_each_task_with_predicts_columns(trained, tmp_path):
    from {{ cookiecutter.package_name }}.machinery.serving import ModelAPI

    output = tmp_path / "predictions.csv"
    predict(script_flags(trained, "unlabelled", output))
    header, *rows = read_csv(output)
    api = ModelAPI({{ cookiecutter.model_class }}, str(trained["best"]))
    # setup() ignores Ctrl-C, as a LitServe worker should; this process is pytest's.
    on_interrupt = signal.getsignal(signal.SIGINT)
    try:
        api.setup("cpu")
    finally:
        signal.signal(signal.SIGINT, on_interrupt)
    inputs = np.load(trained["unlabelled"] / "inputs.npy")
    for example, row in zip(inputs[:5], rows, strict=False):
        answer = json.loads(
            api.encode_response(api.predict(api.decode_request({"inputs": example.tolist()}))).body
        )
        assert list(answer) == header[1:]
        assert np.allclose(
            [answer[name] for name in header[1:]], [float(value) for value in row[1:]], rtol=1e-5
        )


def test_task_names_how_ambiguous_labels_are_read(tmp_path):
    # Whole numbers (N,) read as classes; --task regression predicts them as numbers.
    counts = np.random.default_rng(0).integers(0, 30, size=NUM_EXAMPLES)
    folder = write_data(tmp_path / "counts", features().astype(np.float32), counts)
    trainer, best = train(
        folder, tmp_path / "runs", FLAG["task"], "regression", FLAG["max_epochs"], "1"
    )
    saved = torch.load(best, weights_only=True)["hyper_parameters"]
    assert (saved["task"], saved["num_targets"], saved["num_classes"]) == ("regression", 1, None)
    assert "val_r2" in trainer.callback_metrics


def test_a_task_the_labels_cannot_mean_is_one_line(tmp_path):
    counts = np.arange(NUM_EXAMPLES) % 3
    folder = write_data(tmp_path / "classes", features().astype(np.float32), counts)
    with pytest.raises(DataError, match="^task multilabel: .*labels.npy holds int64") as error:
        train(folder, tmp_path / "runs", FLAG["task"], "multilabel")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "runs").exists()


def test_classification_data_says_its_task_in_one_line_at_the_start(
    data_dir, tmp_path, lightning_log
):
    with lightning_log.at_level("INFO"):
        fit_in_process(
            run_flags(data_dir, tmp_path, FLAG["max_epochs"], "1", FLAG["num_workers"], "0")
        )
    (line,) = [
        record.message for record in lightning_log.records if record.message.startswith("Task")
    ]
    assert line == f"Task from {data_dir}: classification, inputs shaped (1, 8, 8), 10 classes"


def test_labels_of_another_size_or_task_are_refused_in_one_line(trained, tmp_path):
    # Five targets or labels a row fit none of these checkpoints, nor do targets (N,) a
    # multi-label one.
    inputs, labels = features().astype(np.float32), np.zeros((NUM_EXAMPLES, 5), dtype=np.int64)
    if trained["task"] == "multilabel":
        labels = regression(1)[1]
    folder = write_data(tmp_path / "other", inputs, labels)
    with pytest.raises(SystemExit) as stop:
        predict(["--ckpt_path", str(trained["best"]), "--data_dir", str(folder)])
    assert "labels.npy holds" in str(stop.value.code)
    assert "\n" not in str(stop.value.code)
