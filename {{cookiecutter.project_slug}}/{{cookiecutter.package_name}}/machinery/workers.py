"""DataLoader workers: how many by default, how each is seeded, and that none outlives Python."""

import atexit
import multiprocessing
import signal
import sys
from collections.abc import Callable
from typing import Any

import torch
from lightning_fabric.utilities.seed import pl_worker_init_function
from pytorch_lightning.utilities import suggested_max_num_workers


def default_num_workers(num_devices: int) -> int:
    """Two workers where the machine has cores to spare, else none.

    Lightning advises workers whenever it sees idle cores; two keep up with this data.
    """
    return 2 if suggested_max_num_workers(num_devices) > 1 else 0


def loader_options(num_workers: int, seed: int) -> dict[str, Any]:
    """DataLoader arguments for `num_workers` workers that repeat exactly and stop cleanly."""
    if num_workers > 0:
        # Registered again each time, so it stays the last registered: atexit runs it first.
        atexit.unregister(stop_leftover_workers)
        atexit.register(stop_leftover_workers)
    return {
        "num_workers": num_workers,
        # Workers take their seeds from this generator, not the global one, so a resumed
        # run's workers start as an unbroken run's did.
        "generator": torch.Generator().manual_seed(seed),
        "worker_init_fn": init_worker,
        # Workers live across epochs rather than start again in each, which is slower.
        "persistent_workers": num_workers > 0,
    }


def init_worker(worker_id: int) -> None:
    """Seed a DataLoader worker as Lightning does, and leave stopping to the main process."""
    # This runs in the worker's own process. SIGTERM or Ctrl-C sent to the whole process
    # group would otherwise end the workers mid-batch, and the main process with a
    # DataLoader traceback instead of a clean stop.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A main process stopping mid-way through receiving a batch hangs up on the worker's
    # thread handing it over, which would print that expected hang-up as a traceback.
    sys.excepthook = unless_hung_up(sys.__excepthook__)
    pl_worker_init_function(worker_id)


def unless_hung_up(hook: Callable[..., None]) -> Callable[..., None]:
    """`hook`, sys's or threading's excepthook, made silent about a dropped connection."""

    def report(*args: Any) -> None:
        # threading's hook takes one ExceptHookArgs; sys's takes (type, value, traceback).
        exc_type = args[0].exc_type if len(args) == 1 else args[0]
        if not issubclass(exc_type, ConnectionError):
            hook(*args)

    return report


def stop_leftover_workers() -> None:
    """Kill the daemon processes, such as DataLoader workers, still running as Python exits."""
    # A loader stops its workers when its run ends, but an error can skip that. Python itself
    # sends daemons SIGTERM and waits for them to end: forever, as ours ignore it (init_worker).
    leftovers = [child for child in multiprocessing.active_children() if child.daemon]
    if not leftovers:
        return
    if hasattr(signal, "SIGCHLD"):  # not on Windows
        # torch reports a worker that dies of a signal as an error; here it is the plan.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for worker in leftovers:
        worker.kill()
        worker.join()
