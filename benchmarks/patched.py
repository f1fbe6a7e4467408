"""Run a script like stamp.py does, after changing one piece of Lightning for a trial.

    BENCH_PATCHES=drop:ReseedEveryEpoch,no_sync_dist python patched.py train.py [...]

For toggles.py: what train.py offers no flag for is changed here, never in the project.
Patches, comma-separated:
    drop:CLASS       leave out every callback of that class (drop:last: the last.ckpt one)
    terminal_bar     make train.py believe stdout is a terminal: tqdm's bar, not lines
    no_sync_dist     self.log(..., sync_dist=False) whatever the model asks
    async_ckpt       write checkpoints in a background thread (AsyncCheckpointIO)
"""

import functools
import os

import stamp

PATCHES_VARIABLE = "BENCH_PATCHES"


def wrap_trainer_init(change):
    """Let change(kwargs) edit the Trainer's keyword arguments before it is built."""
    import pytorch_lightning as pl

    original = pl.Trainer.__init__

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        change(kwargs)
        original(self, *args, **kwargs)

    pl.Trainer.__init__ = __init__


def drop(name):
    def keep(callback):
        if name == "last":
            return getattr(callback, "filename", None) != "last"
        return type(callback).__name__ != name

    def change(kwargs):
        kwargs["callbacks"] = [c for c in kwargs.get("callbacks") or [] if keep(c)]

    wrap_trainer_init(change)


def terminal_bar():
    import sys

    class Terminal:
        """sys.stdout as it was, except that it says it is a terminal."""

        def __init__(self, stream):
            self.stream = stream

        def isatty(self):
            return True

        def __getattr__(self, name):
            return getattr(self.stream, name)

    sys.stdout = Terminal(sys.stdout)


def no_sync_dist():
    import pytorch_lightning as pl

    original = pl.LightningModule.log

    @functools.wraps(original)
    def log(self, *args, **kwargs):
        original(self, *args, **{**kwargs, "sync_dist": False})

    pl.LightningModule.log = log


def async_ckpt():
    from pytorch_lightning.plugins.io import AsyncCheckpointIO

    def change(kwargs):
        kwargs["plugins"] = [*(kwargs.get("plugins") or []), AsyncCheckpointIO()]

    wrap_trainer_init(change)


PATCHES = {
    "drop": drop,
    "terminal_bar": terminal_bar,
    "no_sync_dist": no_sync_dist,
    "async_ckpt": async_ckpt,
}


def apply(spec):
    """Apply each patch named in a comma-separated spec such as 'drop:LearningCurves'."""
    for item in filter(None, spec.split(",")):
        name, _, argument = item.partition(":")
        PATCHES[name](*([argument] if argument else []))


if __name__ == "__main__":
    apply(os.environ.get(PATCHES_VARIABLE, ""))
    stamp.main()
