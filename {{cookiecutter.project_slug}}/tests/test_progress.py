"""Progress as users see it: a bar in a terminal, one line per epoch in a log file or a pipe."""

import io
import sys

import pytorch_lightning as pl
from pytorch_lightning.callbacks import TQDMProgressBar

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}
from {{ cookiecutter.package_name }}.machinery.callbacks import (
    EpochLines,
    make_callbacks,
    make_progress_bar,
)
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_a_bar_and_a_file_or_pipe_gets_lines(monkeypatch):
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert isinstance(make_progress_bar(), TQDMProgressBar)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert isinstance(make_progress_bar(), EpochLines)


def test_a_log_gets_one_line_per_epoch_with_its_metrics(data_dir, tmp_path, capsys):
    trainer = pl.Trainer(
        max_epochs=2,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        # Made while pytest captures the output, which is not a terminal.
        callbacks=make_callbacks(seed=0, enable_checkpointing=False),
    )
    datamodule = {{ cookiecutter.datamodule_class }}(data_dir=str(data_dir), num_workers=0)
    model = {{ cookiecutter.model_class }}(
        **datamodule.report,
        channels=4,
        hidden_units=8,
    )
    trainer.fit(model, datamodule=datamodule)
    output = capsys.readouterr().out
    lines = [line for line in output.splitlines() if line.startswith("Epoch ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
    for line in lines:
        assert "train_loss" in line and "val_loss" in line and "val_acc" in line
        assert line.endswith(" s)")
    assert "\r" not in output
