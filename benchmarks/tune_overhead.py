"""What tune.py costs per trial over a plain train.py run, and how many epochs pruning saves.

Bakes the default project, then:
- runs `train.py` and a one-trial `tune.py` with the same epochs as whole processes, output
  to a pipe, interleaved round by round (which goes first alternates), and prints the median
  wall times and the overhead (train.py also tests the best checkpoint; a trial does not);
- runs one seeded study of `--trials` trials of the default search space and counts the
  epochs its trials trained against `--trials` x `--prune_epochs` without pruning.

    python benchmarks/tune_overhead.py [--rounds 3] [--epochs 3] [--trials 12] [--prune_epochs 10]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved pairs of runs")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each timed run")
    parser.add_argument("--trials", type=int, default=12, help="trials of the pruning study")
    parser.add_argument("--prune_epochs", type=int, default=10, help="max epochs per trial")
    return parser.parse_args()


def bake(folder: Path) -> Path:
    from cookiecutter.main import cookiecutter

    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(folder)))
    prepare = (
        "from digits_classifier.data import DigitsDataModule; DigitsDataModule().prepare_data()"
    )
    subprocess.run([sys.executable, "-c", prepare], cwd=project, check=True)
    return project


def timed(project: Path, command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *command],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=True,
    )
    return time.perf_counter() - start


def overhead(project: Path, rounds: int, epochs: int) -> None:
    common = ["--max_epochs", str(epochs), "--num_workers", "0", "--enable_progress_bar", "false"]
    times = {"train.py": [], "tune.py": []}
    for round_number in range(rounds):
        root = f"bench/round{round_number}"
        commands = {
            "train.py": ["train.py", *common, "--default_root_dir", root],
            "tune.py": [
                "tune.py",
                *common,
                "--default_root_dir",
                root,
                "--n_trials",
                "1",
                "--study_name",
                f"r{round_number}",
            ],
        }
        order = list(commands) if round_number % 2 == 0 else list(commands)[::-1]
        for name in order:
            times[name].append(timed(project, commands[name]))
    train, tune = (statistics.median(times[name]) for name in ("train.py", "tune.py"))
    print(f"{rounds} interleaved rounds of {epochs} epochs, whole processes, output to a pipe:")
    print(
        f"  train.py (fit + test): median {train:.2f} s  {[round(t, 2) for t in times['train.py']]}"
    )
    print(
        f"  tune.py (1 trial):     median {tune:.2f} s  {[round(t, 2) for t in times['tune.py']]}"
    )
    print(f"  per-trial overhead of tune.py: {100 * (tune - train) / train:+.1f}%")


def pruning(project: Path, trials: int, epochs: int) -> None:
    import optuna

    command = [
        "tune.py",
        "--n_trials",
        str(trials),
        "--max_epochs",
        str(epochs),
        "--seed",
        "0",
        "--num_workers",
        "0",
        "--enable_progress_bar",
        "false",
        "--default_root_dir",
        "prune",
        "--study_name",
        "pruning",
    ]
    seconds = timed(project, command)
    study = optuna.load_study(
        study_name="pruning", storage=f"sqlite:///{project / 'prune' / 'optuna.db'}"
    )
    trained = sum(len(trial.intermediate_values) for trial in study.trials)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    budget = trials * epochs
    print(f"Pruning over a {trials}-trial study of the default space, at most {epochs} epochs:")
    print(
        f"  {len(pruned)} trials pruned; {trained} epochs trained of {budget}:"
        f" {budget - trained} saved ({100 * (budget - trained) / budget:.0f}%),"
        " early stopping included; "
        f"{seconds:.0f} s; best val_loss {study.best_value:.4f}"
    )


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = bake(Path(folder))
        overhead(project, args.rounds, args.epochs)
        pruning(project, args.trials, args.prune_epochs)


if __name__ == "__main__":
    main()
