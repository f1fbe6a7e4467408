"""The run's checkpoints: the best epoch when validation improves, the latest every epoch."""

import os
import threading

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}
from {{ cookiecutter.package_name }}.machinery.callbacks import make_callbacks
from {{ cookiecutter.package_name }}.machinery.checkpoints import (
    DISK_THREAD,
    AtomicCheckpointIO,
    find_checkpoint,
    read_resumable_checkpoint,
)
from {{ cookiecutter.package_name }}.machinery.errors import CheckpointError
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}

from command_line import FLAG
from conftest import run_flags
from train_in_process import fit_in_process


class WorseEveryEpoch({{ cookiecutter.model_class }}):
    """Validation loss rises every epoch, so only the first epoch is ever the best."""

    def validation_step(self, batch, batch_idx):
        inputs, labels = batch
        self.val_metrics["acc"].update(self(inputs), labels)
        self.val_loss.update(torch.tensor(float(self.current_epoch)))


def train_worse_every_epoch(data_dir, root, epochs, last_first=False):
    """Train with the run's callbacks and checkpoint writer; return (best.ckpt, last.ckpt)."""
    callbacks = make_callbacks(seed=0, enable_progress_bar=False, patience=10)
    if last_first:
        checkpoints = [callback for callback in callbacks if isinstance(callback, ModelCheckpoint)]
        others = [callback for callback in callbacks if callback not in checkpoints]
        callbacks = [*others, *reversed(checkpoints)]
    trainer = pl.Trainer(
        max_epochs=epochs,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(root),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
    )
    datamodule = {{ cookiecutter.datamodule_class }}(data_dir=str(data_dir), num_workers=0)
    model = WorseEveryEpoch(**datamodule.report, channels=4, hidden_units=8)
    trainer.fit(model, datamodule=datamodule)
    (best,) = root.rglob("best.ckpt")
    (last,) = root.rglob("last.ckpt")
    return best, last


@pytest.fixture(scope="module")
def checkpoints(data_dir, tmp_path_factory):
    return train_worse_every_epoch(data_dir, tmp_path_factory.mktemp("run"), epochs=3)


def test_last_is_written_after_every_epoch_even_without_improvement(checkpoints):
    _, last = checkpoints
    state = torch.load(last, weights_only=True)
    assert state["epoch"] == 2
    assert state["optimizer_states"] and state["loops"]


def test_fit_leaves_no_disk_thread_behind(checkpoints):
    threads = [thread.name for thread in threading.enumerate()]
    assert [name for name in threads if name.startswith(DISK_THREAD)] == []


def test_best_holds_the_best_epoch(checkpoints):
    best, last = checkpoints
    state = torch.load(best, weights_only=True)
    assert state["epoch"] == 0
    assert state["hyper_parameters"]["channels"] == 4
    assert not best.samefile(last)


@pytest.mark.parametrize("last_first", [False, True], ids=["best-first", "last-first"])
def test_an_epoch_that_improves_is_written_once(data_dir, tmp_path, monkeypatch, last_first):
    real_save = torch.save
    saved = []

    def counting_save(checkpoint, file):
        saved.append(checkpoint["epoch"])
        real_save(checkpoint, file)

    monkeypatch.setattr(torch, "save", counting_save)
    best, last = train_worse_every_epoch(data_dir, tmp_path, epochs=1, last_first=last_first)
    assert saved == [0]  # the first of the two; the second is the same file under its name
    assert best.samefile(last)
    assert read_resumable_checkpoint(last)["epoch"] == 0


def test_resuming_needs_the_whole_training_state(checkpoints, tmp_path):
    _, last = checkpoints
    assert read_resumable_checkpoint(last)["epoch"] == 2
    weights = {k: v for k, v in torch.load(last, weights_only=True).items() if "optim" not in k}
    torch.save(weights, tmp_path / "weights.ckpt")
    with pytest.raises(CheckpointError, match="holds only the model's weights"):
        read_resumable_checkpoint(tmp_path / "weights.ckpt")


def copy_with_mtime(source, target, mtime):
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    os.utime(target, (mtime, mtime))


def test_last_skips_a_newer_checkpoint_that_does_not_load(checkpoints, tmp_path):
    _, last = checkpoints
    copy_with_mtime(last, tmp_path / "version_0" / "last.ckpt", 1_000)
    newer = tmp_path / "version_1" / "last.ckpt"
    newer.parent.mkdir()
    newer.write_bytes(last.read_bytes()[:1000])  # a write cut short
    path, checkpoint = find_checkpoint("last", tmp_path)
    assert path == tmp_path / "version_0" / "last.ckpt"
    assert checkpoint["epoch"] == 2


def test_last_refuses_the_newest_checkpoint_when_it_does_not_fit(checkpoints, tmp_path):
    _, last = checkpoints
    copy_with_mtime(last, tmp_path / "old" / "last.ckpt", 1_000)
    copy_with_mtime(last, tmp_path / "new" / "last.ckpt", 2_000)
    seen = []

    def refuse_the_newest(checkpoint):
        seen.append(checkpoint)
        return "of another shape" if len(seen) == 1 else None

    # The older one would fit, but last means the newest run's: it is refused, not skipped.
    with pytest.raises(CheckpointError) as error:
        find_checkpoint("last", tmp_path, refuse=refuse_the_newest)
    newest = tmp_path / "new" / "last.ckpt"
    assert str(error.value) == f"--ckpt_path last ({newest}): of another shape"
    assert len(seen) == 1


def test_last_with_nothing_usable_says_why_in_one_line(checkpoints, tmp_path):
    broken = tmp_path / "version_0" / "last.ckpt"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError) as error:
        find_checkpoint("last", tmp_path)
    message = str(error.value)
    assert message.startswith("--ckpt_path last: no usable last.ckpt under")
    assert str(broken) in message and "\n" not in message


@pytest.mark.npy
def test_load_from_checkpoint_alone_rebuilds_the_network_trained_on_own_data(tmp_path):
    folder = tmp_path / "rgb"
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.save(folder / "inputs.npy", rng.integers(0, 256, (40, 3, 12, 12), dtype=np.uint8))
    np.save(folder / "labels.npy", np.arange(40) % 5)
    flags = run_flags(folder, tmp_path / "runs", FLAG["max_epochs"], "1", FLAG["num_workers"], "0")
    trained = fit_in_process(flags).lightning_module
    (last,) = (tmp_path / "runs").rglob("last.ckpt")
    loaded = {{ cookiecutter.model_class }}.load_from_checkpoint(last)
    assert tuple(loaded.hparams.input_shape) == (3, 12, 12)
    assert loaded.hparams.num_classes == 5
    assert loaded.hparams.input_mean == trained.hparams.input_mean
    dataset = {{ cookiecutter.datamodule_class }}(data_dir=str(folder)).predict_dataset()
    inputs = torch.stack([dataset[index][0] for index in range(8)])
    trained.eval()
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(loaded(inputs), trained(inputs))
