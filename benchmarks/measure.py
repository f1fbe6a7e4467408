"""Time the epochs of training loops in this process and print the figures as JSON.

Run by benchmarks/run.py inside a baked project:
    python measure.py PROJECT_DIR full bare plain --data_dir DIR [DIR ...] [--rounds N]

In each round, each loop trains on each data folder (a turn) in a thread of its own, and
the threads take turns epoch by epoch: one epoch runs at a time, and epoch N of every turn
runs within about a second of the others' epoch N. A slow spell of a shared machine then
lands on all of them alike instead of on whichever ran during it. Each round starts with
the next turn in line, so none always runs first.
"""

import argparse
import json
import resource
import statistics
import sys
import threading
import time
from pathlib import Path


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("project", help="a baked project folder")
    parser.add_argument("loops", nargs="+", choices=["full", "bare", "plain"])
    parser.add_argument("--rounds", type=int, default=1, help="fresh runs of every turn")
    parser.add_argument("--data_dir", nargs="+", required=True, help="one data folder or more")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per turn and round")
    parser.add_argument("--warmup", type=int, default=1, help="first epochs left out")
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


class Baton:
    """Lets one loop run at a time: each runs one epoch, then hands over to the next."""

    def __init__(self, names):
        self.names = list(names)
        self.holder = self.names[0]
        self.finished = set()
        self.changed = threading.Condition()

    def wait_for_turn(self, name):
        with self.changed:
            self.changed.wait_for(lambda: self.holder == name)

    def hand_over(self, name, finished=False):
        with self.changed:
            if finished:
                self.finished.add(name)
            waiting = [n for n in self.names if n not in self.finished]
            if waiting:
                later = self.names[self.names.index(name) + 1 :] + self.names
                self.holder = next(n for n in later if n in waiting)
            self.changed.notify_all()


class Turn:
    """One loop's epochs, timed only while it holds the baton."""

    def __init__(self, baton, name):
        self.baton, self.name = baton, name
        self.epoch_seconds = []
        self.started = None

    def epoch_starts(self):
        self.epoch_ends()
        self.baton.hand_over(self.name)
        self.baton.wait_for_turn(self.name)
        self.started = time.perf_counter()

    def epoch_ends(self):
        if self.started is not None:
            self.epoch_seconds.append(time.perf_counter() - self.started)
            self.started = None


def lightning_loop(train, args, data_dir, full, turn):
    import pytorch_lightning as pl

    class TakeTurns(pl.Callback):
        # An epoch ends where the next one starts, or where training ends: its checkpoints
        # are written in on_train_epoch_end by callbacks that Lightning runs after this one.
        def on_train_epoch_start(self, trainer, pl_module):
            turn.epoch_starts()

        def on_train_end(self, trainer, pl_module):
            turn.epoch_ends()

    flags = ["--data_dir", data_dir, "--max_epochs", str(args.epochs), "--patience", "10000"]
    flags += ["--num_workers", str(args.num_workers), "--default_root_dir", args.root_dir]
    parsed = train.build_parser().parse_args(flags)
    pl.seed_everything(parsed.seed, workers=True, verbose=False)
    datamodule = train.DigitsDataModule(**train.data_settings(parsed))
    datamodule.prepare_data()
    model = build_model(train, datamodule)
    if full:
        # Exactly the Trainer train.py builds: its logger, callbacks and checkpoint writer.
        trainer = train.make_trainer(parsed)
        trainer.callbacks.append(TakeTurns())
    else:
        options = train.trainer_kwargs(parsed)
        options.update(logger=False, enable_checkpointing=False, enable_progress_bar=False)
        options.update(enable_model_summary=False)
        trainer = pl.Trainer(**options, callbacks=[TakeTurns()])
    trainer.fit(model, datamodule=datamodule)


def build_model(train, datamodule):
    """The model train.py builds: its defaults, and the shape the data module reports."""
    report = {name: datamodule.report[name] for name in train.DATA_ARGUMENTS}
    return train.DigitsClassifier(**report)


def plain_loop(train, args, data_dir, turn):
    """The same model, data, optimizer and schedule, in a hand-written PyTorch loop."""
    import torch
    from torch.nn import functional as F

    torch.manual_seed(42)
    torch.use_deterministic_algorithms(True)
    datamodule = train.DigitsDataModule(data_dir=data_dir, num_workers=args.num_workers)
    datamodule.prepare_data()
    datamodule.setup("fit")
    train_loader, val_loader = datamodule.train_dataloader(), datamodule.val_dataloader()
    model = build_model(train, datamodule)
    optimizers = model.configure_optimizers()
    optimizer, scheduler = optimizers["optimizer"], optimizers["lr_scheduler"]
    for epoch in range(args.epochs):
        turn.epoch_starts()
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
    turn.epoch_ends()


def run_round(train, args, turns):
    """Each turn's loop in a thread of its own, the threads running one epoch at a time.

    Epoch N of each loop runs within a second of epoch N of the others, so a slow spell
    of the machine lands on all of them alike.
    """
    baton = Baton([name for name, _, _ in turns])
    timed = {name: Turn(baton, name) for name, _, _ in turns}
    failures = []

    def run(name, loop, data_dir):
        baton.wait_for_turn(name)
        try:
            if loop == "plain":
                plain_loop(train, args, data_dir, timed[name])
            else:
                lightning_loop(train, args, data_dir, loop == "full", timed[name])
        except BaseException as err:  # handed on below, so the other threads do not wait forever
            failures.append(err)
        finally:
            baton.hand_over(name, finished=True)

    threads = [threading.Thread(target=run, args=turn) for turn in turns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    # The first epochs of a turn pay for warm-up: caches, allocations, threads.
    return {name: turn.epoch_seconds[args.warmup :] for name, turn in timed.items()}


def main():
    args = parse_args()
    train = project_pieces(args.project)
    turns = make_turns(args.loops, args.data_dir)
    rounds = []  # per round: {turn name: its steady epoch seconds}
    started = time.perf_counter()
    for number in range(args.rounds):
        first = number % len(turns)
        rounds.append(run_round(train, args, turns[first:] + turns[:first]))
    own_mib, workers_mib = peak_rss_mib()
    names = [name for name, _, _ in turns]
    pooled = {name: [s for r in rounds for s in r[name]] for name in names}
    figures = {
        "steady_epoch_seconds": {
            name: round(statistics.median(seconds), 4) for name, seconds in pooled.items()
        },
        "fastest_epoch_seconds": {name: round(min(seconds), 4) for name, seconds in pooled.items()},
        "epoch_ratios_to_first": {
            name: [round(ratio, 4) for ratio in ratios]
            for name, ratios in epoch_ratios(rounds, names).items()
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


def epoch_ratios(rounds, names):
    """Each turn's epoch over the first turn's epoch of the same number, in the same round."""
    first = names[0]
    return {
        name: [
            mine / theirs for r in rounds for mine, theirs in zip(r[name], r[first], strict=True)
        ]
        for name in names
    }


if __name__ == "__main__":
    main()
