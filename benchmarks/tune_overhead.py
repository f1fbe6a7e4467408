"""What tune.py costs per trial over a plain train.py run, and how many epochs pruning saves.

Bakes the default project, then:
- runs `python -c "import pytorch_lightning"`, `train.py`, and `tune.py` with 1 and with 4
  trials, every hyperparameter fixed at its default so that each trial is train.py's run,
  as whole processes with output to a pipe, in rotated rounds; prints the medians, the
  one-trial overhead, and the marginal cost of a trial against train.py's run less its
  import (train.py also tests the best checkpoint; a trial does not);
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


def fixed_hyperparameters(project: Path) -> list[str]:
    """Flags that fix every hyperparameter at its default: each trial is train.py's own run."""
    found = subprocess.run(
        [sys.executable, "-c", SHOW_DEFAULTS],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.split()


# Run inside the baked default project: its model's hyperparameters and defaults, as flags.
SHOW_DEFAULTS = (
    "from digits_classifier.model import hyperparameter_defaults as d;"
    "print(' '.join(f'--{k} {v}' for k, v in d().items()))"
)


def tune_command(flags: list[str], root: str, study: str, trials: int) -> list[str]:
    return [
        "tune.py",
        *flags,
        "--default_root_dir",
        root,
        "--study_name",
        study,
        "--n_trials",
        str(trials),
    ]


def overhead(project: Path, rounds: int, epochs: int) -> None:
    common = ["--max_epochs", str(epochs), "--num_workers", "0", "--enable_progress_bar", "false"]
    fixed = fixed_hyperparameters(project)
    times = {"import": [], "train.py": [], "tune.py 1": [], "tune.py 4": []}
    for round_number in range(rounds):
        root = f"bench/round{round_number}"
        commands = {
            "import": ["-c", "import pytorch_lightning"],
            "train.py": ["train.py", *common, *fixed, "--default_root_dir", root],
            # Up to 4 trials nothing is pruned (the pruner's n_startup_trials), and with every
            # hyperparameter fixed each trial is the same run as train.py's.
            "tune.py 1": tune_command(common + fixed, root, f"r{round_number}_1", 1),
            "tune.py 4": tune_command(common + fixed, root, f"r{round_number}_4", 4),
        }
        # Rotate the order from round to round, so a slow spell does not hit one command only.
        names = list(commands)
        for name in names[round_number % len(names) :] + names[: round_number % len(names)]:
            times[name].append(timed(project, commands[name]))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{rounds} rotated rounds of {epochs} epochs, whole processes, output to a pipe;")
    print("every hyperparameter fixed at its default, so each trial is train.py's own run:")
    for name, label in (
        ("import", 'python -c "import pytorch_lightning"'),
        ("train.py", "train.py (fit + test)"),
        ("tune.py 1", "tune.py, 1 trial"),
        ("tune.py 4", "tune.py, 4 trials"),
    ):
        print(f"  {label:38s} median {median[name]:6.2f} s  {[round(t, 2) for t in times[name]]}")
    whole = median["tune.py 1"] / median["train.py"] - 1
    print(f"  one-trial tune.py against train.py, whole processes: {100 * whole:+.1f}%")
    # A study pays the interpreter, the imports, the database and the picture once; each
    # further trial costs what its run costs. train.py's run is its wall time less the import.
    trial = (median["tune.py 4"] - median["tune.py 1"]) / 3
    run = median["train.py"] - median["import"]
    print(f"  per trial, the marginal cost ((4 trials - 1 trial) / 3): {trial:.2f} s, against")
    print(
        f"  {run:.2f} s for train.py's run (its wall time less the import):"
        f" {100 * (trial / run - 1):+.1f}%"
    )


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
