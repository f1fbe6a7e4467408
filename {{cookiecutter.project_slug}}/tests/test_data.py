"""The Dataset reads inputs.npy and labels.npy; the DataModule splits and describes them."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }} import data
from {{ cookiecutter.package_name }}.machinery import data_report, workers
from {{ cookiecutter.package_name }}.machinery.errors import DataError

from conftest import mount


def datamodule_for(data_dir, **settings):
    """The project's DataModule over `data_dir`, with no worker processes."""
    return data.{{ cookiecutter.datamodule_class }}(
        data_dir=str(data_dir),
        num_workers=0,
        **settings,
    )


def importing_the_project():
    """The environment of a fresh Python process that imports the project as these tests do."""
    project = os.path.dirname(os.path.dirname(data.__file__))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([project, *sys.path])}


@pytest.fixture(scope="module")
def datamodule(data_dir):
    datamodule = datamodule_for(data_dir, batch_size=32)
    datamodule.setup("fit")
    return datamodule


def write_data(folder, inputs, labels=None):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "inputs.npy", inputs)
    if labels is not None:
        np.save(folder / "labels.npy", labels)
    return folder


def test_dataset_gives_float_inputs_of_the_reported_shape(datamodule, data_dir):
    dataset = data.{{ cookiecutter.dataset_class }}(data_dir)
    inputs, label = dataset[0]
    assert len(dataset) == len(dataset.labels)
    assert tuple(inputs.shape) == datamodule.report["input_shape"]
    assert inputs.dtype == torch.float32
    # A class: an integer, or a tensor of one (the .npy Dataset gives labels as stored).
    label = torch.as_tensor(label)
    assert label.dtype == torch.int64 and label.dim() == 0
    assert 0 <= int(label) < datamodule.report["num_classes"]


def test_splits_are_disjoint_complete_and_repeatable(datamodule, data_dir):
    again = datamodule_for(data_dir)
    again.setup("fit")
    splits = [datamodule.train_set, datamodule.val_set, datamodule.test_set]
    num_examples = len(splits[0].dataset)
    indices = [set(split.indices) for split in splits]
    assert set().union(*indices) == set(range(num_examples))
    assert sum(len(split) for split in indices) == num_examples
    assert all(indices)
    assert datamodule.test_set.indices == again.test_set.indices


def test_dataloaders_give_batches_of_inputs_and_labels(datamodule):
    inputs, labels = next(iter(datamodule.train_dataloader()))
    batch = min(32, len(datamodule.train_set))
    assert inputs.shape == (batch, *datamodule.report["input_shape"])
    assert labels.shape == (batch,)
    assert len(datamodule.val_dataloader()) == -(-len(datamodule.val_set) // 32)


@pytest.mark.parametrize(
    ("suggested", "default"), [(1, 0), (8, 2)], ids=["no-spare-core", "spare-cores"]
)
def test_workers_default_to_two_where_the_machine_has_cores_to_spare(
    data_dir, monkeypatch, suggested, default
):
    # Lightning's suggestion stands in for the machine: this one's cores may differ from a user's.
    monkeypatch.setattr(workers, "suggested_max_num_workers", lambda num_devices: suggested)
    by_default = data.{{ cookiecutter.datamodule_class }}(data_dir=str(data_dir))
    by_default.setup("fit")
    assert by_default.val_dataloader().num_workers == default
    given = data.{{ cookiecutter.datamodule_class }}(data_dir=str(data_dir), num_workers=1)
    given.setup("fit")
    assert given.val_dataloader().num_workers == 1


def test_shuffle_order_depends_only_on_seed_and_epoch(data_dir):
    def order(seed, epoch):
        datamodule = datamodule_for(data_dir, seed=seed)
        datamodule.setup("fit")
        sampler = datamodule.train_dataloader().sampler
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(7, 3) == order(7, 3)
    assert sorted(order(7, 3)) == list(range(len(order(7, 3))))
    assert order(7, 3) != order(7, 4)
    assert order(7, 3) != order(8, 3)


def test_report_matches_the_files(datamodule, data_dir):
    labels = data.{{ cookiecutter.dataset_class }}(data_dir).labels
    assert datamodule.report["num_classes"] == labels.max() + 1
    channels = datamodule.report["input_shape"][0]
    assert len(datamodule.report["input_mean"]) == len(datamodule.report["input_std"]) == channels
    assert all(std > 0 for std in datamodule.report["input_std"])


@pytest.mark.npy
@pytest.mark.parametrize(
    ("inputs", "input_shape"),
    [
        (np.random.default_rng(0).integers(0, 256, (40, 3, 12, 10), dtype=np.uint8), (3, 12, 10)),
        (np.random.default_rng(0).random((40, 16, 16), dtype=np.float32), (1, 16, 16)),
        (np.random.default_rng(0).normal(100, 30, (40, 7)), (7,)),
    ],
    ids=["rgb-uint8", "grayscale-float", "feature-table"],
)
def test_any_kind_of_data_is_reported_and_scaled(tmp_path, inputs, input_shape):
    labels = np.arange(40) % 3
    datamodule = datamodule_for(write_data(tmp_path / "mine", inputs, labels))
    assert datamodule.report["input_shape"] == input_shape
    assert datamodule.report["num_classes"] == 3
    datamodule.setup("fit")
    train = torch.stack([datamodule.train_set[i][0] for i in range(len(datamodule.train_set))])
    mean = torch.tensor(datamodule.report["input_mean"]).reshape(-1, *[1] * (len(input_shape) - 1))
    std = torch.tensor(datamodule.report["input_std"]).reshape(mean.shape)
    scaled = (train - mean) / std
    assert scaled.mean().abs() < 1e-3
    assert (scaled.std() - 1).abs() < 0.05


@pytest.mark.npy
def test_building_the_data_module_and_reading_its_report_write_nothing(tmp_path):
    """The scripts call prepare_data, as Lightning's Trainer does; the report only reads."""
    datamodule = data.{{ cookiecutter.datamodule_class }}()
    with pytest.raises(DataError, match="no inputs.npy"):
        datamodule.report  # noqa: B018 (reading the report reads the data)
    assert list(tmp_path.iterdir()) == []


PROCESS_STATE = """
import ast, atexit, importlib, importlib.util, pathlib, signal, sys, threading

def state():
    numbers = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
    handlers = [signal.getsignal(number) for number in numbers]
    return atexit._ncallbacks(), handlers, sys.excepthook, threading.excepthook

# What the package's modules import from elsewhere may change the state: imported first.
package = "{{ cookiecutter.package_name }}"
folder = pathlib.Path(importlib.util.find_spec(package).origin).parent
files = sorted(folder.rglob("*.py"))
for path in files:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            importlib.import_module(node.module)
before = state()
for path in files:
    parts = path.relative_to(folder.parent).with_suffix("").parts
    importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
print(len(files) > 3 and state() == before)
"""


def test_importing_the_package_changes_no_process_wide_state(tmp_path):
    """No exit handler, signal handler or excepthook is installed by an import, only by a run."""
    finished = subprocess.run(
        [sys.executable, "-c", PROCESS_STATE],
        cwd=tmp_path,
        env=importing_the_project(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stdout.strip() == "True"


@pytest.mark.npy
def test_bundled_data_goes_only_to_the_default_folder(tmp_path):
    datamodule = datamodule_for(tmp_path / "mistyped")
    datamodule.prepare_data()
    with pytest.raises(DataError, match="no inputs.npy"):
        datamodule.report  # noqa: B018 (reading the report reads the data)
    assert not (tmp_path / "mistyped").exists()


@pytest.mark.npy
def test_prepare_data_keeps_existing_files(tmp_path):
    write_data(tmp_path / "data", np.zeros((3, 2)), np.arange(3))
    data.{{ cookiecutter.datamodule_class }}().prepare_data()
    assert np.load(tmp_path / "data" / "labels.npy").tolist() == [0, 1, 2]


@pytest.mark.npy
def test_written_files_follow_the_umask(tmp_path):
    data.{{ cookiecutter.datamodule_class }}().prepare_data()
    for name in ("inputs.npy", "labels.npy"):
        assert (tmp_path / "data" / name).stat().st_mode & 0o777 == 0o666 & ~current_umask()


@pytest.mark.npy
def test_statistics_come_from_up_to_1000_training_examples_only(tmp_path):
    """Validation and test examples, and training ones past the first 1,000, change nothing."""
    inputs = np.full((1500, 2), 1e6)
    train, _, _ = data.split_indices(len(inputs), 0.1, 0.2, 0)
    sample = train[: data_report.STATISTICS_SAMPLE]
    inputs[sample] = np.random.default_rng(0).normal(5, 2, (len(sample), 2))
    folder = write_data(tmp_path / "mine", inputs, np.arange(len(inputs)) % 2)
    datamodule = datamodule_for(folder, val_fraction=0.1, test_fraction=0.2, split_seed=0)
    assert len(train) > len(sample)
    assert np.allclose(datamodule.report["input_mean"], inputs[sample].mean(axis=0))
    assert np.allclose(datamodule.report["input_std"], inputs[sample].std(axis=0))


PREPARE_AT_ONCE = """
import sys, time
from pathlib import Path
from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}
Path(sys.argv[1]).touch()
while not Path("go").exists():
    time.sleep(0.01)
datamodule = {{ cookiecutter.datamodule_class }}(num_workers=0)
datamodule.prepare_data()
print(datamodule.report["input_shape"])
"""


def test_processes_starting_at_once_share_the_prepared_data(tmp_path):
    """As under DDP or torchrun: each may write the bundled digits; none reads half a file."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PREPARE_AT_ONCE, f"ready-{rank}"],
            cwd=tmp_path,
            env=importing_the_project(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(3)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < len(processes) and time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            break
        time.sleep(0.05)
    (tmp_path / "go").touch()
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * len(processes), outputs
    assert len({stdout for stdout, _ in outputs}) == 1
    dataset = data.{{ cookiecutter.dataset_class }}(tmp_path / data.DEFAULT_DATA_DIR)
    assert len(dataset) == len(dataset.labels) > 0
    report = datamodule_for(dataset.data_dir).report
    assert tuple(dataset[len(dataset) - 1][0].shape) == report["input_shape"]
    assert not list(tmp_path.rglob("*.tmp"))


LEAVE_WORKERS_RUNNING = """
import multiprocessing
import sys

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}

datamodule = {{ cookiecutter.datamodule_class }}(data_dir=sys.argv[1], num_workers=2)
datamodule.setup("fit")
batches = iter(datamodule.train_dataloader())
next(batches)
print(*[worker.pid for worker in multiprocessing.active_children()])
"""


def test_workers_still_running_at_exit_do_not_keep_python_waiting(data_dir, tmp_path):
    """As after an error that skipped the loader's shutdown: the process exits, quietly."""
    finished = subprocess.run(
        [sys.executable, "-c", LEAVE_WORKERS_RUNNING, str(data_dir)],
        cwd=tmp_path,
        env=importing_the_project(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (finished.returncode, finished.stderr) == (0, ""), finished.stderr
    worker_ids = [int(pid) for pid in finished.stdout.split()]
    assert len(worker_ids) == 2
    for pid in worker_ids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.npy
def test_a_full_disk_while_writing_the_data_leaves_no_inputs_file(tmp_path, monkeypatch):
    # A real file system of 64 KiB: labels.npy fits, inputs.npy does not.
    disk = tmp_path / "disk"
    disk.mkdir()
    mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk))
    try:
        monkeypatch.chdir(disk)
        with pytest.raises(DataError, match="cannot write the data .*is the disk full"):
            data.{{ cookiecutter.datamodule_class }}().prepare_data()
        assert not (disk / "data" / "inputs.npy").exists()
        assert not list(disk.rglob("*.tmp"))
    finally:
        monkeypatch.chdir(tmp_path)
        subprocess.run(["umount", "-l", str(disk)], check=False)
    # With room again, the next run writes it whole.
    datamodule = data.{{ cookiecutter.datamodule_class }}()
    datamodule.prepare_data()
    assert datamodule.report["input_shape"]


def current_umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


@pytest.mark.npy
def test_unwritable_data_dir_is_reported(tmp_path):
    (tmp_path / "data").write_text("a file where the folder should be")
    with pytest.raises(DataError, match="cannot write"):
        data.{{ cookiecutter.datamodule_class }}().prepare_data()
    assert (tmp_path / "data").read_text() == "a file where the folder should be"


BAD_DATA = {
    "negative-labels": (
        np.zeros((4, 3)),
        np.array([0, 1, -1, 2]),
        "labels.npy: labels must be 0 to K-1",
    ),
    # Floats are regression targets, (N, K) integers multi-label; some rows fit no task.
    "nan-target": (
        np.zeros((4, 3)),
        np.array([0.5, np.nan, 1.0, 2.0]),
        "labels.npy: example 1's target is a NaN or infinite",
    ),
    "infinite-targets": (
        np.zeros((4, 3)),
        np.array([[0.5, 1.0], [1.0, 2.0], [1.0, np.inf], [2.0, 0.0]]),
        "labels.npy: example 2's target is a NaN or infinite",
    ),
    "multilabel-not-0-or-1": (
        np.zeros((4, 3)),
        np.array([[0, 1], [2, 0], [1, 1], [0, 0]]),
        "labels.npy: integer labels shaped .N, K. are multi-label and must be 0 or 1; found 2",
    ),
    "rank-3-labels": (
        np.zeros((4, 3)),
        np.zeros((4, 2, 2)),
        "labels.npy: expected integer classes .N,., float targets .N,. or .N, T., or 0/1",
    ),
    "text-labels": (
        np.zeros((4, 3)),
        np.array(["a", "b", "a", "b"]),
        "labels.npy: expected integer classes",
    ),
    "count-mismatch": (
        np.zeros((4, 3)),
        np.arange(3),
        "inputs.npy holds 4 examples but .*labels.npy 3 labels: give one label per example",
    ),
    "single-class": (
        np.zeros((4, 3)),
        np.zeros(4, dtype=np.int64),
        "labels.npy: expected at least 2 classes",
    ),
    "rank-5-inputs": (
        np.zeros((4, 1, 1, 2, 2)),
        np.arange(4),
        "inputs.npy: expected numbers shaped",
    ),
    "text-inputs": (np.array([["a"], ["b"]]), np.arange(2), "inputs.npy: expected numbers shaped"),
    # What would train for hours and teach nothing, caught before a run folder is made.
    "nan-input": (
        np.where(np.arange(60).reshape(20, 3) == 31, np.nan, 1.0) * np.arange(3),
        np.arange(20) % 2,
        "inputs.npy: example 10 holds a NaN or an infinite value",
    ),
    "infinite-input": (
        np.where(np.arange(60).reshape(20, 3) == 5, np.inf, 1.0) * np.arange(3),
        np.arange(20) % 2,
        "inputs.npy: example 1 holds a NaN or an infinite value",
    ),
    "constant-inputs": (np.ones((20, 3)), np.arange(20) % 2, "inputs.npy: every value is 1.0"),
    "channels-last": (
        np.random.default_rng(0).random((20, 16, 16, 3)),
        np.arange(20) % 2,
        "inputs.npy: shaped .20, 16, 16, 3., channels last",
    ),
    "labels-not-numbered-from-0": (
        np.random.default_rng(0).random((20, 3)),
        np.arange(20) * 1000,
        "labels.npy: label 19000 would make 19001 classes for 20 examples",
    ),
    "too-few-to-split": (
        np.random.default_rng(0).random((4, 3)),
        np.array([0, 1, 0, 1]),
        "4 examples are too few to split: none is left for validation",
    ),
}


@pytest.mark.npy
@pytest.mark.parametrize(("inputs", "labels", "message"), BAD_DATA.values(), ids=BAD_DATA)
def test_bad_data_is_one_error_naming_the_file(tmp_path, inputs, labels, message):
    folder = write_data(tmp_path / "bad", inputs, labels)
    datamodule = datamodule_for(folder)
    with pytest.raises(DataError, match=message):
        datamodule.setup("fit")
        datamodule.report  # noqa: B018 (the report checks what the model is built from)


@pytest.mark.npy
@pytest.mark.parametrize("content", [b"", b"this is not numpy"], ids=["empty", "malformed"])
def test_broken_data_file_is_reported_by_name(data_dir, tmp_path, content):
    (tmp_path / "inputs.npy").write_bytes((data_dir / "inputs.npy").read_bytes())
    (tmp_path / "labels.npy").write_bytes(content)
    with pytest.raises(DataError, match="labels.npy"):
        data.{{ cookiecutter.dataset_class }}(tmp_path)
    assert (tmp_path / "labels.npy").read_bytes() == content


@pytest.mark.npy
def test_labels_are_optional_for_prediction(tmp_path):
    folder = write_data(tmp_path / "new", np.zeros((5, 4, 4)))
    dataset = datamodule_for(folder).predict_dataset()
    assert len(dataset) == 5
    (inputs,) = dataset[0]
    assert inputs.shape == (1, 4, 4)
