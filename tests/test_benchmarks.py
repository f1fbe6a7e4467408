"""The benchmark's measuring script runs every loop on a baked project and reports each turn."""

import importlib.util
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import run_within

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
MEASURE = BENCHMARKS / "measure.py"
PROCESSES = BENCHMARKS / "processes.py"
SERVE = BENCHMARKS / "serve.py"


def test_measure_times_each_loop_on_each_data_folder(baked_copy):
    project = baked_copy()
    # A folder the user names is only read, so the second one is written here first.
    write = "from digits_classifier.data import write_digits; write_digits('more_data')"
    subprocess.run([sys.executable, "-c", write], cwd=project, check=True)
    command = [sys.executable, str(MEASURE), str(project), "full", "bare", "plain"]
    command += ["--data_dir", "data", "more_data", "--rounds", "1", "--epochs", "2"]
    finished = run_within(command, 600, cwd=project)
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


def test_processes_time_each_loop_in_processes_of_its_own(baked_copy, tmp_path):
    project = baked_copy()
    report = tmp_path / "figures.json"
    command = [sys.executable, str(PROCESSES), str(project), "--rounds", "1", "--epochs", "2"]
    command += ["--warmup", "1", "--startup_rounds", "1", "--json", str(report)]
    finished = run_within(command, 900)
    assert finished.returncode == 0, finished.stderr[-3000:]
    figures = json.loads(report.read_text())

    loops = ("full", "bare", "plain")
    for name in loops:
        (one_round,) = figures["rounds"][name]
        # Two epochs stamped, the first left out as warm-up.
        assert one_round["epochs"] == 1
        assert 0 < one_round["epoch_wall"] < one_round["process_wall"]
        assert one_round["epoch_cpu"] > 0
        for key in ("epoch_wall", "epoch_cpu"):
            spread = figures["epochs"]["loops"][name][key]
            assert spread["min"] == spread["median"] == spread["max"] == one_round[key]
    assert set(figures["epochs"]["ratios"]) == set(figures["epochs"]["cpu_ratios"])
    assert set(figures["epochs"]["ratios"]) == {"bare", "plain"}
    for ratio in [*figures["epochs"]["ratios"].values(), *figures["epochs"]["cpu_ratios"].values()]:
        assert len(ratio["per_round"]) == 1 and ratio["median"] > 0 and ratio["of_medians"] > 0
    startup = figures["startup"]
    # Each process timed: one timing is never asserted against another (both vary with load).
    assert startup["train"]["wall"]["median"] > 0 and startup["import"]["wall"]["median"] > 0
    assert len(startup["ratio"]["per_round"]) == 1
    assert startup["test_acc"][0] > 0.5
    # The full loop was train.py itself, run to the end: it wrote both of its checkpoints.
    assert {path.name for path in project.rglob("*.ckpt")} == {"best.ckpt", "last.ckpt"}
    for goal in ("goal 1a >= 0.90", "goal 1b >= 0.80", "goal 2 <= 1.5"):
        assert goal in finished.stdout


def test_serve_benchmark_reports_every_setting(baked_copy, tmp_path):
    project = baked_copy()
    report = tmp_path / "figures.json"
    command = [sys.executable, str(SERVE), str(project), "--seconds", "0.3", "--warmup", "0.1"]
    command += ["--clients", "1", "3", "--batch_sizes", "1", "5", "--epochs", "1"]
    finished = run_within([*command, "--json", str(report)], 900)
    assert finished.returncode == 0, finished.stderr[-3000:]
    figures = json.loads(report.read_text())

    assert set(figures["serving"]) == {"batching off", "batching on"}
    for mode in figures["serving"].values():
        assert set(mode["clients"]) == {"1", "3"}
        assert mode["exit_status"] == 143  # serve.py's status after SIGTERM
        assert mode["idle_cpu"] >= 0
        for row in mode["clients"].values():
            assert row["requests"] > 0 and row["errors"] == 0
            assert row["requests_per_second"] > 0
            assert row["p99_ms"] >= row["p50_ms"] > 0
    assert set(figures["onnx"]) == {"1", "5"}
    for row in figures["onnx"].values():
        assert row["ratio"] == row["onnxruntime_ms"] / row["torch_ms"]
    assert "requests/s" in finished.stdout
    assert "onnxruntime / PyTorch" in finished.stdout


def test_latency_percentiles_take_the_nearest_rank():
    serve = load_module(SERVE)
    latencies = [number / 1000 for number in range(1, 101)]  # 1 ms to 100 ms
    summary = serve.summarize(latencies, errors=[404], seconds=4.0)
    assert summary == pytest.approx(
        {"requests": 100, "errors": 1, "requests_per_second": 25.0, "p50_ms": 50, "p99_ms": 99}
    )


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_epochs_span_from_one_start_to_the_next_and_rounds_rotate():
    processes = load_module(PROCESSES)
    stamps = {"epoch_starts": [[0.0, 0.0], [3.0, 1.0], [4.0, 1.5]], "train_end": [6.0, 2.5]}
    assert processes.epoch_times(stamps, warmup=1) == ([1.0, 2.0], [0.5, 1.0])
    orders = [processes.rotated(["full", "bare", "plain"], n) for n in range(4)]
    assert orders == [
        ["full", "bare", "plain"],
        ["bare", "plain", "full"],
        ["plain", "full", "bare"],
        ["full", "bare", "plain"],
    ]


def test_ratios_are_taken_round_by_round():
    processes = load_module(PROCESSES)
    results = {
        "full": [{"epoch_wall": 2.0, "epoch_cpu": 1.0}, {"epoch_wall": 4.0, "epoch_cpu": 2.0}],
        "bare": [{"epoch_wall": 1.0, "epoch_cpu": 1.0}, {"epoch_wall": 3.0, "epoch_cpu": 2.0}],
    }
    summary = processes.summarize_loops(results)
    assert summary["loops"]["full"]["epoch_wall"] == {"median": 3.0, "min": 2.0, "max": 4.0}
    ratio = summary["ratios"]["bare"]
    assert ratio["per_round"] == [0.5, 0.75]
    assert ratio["median"] == 0.625
    assert ratio["of_medians"] == 2.0 / 3.0
    assert summary["cpu_ratios"]["bare"]["per_round"] == [1.0, 1.0]


def test_turns_run_one_epoch_at_a_time_in_order():
    measure = load_module(MEASURE)
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
