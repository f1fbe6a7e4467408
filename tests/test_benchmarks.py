"""The benchmark's measuring script runs every loop on a baked project and reports each turn."""

import importlib.util
import json
import re
import subprocess
import sys
import threading
import time
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
    ratios = figures["epoch_ratios_to_first"]
    assert ratios["full@data"] == [1.0]
    assert all(len(r) == 1 and r[0] > 0 for r in ratios.values())
    assert figures["peak_rss_mib"] > 0
    # Each full turn wrote what train.py writes: a run folder of its own with both checkpoints.
    outputs = project / "bench_outputs"
    checkpoints = sorted(path.relative_to(outputs).as_posix() for path in outputs.rglob("*.ckpt"))
    assert checkpoints == [
        f"version_{n}/checkpoints/{name}.ckpt" for n in (0, 1) for name in ("best", "last")
    ]


def load_measure():
    spec = importlib.util.spec_from_file_location("measure", MEASURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_turns_run_one_epoch_at_a_time_in_order():
    measure = load_measure()
    epochs = {"a": 3, "b": 3, "c": 1}
    baton = measure.Baton(list(epochs))
    timed = {name: measure.Turn(baton, name) for name in epochs}
    events = []

    def loop(name):
        baton.wait_for_turn(name)
        for epoch in range(epochs[name]):
            timed[name].epoch_starts()
            events.append(("start", name, epoch))
            time.sleep(0.002)  # long enough for another thread to run, if one could
            events.append(("end", name, epoch))
        timed[name].epoch_ends()
        baton.hand_over(name, finished=True)

    # Daemon threads: if turns ever deadlock, the assertions fail instead of pytest hanging.
    threads = [threading.Thread(target=loop, args=(name,), daemon=True) for name in epochs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    order = [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert events == [(edge, *epoch) for epoch in order for edge in ("start", "end")]
    assert [len(timed[name].epoch_seconds) for name in epochs] == [3, 3, 1]
    assert all(seconds >= 0.002 for turn in timed.values() for seconds in turn.epoch_seconds)
