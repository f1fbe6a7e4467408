"""Run a script as `__main__` and stamp the start of every training epoch it runs.

    BENCH_STAMPS=stamps.json python stamp.py train.py [its arguments ...]

Every `pytorch_lightning.Trainer` the script builds gets one more callback, which notes
the wall and CPU clocks when each training epoch starts and when training ends. An epoch
then spans from its own start to the next one's: training, validation, checkpoints and
logging. The stamps are written as JSON to the file named by BENCH_STAMPS at exit.
The script itself runs unmodified, with the same argv it would have had.
"""

import atexit
import functools
import json
import os
import runpy
import sys
import time

STAMPS_VARIABLE = "BENCH_STAMPS"


class Stamps:
    """Wall and CPU clock readings, taken at epoch starts and where training ends."""

    def __init__(self):
        self.epoch_starts = []
        self.train_end = None

    @staticmethod
    def now():
        return [time.perf_counter(), time.process_time()]

    def as_dict(self):
        return {"epoch_starts": self.epoch_starts, "train_end": self.train_end}


def stamping_callback(stamps):
    """A Lightning callback that only appends the clocks: microseconds per epoch."""
    import pytorch_lightning as pl

    class StampEpochs(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            stamps.epoch_starts.append(Stamps.now())

        def on_train_end(self, trainer, pl_module):
            stamps.train_end = Stamps.now()

    return StampEpochs()


def install(stamps):
    """Wrap Trainer.__init__ in place, so that every reference to the class gets the callback."""
    import pytorch_lightning as pl

    original = pl.Trainer.__init__

    # wraps(): the project reads the signature, type hints and docstring of Trainer.__init__.
    @functools.wraps(original)
    def __init__(self, *args, callbacks=None, **kwargs):
        if callbacks is None:
            callbacks = []
        elif not isinstance(callbacks, list):
            callbacks = [callbacks]
        original(self, *args, callbacks=[*callbacks, stamping_callback(stamps)], **kwargs)

    pl.Trainer.__init__ = __init__


def write_at_exit(stamps, path):
    """At exit, whether the script returns or calls sys.exit, write the stamps to `path`."""

    def write():
        with open(path, "w") as file:
            json.dump(stamps.as_dict(), file)

    if path:
        atexit.register(write)


def main():
    script, *arguments = sys.argv[1:]
    stamps = Stamps()
    install(stamps)
    write_at_exit(stamps, os.environ.get(STAMPS_VARIABLE))
    # As `python script ...` would: the script's folder first on sys.path, its own argv.
    sys.argv = [script, *arguments]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
