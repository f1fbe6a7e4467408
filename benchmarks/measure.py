"""Time the epochs of training loops in this process and print the figures as JSON.

Run by benchmarks/run.py inside a baked project:
    python measure.py PROJECT_DIR full bare plain --data_dir DIR [DIR ...] [--rounds N]

Each loop on each data folder is a turn. The turns take turns, round after round, in one
warm process, and each round starts with the next turn in line: a slow spell of a shared
machine then lands on all of them alike instead of on whichever ran during it, and no turn
always runs first.
"""

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("project", help="a baked project folder")
    parser.add_argument("loops", nargs="+", choices=["full", "bare", "plain"])
    parser.add_argument("--rounds", type=int, default=1, help="turns each loop takes")
    parser.add_argument("--data_dir", nargs="+", required=True, help="one data folder or more")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per turn")
    parser.add_argument("--warmup", type=int, default=1, help="epochs of each turn left out")
    parser.add_argument("--num_workers", type=int, default=0)
    parser.add_argument("--root_dir", default="bench_outputs")
    return parser.parse_args()


def peak_rss_mib():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(own, 1), round(workers, 1)


def project_pieces(project):
    """The baked project's own classes and helpers, found through its package name."""
    sys.path.insert(0, project)
    import train  # the baked project's train.py

    return train


def lightning_loop(train, args, data_dir, full):
    import pytorch_lightning as pl

    class EpochTimer(pl.Callback):
        def __init__(self):
            self.starts = []

        def on_train_epoch_start(self, trainer, pl_module):
            self.starts.append(time.perf_counter())

        def on_train_end(self, trainer, pl_module):
            self.starts.append(time.perf_counter())

    flags = ["--data_dir", data_dir, "--max_epochs", str(args.epochs)]
    flags += ["--num_workers", str(args.num_workers), "--default_root_dir", args.root_dir]
    parsed = train.build_parser().parse_args(flags)
    pl.seed_everything(parsed.seed, workers=True, verbose=False)
    datamodule = train.DigitsDataModule(
        data_dir=parsed.data_dir, batch_size=parsed.batch_size, num_workers=parsed.num_workers
    )
    model = train.DigitsClassifier(**train.model_kwargs(parsed))
    options = train.trainer_kwargs(parsed)
    timer = EpochTimer()
    if full:
        # Exactly what train.py adds: its logger and callbacks (early stopping kept out of the way).
        callbacks = train.make_callbacks(patience=10_000)
        options["logger"] = train.make_logger(options["default_root_dir"])
    else:
        callbacks = []
        options.update(logger=False, enable_checkpointing=False, enable_progress_bar=False)
        options.update(enable_model_summary=False)
    trainer = pl.Trainer(**options, callbacks=[*callbacks, timer])
    trainer.fit(model, datamodule=datamodule)
    return [end - start for start, end in zip(timer.starts, timer.starts[1:], strict=False)]


def plain_loop(train, args, data_dir):
    """The same model, data, optimizer and schedule, in a hand-written PyTorch loop."""
    import torch
    from torch.nn import functional as F

    torch.manual_seed(42)
    torch.use_deterministic_algorithms(True)
    datamodule = train.DigitsDataModule(data_dir=data_dir, num_workers=args.num_workers)
    datamodule.prepare_data()
    datamodule.setup("fit")
    train_loader, val_loader = datamodule.train_dataloader(), datamodule.val_dataloader()
    model = train.DigitsClassifier()
    optimizers = model.configure_optimizers()
    optimizer, scheduler = optimizers["optimizer"], optimizers["lr_scheduler"]
    epoch_seconds = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        model.train()
        train_loader.sampler.set_epoch(epoch)
        for images, labels in train_loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        correct = 0
        with torch.inference_mode():
            for images, labels in val_loader:
                logits = model(images)
                F.cross_entropy(logits, labels)
                correct += (logits.argmax(dim=1) == labels).sum().item()
        epoch_seconds.append(time.perf_counter() - start)
    return epoch_seconds


def main():
    args = parse_args()
    train = project_pieces(args.project)
    turns = make_turns(args.loops, args.data_dir)
    rounds = []  # per round: {turn name: that turn's steady epoch seconds}
    started = time.perf_counter()
    for number in range(args.rounds):
        this_round = {}
        first = number % len(turns)
        for name, loop, data_dir in turns[first:] + turns[:first]:
            if loop == "plain":
                epoch_seconds = plain_loop(train, args, data_dir)
            else:
                epoch_seconds = lightning_loop(train, args, data_dir, full=loop == "full")
            # The first epochs of a turn pay for warm-up: caches, allocations, threads.
            this_round[name] = epoch_seconds[args.warmup :]
        rounds.append(this_round)
    own_mib, workers_mib = peak_rss_mib()
    names = [name for name, _, _ in turns]
    pooled = {name: [s for r in rounds for s in r[name]] for name in names}
    figures = {
        "steady_epoch_seconds": {
            name: round(statistics.median(seconds), 4) for name, seconds in pooled.items()
        },
        "fastest_epoch_seconds": {name: round(min(seconds), 4) for name, seconds in pooled.items()},
        "round_ratios_to_first": {
            name: [round(ratio, 4) for ratio in ratios]
            for name, ratios in round_ratios(rounds, names).items()
        },
        "steady_epochs": {name: [round(s, 4) for s in seconds] for name, seconds in pooled.items()},
        "total_seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mib": own_mib,
        "peak_worker_rss_mib": workers_mib,
    }
    print("FIGURES " + json.dumps(figures))


def make_turns(loops, data_dirs):
    """(name, loop, data folder) for each pair: the loop's name, plus the folder's if several."""
    if len(data_dirs) == 1:
        return [(loop, loop, data_dirs[0]) for loop in loops]
    return [(f"{loop}@{Path(d).name}", loop, d) for loop in loops for d in data_dirs]


def round_ratios(rounds, names):
    """Per round, each turn's median epoch over the first turn's, in the same round.

    Turns of one round run back to back, so a slow spell of the machine that lasts a round
    cancels out of its ratio, where it would skew a median pooled over every round.
    """
    first = names[0]
    return {
        name: [statistics.median(r[name]) / statistics.median(r[first]) for r in rounds]
        for name in names
    }


if __name__ == "__main__":
    main()
