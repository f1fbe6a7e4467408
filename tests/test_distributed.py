"""Two processes on the CPU, with Lightning's own DDP: launched by Lightning and by torchrun.

Rank zero alone writes: one run folder, one set of checkpoints, each line printed once.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

DDP_FLAGS = ["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--max_epochs", "2"]
# A few batches a rank: what is checked is who writes and prints, not what is learnt.
DDP_FLAGS += ["--limit_train_batches", "3", "--limit_val_batches", "2", "--limit_test_batches", "2"]
LAUNCHERS = {
    "lightning": [sys.executable, "train.py"],
    "torchrun": [
        str(Path(sys.executable).parent / "torchrun"),
        "--nproc_per_node",
        "2",
        "train.py",
    ],
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_two_process_ddp_trains_validates_and_tests_once(baked_copy, launcher):
    project = baked_copy()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    finished = subprocess.run(
        [*LAUNCHERS[launcher], *DDP_FLAGS],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "All distributed processes registered. Starting with 2 processes" in finished.stderr
    lines = (finished.stdout + finished.stderr).splitlines()
    for once in (" test_acc ", "Best checkpoint:", "Learning curves:", "Loaded model weights"):
        assert sum(once in line for line in lines) == 1, once
    assert "DistributedSampler" not in finished.stderr  # test examples counted exactly once
    (run_dir,) = (project / "outputs").iterdir()
    assert sorted(path.name for path in (run_dir / "checkpoints").iterdir()) == [
        "best.ckpt",
        "last.ckpt",
    ]
