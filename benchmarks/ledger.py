"""Time each extra of the full loop inside one train.py-like run: a ledger per epoch.

    cd PROJECT_DIR && python BENCH/ledger.py [--epochs 12] 2>&1 | cat

Builds the Trainer as train.py does (its logger and callbacks), wraps every hook a
callback overrides, the logger's methods and the model's self.log in timers, trains,
and prints each one's milliseconds per epoch. On a shared machine this is steadier than
comparing whole processes: it times only the extras, not the training around them. Run
it with output to a pipe, as users do, so the progress bar draws as it would there.
"""

import argparse
import functools
import statistics
import sys
import time
from collections import defaultdict

import pytorch_lightning as pl

LOGGER_METHODS = ("log_metrics", "log_hyperparams", "save", "finalize", "after_save_checkpoint")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    return parser.parse_args()


class Ledger:
    """Seconds spent in each labelled piece, totalled per epoch."""

    def __init__(self):
        self.epochs = []
        self.current = defaultdict(float)

    def timed(self, label, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.current[label] += time.perf_counter() - start

        return wrapper

    def next_epoch(self):
        self.epochs.append(self.current)
        self.current = defaultdict(float)


def callback_label(callback):
    filename = getattr(callback, "filename", None)
    return f"{type(callback).__name__}({filename})" if filename else type(callback).__name__


def wrap_callbacks(ledger, callbacks):
    """Time every hook each callback overrides, under the callback's name."""
    for callback in callbacks:
        for name in dir(pl.Callback):
            if name.startswith("on_") and getattr(type(callback), name) is not getattr(
                pl.Callback, name
            ):
                hook = getattr(callback, name)
                setattr(callback, name, ledger.timed(callback_label(callback), hook))


def wrap_logger(ledger, logger):
    for name in LOGGER_METHODS:
        setattr(logger, name, ledger.timed(f"logger.{name}", getattr(logger, name)))


def epoch_boundary(ledger):
    class EpochBoundary(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            ledger.next_epoch()

        def on_train_end(self, trainer, pl_module):
            ledger.next_epoch()

    return EpochBoundary()


def build(ledger, epochs):
    """The model, data module and Trainer that train.py builds, with timers around the extras."""
    sys.path.insert(0, ".")
    import train  # the baked project's train.py, run from its folder

    patience = str(10 * epochs + 100)
    args = train.build_parser().parse_args(["--max_epochs", str(epochs), "--patience", patience])
    pl.seed_everything(args.seed, workers=True, verbose=False)
    datamodule = train.DigitsDataModule(**train.data_settings(args))
    datamodule.prepare_data()
    report = {name: datamodule.report[name] for name in train.DATA_ARGUMENTS}
    model = train.DigitsClassifier(**report)
    model.log = ledger.timed("self.log (bare too)", model.log)
    trainer = train.make_trainer(args)
    wrap_callbacks(ledger, trainer.callbacks)
    wrap_logger(ledger, trainer.logger)
    trainer.callbacks.insert(0, epoch_boundary(ledger))
    return trainer, model, datamodule


def report(ledger, warmup):
    # epochs[0] is everything before the first epoch starts: setup and the sanity check.
    steady = ledger.epochs[1 + warmup :]
    labels = sorted({label for epoch in steady for label in epoch})
    print(f"ms per epoch over {len(steady)} epochs after {warmup} of warm-up: median, min, max")
    for label in sorted(labels, key=lambda lb: -statistics.median(e[lb] for e in steady)):
        values = [1000 * epoch[label] for epoch in steady]
        print(
            f"  {label:32s} {statistics.median(values):7.2f} {min(values):7.2f} {max(values):7.2f}"
        )
    # What ran after the last epoch's end: drawing the curves, closing the logger.
    print("ms once, after training:")
    for label, seconds in sorted(ledger.current.items(), key=lambda item: -item[1]):
        print(f"  {label:32s} {1000 * seconds:7.2f}")


def main():
    args = parse_args()
    ledger = Ledger()
    trainer, model, datamodule = build(ledger, args.epochs)
    trainer.fit(model, datamodule=datamodule)
    report(ledger, args.warmup)


if __name__ == "__main__":
    main()
