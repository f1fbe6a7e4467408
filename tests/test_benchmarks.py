"""The benchmark's measuring script runs every loop on a baked project and reports each turn."""

import json
import re
import subprocess
import sys
from pathlib import Path

MEASURE = Path(__file__).resolve().parents[1] / "benchmarks" / "measure.py"


def test_measure_times_each_loop_on_each_data_folder(bake):
    project = bake()
    # Each folder is filled with the digits on first use, as a user's first run fills data/.
    command = [sys.executable, str(MEASURE), str(project), "full", "bare", "plain"]
    command += ["--data_dir", "data", "more_data", "--rounds", "1", "--epochs", "2"]
    finished = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    figures = json.loads(re.search(r"FIGURES (\{.*\})", finished.stdout).group(1))

    names = {
        f"{loop}@{folder}" for loop in ("full", "bare", "plain") for folder in ("data", "more_data")
    }
    assert set(figures["steady_epochs"]) == names
    # Two epochs per turn, the first left out as warm-up.
    assert all(
        len(seconds) == 1 and seconds[0] > 0 for seconds in figures["steady_epochs"].values()
    )
    ratios = figures["round_ratios_to_first"]
    assert ratios["full@data"] == [1.0]
    assert all(len(r) == 1 and r[0] > 0 for r in ratios.values())
    assert figures["peak_rss_mib"] > 0
    # Each full turn wrote what train.py writes: a run folder of its own with both checkpoints.
    outputs = project / "bench_outputs"
    checkpoints = sorted(path.relative_to(outputs).as_posix() for path in outputs.rglob("*.ckpt"))
    assert checkpoints == [
        f"version_{n}/checkpoints/{name}.ckpt" for n in (0, 1) for name in ("best", "last")
    ]
