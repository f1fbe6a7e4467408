"""Turn the full loop's extras off one at a time and time each epoch, as processes.py does.

    python benchmarks/toggles.py PROJECT_DIR [--rounds 3] [--epochs 8] [--only NAME ...]

Each toggle is train.py with one flag or one patch (patched.py); the project is never
edited. Every round runs full, bare and each toggle once, the order rotated. A toggle's
effect is the median over rounds of (its epoch - full's epoch in the same round).
"""

import argparse
import json
from pathlib import Path

import processes
from processes import HERE, PYTHON, Loop

# name: (train.py flags, patches for patched.py)
TOGGLES = {
    "no progress bar": (["--enable_progress_bar", "false"], ""),
    "terminal bar (tqdm) to the pipe": ([], "terminal_bar"),
    "deterministic false": (["--deterministic", "false"], ""),
    "no checkpoints": (["--enable_checkpointing", "false"], ""),
    "no last.ckpt": ([], "drop:last"),
    "async checkpoints": ([], "async_ckpt"),
    "no logger": (["--logger", "false"], ""),
    "no sync_dist": ([], "no_sync_dist"),
    "no ReseedEveryEpoch": ([], "drop:ReseedEveryEpoch"),
    "no LearningCurves": ([], "drop:LearningCurves"),
    "no EarlyStopping": ([], "drop:EarlyStopping"),
    "log_every_n_steps 50": (["--log_every_n_steps", "50"], ""),
    "no model summary": (["--enable_model_summary", "false"], ""),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("project", type=Path, help="a baked project, its data already written")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=list(TOGGLES), help="these toggles only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args()


def toggle_loop(name, flags, patches, epochs):
    """train.py with one change, run by patched.py, which stamps epochs as stamp.py does."""
    full = processes.standard_loops(epochs)[0]
    command = [PYTHON, str(HERE / "patched.py"), *full.command[2:], *flags]
    return Loop(name, command, {"BENCH_PATCHES": patches})


def differences(results, baseline="full"):
    """Per loop, the median and range over rounds of its epoch minus the baseline's."""
    base = [r["epoch_wall"] for r in results[baseline]]
    return {
        name: processes.spread([r["epoch_wall"] - b for r, b in zip(rounds, base, strict=True)])
        for name, rounds in results.items()
    }


def print_table(summary, deltas):
    print("loop                      epoch ms (spread)       minus full, ms (spread)   / full")
    for name, figures in summary["loops"].items():
        wall, delta = figures["epoch_wall"], deltas[name]
        ratio = summary["ratios"].get(name, {"median": 1.0})["median"]
        low, middle, high = (1000 * delta[key] for key in ("min", "median", "max"))
        print(
            f"{name:25s} {processes.ms(wall['median'])} ({ms(wall['min'])}-{ms(wall['max'])})"
            f"   {middle:+7.1f} ({low:+.1f}..{high:+.1f})   {ratio:.3f}"
        )


def ms(seconds):
    return f"{1000 * seconds:.0f}"


def main():
    args = parse_args()
    project = args.project.resolve()
    processes.write_data(project)
    chosen = args.only or list(TOGGLES)
    loops = processes.standard_loops(args.epochs)[:2]
    loops += [toggle_loop(name, *TOGGLES[name], args.epochs) for name in chosen]
    results = processes.measure_loops(project, loops, args.rounds, args.warmup)
    summary = processes.summarize_loops(results)
    deltas = differences(results)
    print(
        f"{args.rounds} rounds, {args.epochs} epochs per process, the first {args.warmup} left out"
    )
    print_table(summary, deltas)
    if args.json:
        args.json.write_text(json.dumps({"rounds": results, "differences": deltas}, indent=1))


if __name__ == "__main__":
    main()
