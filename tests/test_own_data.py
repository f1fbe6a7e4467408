"""A baked project learns data that is not the digits, of each kind, with no code change."""

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_within

OWN_DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "own_data.py"


def load_own_data():
    spec = importlib.util.spec_from_file_location("own_data", OWN_DATA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Fewer examples than the benchmark uses, enough to show learning within the default epochs.
@pytest.mark.parametrize("cli", ["argparse", "lightningcli"])
@pytest.mark.parametrize(("kind", "per_class"), [("rgb", 60), ("gray", 50), ("table", None)])
def test_own_data_trains_to_good_accuracy_with_the_defaults(baked_copy, kind, per_class, cli):
    own_data = load_own_data()
    project = baked_copy(cli=cli)
    inputs, labels = own_data.KINDS[kind](per_class)
    folder = own_data.write(project / "mine", inputs, labels)
    _, accuracy = own_data.train(project, folder, cli=cli)
    assert accuracy >= 0.9, f"{kind} ({cli}): test accuracy {accuracy}"


# What README.md's "Use your own data" says data too large for .npy changes: the Dataset, the
# bundled digits' writer, and the name of the file prepare_data looks for. Here: one .npy file
# per example in examples/, and the labels in labels.txt.
ONE_FILE_PER_EXAMPLE = '''
class {dataset_class}(Dataset):
    """One .npy file per example in data_dir/examples, and the labels in labels.txt."""

    def __init__(self, data_dir: str | Path, require_labels: bool = True):
        self.data_dir = Path(data_dir)
        self.files = sorted((self.data_dir / "examples").glob("*.npy"))
        if not self.files:
            raise DataError(f"data_dir {{data_dir}}: no examples there")
        labels_path = self.data_dir / "labels.txt"
        self.labels = None
        if require_labels or labels_path.exists():
            self.labels = np.loadtxt(labels_path, dtype=np.int64, ndmin=1)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        inputs = torch.from_numpy(np.load(self.files[index]).astype(np.float32))
        if inputs.dim() == 2:
            inputs = inputs.unsqueeze(0)
        if self.labels is None:
            return (inputs,)
        return inputs, int(self.labels[index])
'''
WRITE_DIGITS = """
def write_digits(data_dir: str | Path) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    examples = Path(data_dir) / "examples"
    examples.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(digits.images):
        with atomic_file(examples / f"{index:05d}.npy") as file:
            np.save(file, image.astype(np.uint8))
    with atomic_file(Path(data_dir) / "labels.txt", "w") as file:  # last: INPUTS_FILE
        np.savetxt(file, digits.target, fmt="%d")
"""


def swap_in_one_file_per_example(project, dataset_class="DigitsDataset"):
    (data_py,) = project.glob("*/data.py")
    code = data_py.read_text()
    dataset = re.search(rf"\nclass {dataset_class}\(Dataset\):.*?\n\n\n", code, re.S)
    writer = re.search(r"\ndef write_digits\(.*?\n\n\n", code, re.S)
    assert dataset and writer and code.count('INPUTS_FILE = "inputs.npy"') == 1
    code = code.replace(dataset.group(), ONE_FILE_PER_EXAMPLE.format(**locals()) + "\n\n")
    code = code.replace(writer.group(), WRITE_DIGITS + "\n\n")
    code = code.replace('INPUTS_FILE = "inputs.npy"', 'INPUTS_FILE = "labels.txt"')
    data_py.write_text(code)


def run(project, *command):
    finished = run_within([sys.executable, *command], 900, cwd=project)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return finished.stdout


def run_logged(project, *command):
    """Run a command of the project; return the finished process, its output and its log."""
    finished = run_within([sys.executable, *command], 900, cwd=project)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return finished


def test_data_too_large_for_npy_changes_what_the_readme_says(baked_copy):
    project = baked_copy()
    swap_in_one_file_per_example(project)
    inputs, labels = load_own_data().feature_table()
    mine, new = project / "mine", project / "new"
    for folder, folder_labels in ((mine, labels), (new, None)):
        (folder / "examples").mkdir(parents=True)
        for index, example in enumerate(inputs):
            np.save(folder / "examples" / f"{index:05d}.npy", example)
        if folder_labels is not None:
            np.savetxt(folder / "labels.txt", folder_labels, fmt="%d")
    assert not list(mine.rglob("inputs.npy"))
    run(project, "train.py", "--data_dir", "mine", "--max_epochs", "3", "--num_workers", "0")
    (best,) = project.rglob("best.ckpt")
    labelled = run(project, "predict.py", "--ckpt_path", best, "--data_dir", "mine")
    assert f"Accuracy on {len(labels)} labelled examples" in labelled
    run(project, "predict.py", "--ckpt_path", best, "--data_dir", "new", "--output", "new.csv")
    assert (project / "new.csv").read_text().startswith("index,prediction,confidence\n")
    run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow and not npy")


def regression_table():
    """scikit-learn's bundled diabetes data: 442 patients, 10 features, a disease score."""
    from sklearn.datasets import load_diabetes

    table = load_diabetes()
    return table.data.astype(np.float32), table.target.astype(np.float64)


def multilabel_digits():
    """The digits, with three labels each: even, above 4, and drawn with a closed loop."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    target = digits.target
    loops = np.isin(target, (0, 6, 8, 9))
    labels = np.stack([target % 2 == 0, target > 4, loops], axis=1)
    return digits.images.astype(np.uint8), labels


# (data, the test metric the run prints, the least it must reach, predict.py's CSV header)
TASKS = {
    "regression": (
        regression_table,
        "test_r2",
        0.3,
        ["index", "label", "prediction"],
    ),
    "multilabel": (
        multilabel_digits,
        "test_f1",
        0.9,
        [
            "index",
            *(
                f"{column}_{k}"
                for k in range(3)
                for column in ("label", "prediction", "probability")
            ),
        ],
    ),
}


@pytest.mark.parametrize("cli", ["argparse", "lightningcli"])
@pytest.mark.parametrize("task", TASKS)
def test_each_task_trains_tests_and_predicts_with_the_defaults(baked_copy, cli, task):
    make, metric, floor, header = TASKS[task]
    project = baked_copy(cli=cli)
    # As stored: own_data.write makes every label an integer class.
    folder = project / "mine"
    folder.mkdir()
    inputs, labels = make()
    np.save(folder / "inputs.npy", inputs)
    np.save(folder / "labels.npy", labels)
    fit = (
        ["--data_dir", str(folder)]
        if cli == "argparse"
        else ["fit", "--data.data_dir", str(folder)]
    )
    trained = run_logged(project, "train.py", *fit)
    assert f"Task from {folder}: {task}" in trained.stderr, trained.stderr[-3000:]
    if cli == "lightningcli":
        test = ["test", "--data.data_dir", str(folder), "--ckpt_path", "best"]
        trained = run_logged(project, "train.py", *test)
    score = float(re.search(rf"{metric}\W+(-?[0-9.]+)", trained.stdout).group(1))
    assert score >= floor, f"{task} ({cli}): {metric} {score}"
    (best,) = (project / "outputs").rglob("best.ckpt")
    output = project / "predictions.csv"
    run(
        project,
        "predict.py",
        "--ckpt_path",
        str(best),
        "--data_dir",
        str(folder),
        "--output",
        str(output),
    )
    assert output.read_text().splitlines()[0].split(",") == header
