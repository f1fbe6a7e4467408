"""Train a baked project on three kinds of data that are not the digits, and print the figures.

    python benchmarks/own_data.py PROJECT_DIR [--per_class N]

Each data set is written in the project's format (inputs.npy, labels.npy) from data that
scikit-learn ships, so nothing is downloaded:
- rgb: 3x32x32 uint8 colour images in 5 classes (the digits 0 to 4, enlarged and tinted);
- gray: 64x64 float grayscale images from 0 to 1 in 4 classes (the digits 0 to 3, enlarged);
- table: 30 measured features of 569 breast tumours in 2 classes.
`python train.py --data_dir DIR` then trains each with the project's defaults.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def digits_of(classes, per_class):
    """The first `per_class` digits of each of `classes`, as 8x8 images from 0 to 16."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = np.concatenate([np.flatnonzero(digits.target == c)[:per_class] for c in classes])
    return digits.images[keep], digits.target[keep]


def rgb_images(per_class=180):
    """Digits 0 to 4 enlarged to 32x32, each in a random colour, as uint8 (N, 3, 32, 32)."""
    images, labels = digits_of(range(5), per_class)
    large = np.kron(images, np.ones((4, 4))) / 16.0
    tint = np.random.default_rng(0).uniform(0.3, 1.0, (len(images), 3, 1, 1))
    return (large[:, None] * tint * 255).astype(np.uint8), labels


def gray_images(per_class=180):
    """Digits 0 to 3 enlarged to 64x64, as float32 from 0 to 1, (N, 64, 64)."""
    images, labels = digits_of(range(4), per_class)
    return (np.kron(images, np.ones((8, 8))) / 16.0).astype(np.float32), labels


def feature_table(per_class=None):
    """scikit-learn's breast cancer measurements: (569, 30) floats in their own units."""
    from sklearn.datasets import load_breast_cancer

    table = load_breast_cancer()
    return table.data, table.target


KINDS = {"rgb": rgb_images, "gray": gray_images, "table": feature_table}


def write(folder, inputs, labels):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "inputs.npy", inputs)
    np.save(folder / "labels.npy", labels.astype(np.int64))
    return folder


def train(project, data_dir, *flags, cli="argparse"):
    """Run train.py on `data_dir`; return its wall time and test accuracy.

    The LightningCLI variant trains with `fit`, then tests the best checkpoint with `test`.
    """
    if cli == "argparse":
        commands = [["--data_dir", str(data_dir), *flags]]
    else:
        data = ["--data.data_dir", str(data_dir)]
        commands = [["fit", *data, *flags], ["test", *data, "--ckpt_path", "best"]]
    start = time.perf_counter()
    for arguments in commands:
        finished = subprocess.run(
            [sys.executable, "train.py", *arguments], cwd=project, capture_output=True, text=True
        )
        if finished.returncode != 0:
            raise SystemExit(f"train.py failed on {data_dir}:\n{finished.stderr[-2000:]}")
    seconds = time.perf_counter() - start
    accuracy = float(re.search(r"test_acc\W+([0-9.]+)", finished.stdout).group(1))
    return seconds, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("project", type=Path, help="a baked project folder")
    parser.add_argument("--per_class", type=int, default=180, help="images per class")
    args = parser.parse_args()
    print("kind   examples  shape           classes  test_acc  wall s  (train.py defaults)")
    for kind, make in KINDS.items():
        inputs, labels = make(args.per_class)
        folder = write(args.project / "own_data" / kind, inputs, labels)
        seconds, accuracy = train(args.project, folder)
        shape = "x".join(map(str, inputs.shape[1:]))
        print(
            f"{kind:6s} {len(labels):8d}  {shape:14s}  {labels.max() + 1:7d}  {accuracy:8.4f}"
            f"  {seconds:6.1f}"
        )


if __name__ == "__main__":
    main()
