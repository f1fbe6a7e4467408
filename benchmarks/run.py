"""Measure the default generated project and print the figures; no pass or fail.

    .venv/bin/python benchmarks/run.py [--rounds N] [--diagnostic] [--suite]

Headline, as users run `python train.py`: whole processes, output to a pipe (processes.py).
1. Epoch time of the full train.py against a bare Trainer and a plain PyTorch loop over
   the same model, data and optimizer. Goals: bare/full >= 0.90 (1a), plain/full >= 0.80 (1b).
2. Start-up: `python train.py` from launch against `import pytorch_lightning`.
   Goal: at most 1.5x, reaching test accuracy >= 0.98.
With --diagnostic:
3. Loop overhead in one process (measure.py): the loops take turns epoch by epoch in
   threads, the progress bar drawing as in a terminal; epochs run one after the other
   are paired, which cancels slower spells but not what differs between processes.
4. Cost as data grows: 20x the rows (synthetic, jittered copies of the digits): peak
   memory and epoch time against 1x.
With --suite:
5. Wall time of the generated project's tests and of the template's suite.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import processes

TEMPLATE = Path(__file__).resolve().parents[1]
MEASURE = Path(__file__).resolve().parent / "measure.py"
PYTHON = sys.executable


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    processes.add_options(parser)
    parser.add_argument("--diagnostic", action="store_true", help="also parts 3 and 4 (minutes)")
    parser.add_argument("--processes", type=int, default=3, help="processes that run part 3")
    parser.add_argument("--paired_rounds", type=int, default=4, help="rounds per process, part 3")
    parser.add_argument("--suite", action="store_true", help="also time the test suites (minutes)")
    return parser.parse_args()


def bake(workdir):
    subprocess.run(
        [PYTHON, "-m", "cookiecutter", "--no-input", str(TEMPLATE), "--output-dir", str(workdir)],
        check=True,
        capture_output=True,
    )
    return workdir / "digits-classifier"


def timed(command, cwd, env=None):
    start = time.perf_counter()
    finished = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{finished.stderr[-2000:]}")
    return seconds, finished.stdout + finished.stderr


def measure(project, loops, data_dirs, rounds=1, epochs=4, num_workers=0):
    """Run measure.py in a fresh process and return the figures it prints."""
    command = [PYTHON, str(MEASURE), str(project), *loops, "--data_dir", *map(str, data_dirs)]
    command += ["--rounds", str(rounds), "--epochs", str(epochs), "--num_workers", str(num_workers)]
    _, output = timed(command, cwd=project, env=AS_IN_A_TERMINAL)
    # The progress bar's control codes may share the line, so look for the JSON itself.
    return json.loads(re.search(r"FIGURES (\{.*\})", output).group(1))


# Output is captured, but the progress bar draws as in a 100-column terminal, so its cost is
# measured: tqdm always draws; Rich, if a user swaps it in, draws only when told to.
AS_IN_A_TERMINAL = {**os.environ, "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "100"}


def loop_overhead(project, count, rounds, epochs=10):
    """Several processes, so that the figure does not rest on the state of any single one."""
    loops = ["full", "bare", "plain"]
    data = [project / "data"]
    runs = [measure(project, loops, data, rounds, epochs) for _ in range(count)]
    seconds = {loop: [s for run in runs for s in run["steady_epochs"][loop]] for loop in loops}
    median = {loop: statistics.median(values) for loop, values in seconds.items()}
    fastest = {loop: min(values) for loop, values in seconds.items()}
    print(f"\n3. Diagnostic, loops in one process: s/epoch (train + validation); {count}")
    print(f"   processes of {rounds} rounds; in a round the loops train {epochs} epochs each,")
    print("   taking turns epoch by epoch; the first epoch is left out; the bar draws as in a")
    print("   terminal")
    print("   loop   median   fastest")
    for loop in loops:
        print(f"   {loop:5s}  {median[loop]:.4f}   {fastest[loop]:.4f}")
    print("   ratio to full: paired = median of the ratios of epochs run one after the other")
    print("   (all processes, then each); pooled = of the medians; fastest = of the fastest")
    for name, goal in (("bare", "goal >= 0.90"), ("plain", "goal >= 0.80")):
        paired = statistics.median(r for run in runs for r in run["epoch_ratios_to_first"][name])
        each = ", ".join(
            f"{statistics.median(run['epoch_ratios_to_first'][name]):.3f}" for run in runs
        )
        print(
            f"   {name} / full = {paired:.3f} paired ({each}), "
            f"{median[name] / median['full']:.3f} pooled, {fastest[name] / fastest['full']:.3f}"
            f" fastest  ({goal})"
        )


def write_enlarged_data(source, target, factor):
    """factor x the rows: the digits and jittered copies, as the same two .npy files."""
    images = np.load(source / "inputs.npy")
    labels = np.load(source / "labels.npy")
    rng = np.random.default_rng(0)
    copies = [images] + [
        np.clip(images.astype(np.int16) + rng.integers(-2, 3, images.shape), 0, 16).astype(np.uint8)
        for _ in range(factor - 1)
    ]
    target.mkdir(parents=True, exist_ok=True)
    np.save(target / "inputs.npy", np.concatenate(copies))
    np.save(target / "labels.npy", np.tile(labels, factor))
    return len(labels) * factor


def data_growth(project, workdir, rounds=3):
    small, big = project / "data", workdir / "data_x20"
    rows = write_enlarged_data(small, big, 20)
    print(f"\n4. Cost as data grows: 1x (1,797 rows) against 20x ({rows:,} rows), full loop")
    print(f"   epoch time: {rounds} rounds in one process, each training on 1x and on 20x for 3")
    print("   epochs, taking turns epoch by epoch; growth = median of the 20x / 1x ratios of")
    print("   epochs run one after the other, the first epochs left out")
    print("   peak memory: a process of its own for each size, 2 epochs")
    print("   data  workers  epoch s  peak RSS MiB (main / largest worker)")
    for num_workers in (0, 2):
        both = measure(project, ["full"], [small, big], rounds, epochs=3, num_workers=num_workers)
        growth = statistics.median(both["epoch_ratios_to_first"]["full@data_x20"])
        peak = {}
        for label, data, name in (("1x", small, "full@data"), ("20x", big, "full@data_x20")):
            peak[label] = measure(project, ["full"], [data], epochs=2, num_workers=num_workers)
            print(
                f"   {label:4s}  {num_workers:7d}  {both['steady_epoch_seconds'][name]:7.3f}  "
                f"{peak[label]['peak_rss_mib']:.0f} / {peak[label]['peak_worker_rss_mib']:.0f}"
            )
        memory = peak["20x"]["peak_rss_mib"] - peak["1x"]["peak_rss_mib"]
        print(
            f"   workers={num_workers}: epoch time x{growth:.1f} for x20 data (paired);"
            f" peak memory {memory:+.0f} MiB"
        )


def suites(project):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    seconds, _ = timed([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, env)
    print("\n5. Test suites")
    print(f"   generated project, all tests        {seconds:.1f} s")
    seconds, _ = timed(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow"], project, env
    )
    print(f"   generated project, -m 'not slow'    {seconds:.1f} s")
    seconds, _ = timed(
        [PYTHON, "-m", "pytest", "-q", "-n", "auto", "-p", "no:cacheprovider"], TEMPLATE, env
    )
    print(f"   template suite, -n auto ({os.cpu_count()} cores)  {seconds:.1f} s")


def main():
    args = parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        project = bake(workdir)
        first_seconds, _ = timed([PYTHON, "train.py", "--fast_dev_run", "1"], project)
        print(f"(first run wrote the data: fast_dev_run took {first_seconds:.2f} s)")
        figures = processes.headline(project, args)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1))
        if args.diagnostic:
            loop_overhead(project, args.processes, args.paired_rounds)
            data_growth(project, workdir)
        if args.suite:
            suites(project)


if __name__ == "__main__":
    main()
