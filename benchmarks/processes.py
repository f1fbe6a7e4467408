"""Time whole processes, as users run them: `python train.py`, output to a pipe.

    python benchmarks/processes.py PROJECT_DIR [--rounds 9] [--epochs 12] [--json FILE]

1. Epoch time. Each round launches one fresh process per loop, the order rotated from
   round to round (full, bare, plain / bare, plain, full / ...), stdout and stderr to a
   pipe. Inside each process every epoch start is stamped (stamp.py, loops.py); an epoch
   is the whole cycle from one start to the next: training, validation, checkpoints,
   logging. A process's figure is its median epoch after the warm-up epochs.
     full:  the project's own train.py, unmodified, with --patience high enough that
            early stopping never ends it sooner
     bare:  the same model and data module in a Trainer with no logger, checkpoints,
            progress bar, model summary or sanity check; deterministic=True as in
            train.py, so both run the same numerics (loops.py)
     plain: a hand-written PyTorch loop over the same classes, same optimizer and
            schedule, deterministic algorithms too (loops.py)
2. Start-up and time to accuracy: `python train.py` with its defaults against
   `python -c "import pytorch_lightning"`, interleaved, the order alternating.

Each loop's figure is the median over rounds, with the spread (fastest to slowest round)
beside it; ratios are the median of each round's ratio, so a slow spell of a shared
machine that lasts a round cancels out.
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
GOALS = {
    "bare": ("1a", 0.90, 0.97),  # bare / full, at least
    "plain": ("1b", 0.80, 0.90),  # plain / full, at least
    "startup": ("2", 1.5, 1.3),  # train.py / import, at most
}


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("project", type=Path, help="a baked project, its data already written")
    add_options(parser)
    return parser.parse_args()


def add_options(parser):
    """The options of this measurement, shared with run.py."""
    # A round's ratio moves by about 0.05 either way. Over six runs of the same code each,
    # 1a moved from 0.868 to 0.941 with 5 rounds, from 0.893 to 0.930 with 9 (FINDINGS.md 11).
    parser.add_argument("--rounds", type=int, default=9, help="processes per loop (default 9)")
    parser.add_argument("--epochs", type=int, default=12, help="epochs per process (default 12)")
    parser.add_argument("--warmup", type=int, default=2, help="first epochs left out (default 2)")
    parser.add_argument("--startup_rounds", type=int, default=5, help="runs of each, part 2")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")


@dataclass
class Loop:
    """A named command that trains and writes its epoch stamps to $BENCH_STAMPS."""

    name: str
    command: list
    env: dict = field(default_factory=dict)


def standard_loops(epochs):
    """full (train.py itself), bare and plain, each training `epochs` epochs."""
    full = [PYTHON, str(HERE / "stamp.py"), "train.py", "--max_epochs", str(epochs)]
    # Early stopping must not end a process before its last epoch.
    full += ["--patience", str(10 * epochs + 100)]
    loops = [Loop("full", full)]
    for name in ("bare", "plain"):
        loops.append(
            Loop(name, [PYTHON, str(HERE / "loops.py"), name, ".", "--epochs", str(epochs)])
        )
    return loops


def run(command, cwd, env=None):
    """Run a command with its output to pipes; return wall seconds, CPU seconds and output.

    CPU time counts the process and every child it waited for (DataLoader workers).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    finished = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if finished.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{finished.stderr[-3000:]}")
    return wall, cpu, finished.stdout + finished.stderr


def epoch_times(stamps, warmup):
    """Wall and CPU seconds of each epoch after the warm-up, from one process's stamps."""
    edges = [*stamps["epoch_starts"], stamps["train_end"]]
    epochs = [(end[0] - start[0], end[1] - start[1]) for start, end in pairwise(edges)]
    steady = epochs[warmup:]
    if not steady:
        raise SystemExit(f"{len(epochs)} epochs stamped, all of them warm-up")
    return [wall for wall, _ in steady], [cpu for _, cpu in steady]


def run_loop(loop, project, warmup):
    """One fresh process of `loop`: its median steady epoch, wall and CPU, in seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stamps.json"
        wall, cpu, _ = run(loop.command, project, {**loop.env, "BENCH_STAMPS": str(path)})
        stamps = json.loads(path.read_text())
    walls, cpus = epoch_times(stamps, warmup)
    return {
        "epoch_wall": statistics.median(walls),
        "epoch_cpu": statistics.median(cpus),
        "epochs": len(walls),
        "process_wall": wall,
        "process_cpu": cpu,
    }


def rotated(items, number):
    """The items in round `number`: the same cycle, starting one further along each time."""
    first = number % len(items)
    return items[first:] + items[:first]


def measure_loops(project, loops, rounds, warmup):
    """Every loop once per round, in rotated order; {loop name: [per-round figures]}."""
    results = {loop.name: [] for loop in loops}
    for number in range(rounds):
        for loop in rotated(loops, number):
            results[loop.name].append(run_loop(loop, project, warmup))
    return results


def spread(values):
    """The median and the range of some per-round values."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize_loops(results, baseline="full"):
    """Per loop, the spread of its per-round figures; per loop but the baseline, its ratios.

    "ratios" compare wall time, the goal's measure; "cpu_ratios" compare CPU time, which a
    busy machine disturbs far less, as a check on them.
    """
    summary = {"loops": {}, "ratios": {}, "cpu_ratios": {}}
    for name, rounds in results.items():
        summary["loops"][name] = {
            key: spread([r[key] for r in rounds]) for key in ("epoch_wall", "epoch_cpu")
        }
    for name in results:
        if name != baseline:
            summary["ratios"][name] = ratios(results, summary, name, baseline, "epoch_wall")
            summary["cpu_ratios"][name] = ratios(results, summary, name, baseline, "epoch_cpu")
    return summary


def ratios(results, summary, name, baseline, key):
    """One loop's figure over the baseline's: round by round, and of the medians."""
    pairs = zip(results[name], results[baseline], strict=True)
    per_round = [mine[key] / theirs[key] for mine, theirs in pairs]
    medians = summary["loops"]
    return {
        **spread(per_round),
        "per_round": per_round,
        "of_medians": medians[name][key]["median"] / medians[baseline][key]["median"],
    }


def test_accuracy(output):
    """The test accuracy in train.py's results table, or None if it printed none."""
    match = re.search(r"test_acc\W+([0-9.]+)", output)
    return float(match.group(1)) if match else None


def measure_startup(project, rounds):
    """Wall and CPU seconds of `import pytorch_lightning` and of a default train.py run."""
    commands = {
        "import": [PYTHON, "-c", "import pytorch_lightning"],
        "train": [PYTHON, "train.py"],
    }
    runs = {name: [] for name in commands}
    accuracies = []
    for number in range(rounds):
        for name in rotated(list(commands), number):
            wall, cpu, output = run(commands[name], project)
            runs[name].append({"wall": wall, "cpu": cpu})
            if name == "train":
                accuracies.append(test_accuracy(output))
    ratios = [t["wall"] / i["wall"] for t, i in zip(runs["train"], runs["import"], strict=True)]
    return {
        name: {key: spread([r[key] for r in values]) for key in ("wall", "cpu")}
        for name, values in runs.items()
    } | {"ratio": {**spread(ratios), "per_round": ratios}, "test_acc": accuracies}


def print_loops(summary, rounds, epochs, warmup):
    print(f"\n1. Epoch time, whole processes, output to a pipe: {rounds} rounds, one process")
    print(f"   per loop each, order rotated; {epochs} epochs each, the first {warmup} left out")
    print("   loop   epoch ms: median (spread over rounds)   CPU ms/epoch (main process)")
    for name, figures in summary["loops"].items():
        wall, cpu = figures["epoch_wall"], figures["epoch_cpu"]
        print(f"   {name:6s} {ms(wall['median'])} ({ms(wall['min'])}-{ms(wall['max'])})", end="")
        print(f"{'':16s}{ms(cpu['median'])} ({ms(cpu['min'])}-{ms(cpu['max'])})")
    print("   ratio to full: median of the rounds' ratios (spread), and of the medians")
    for name, ratio in summary["ratios"].items():
        label, goal, stretch = GOALS.get(name, ("", None, None))
        wanted = f"goal {label} >= {goal:.2f}, stretch {stretch:.2f}" if goal else ""
        print(
            f"   {name} / full = {ratio['median']:.3f} ({ratio['min']:.3f}-{ratio['max']:.3f}),"
            f" {ratio['of_medians']:.3f} of medians   {wanted}"
        )
    print("   by CPU time per epoch, a check that a busy machine disturbs less:")
    for name, ratio in summary["cpu_ratios"].items():
        print(f"   {name} / full = {ratio['median']:.3f} ({ratio['min']:.3f}-{ratio['max']:.3f})")


def print_startup(startup, rounds):
    label, goal, stretch = GOALS["startup"]
    print(f"\n2. Start-up: {rounds} runs of each, interleaved; data already written")
    print(f"   {'command':36s} wall s: median (spread)   CPU s (with children)")
    names = {"import": 'python -c "import pytorch_lightning"', "train": "python train.py"}
    for name, text in names.items():
        wall, cpu = startup[name]["wall"], startup[name]["cpu"]
        print(f"   {text:36s} {wall['median']:6.2f} ({wall['min']:.2f}-{wall['max']:.2f})", end="")
        print(f"{'':10s}{cpu['median']:6.2f}")
    ratio = startup["ratio"]
    print(
        f"   train / import = {ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})"
        f"   goal {label} <= {goal}, stretch {stretch}"
    )
    accuracies = ", ".join("none" if a is None else f"{a:.4f}" for a in startup["test_acc"])
    print(f"   test accuracy: {accuracies}   (goal >= 0.98)")


def ms(seconds):
    return f"{1000 * seconds:6.1f}"


def headline(project, args):
    """Parts 1 and 2, printed; returns every figure as a dict."""
    loops = standard_loops(args.epochs)
    results = measure_loops(project, loops, args.rounds, args.warmup)
    summary = summarize_loops(results)
    print_loops(summary, args.rounds, args.epochs, args.warmup)
    startup = measure_startup(project, args.startup_rounds)
    print_startup(startup, args.startup_rounds)
    return {"epochs": summary, "rounds": results, "startup": startup}


def write_data(project):
    """A first, one-batch run writes the data, as a user's first run does, and warms caches."""
    run([PYTHON, "train.py", "--fast_dev_run", "1"], project)


def main():
    args = parse_args()
    project = args.project.resolve()
    write_data(project)
    figures = headline(project, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
