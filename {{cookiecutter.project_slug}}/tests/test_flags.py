"""Any value for any flag `train.py --help` lists: the run goes ahead, or stops in one line."""

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command_line import SUBCOMMAND
from conftest import settings_flags
from train import main

# Flags whose good values start other processes or wait for other machines to join (the DDP
# lines of README.md run them), and flags that print instead of running.
LEFT_OUT = {"help", "print_config", "devices", "num_nodes", "strategy"}


def listed_flags():
    """Every flag the help of a training run lists, less LEFT_OUT."""
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit):
        main([*SUBCOMMAND, "--help"])
    flags = set(re.findall(r"(?<![\w-])--[a-z_][\w.]*", help_text.getvalue()))
    return sorted(flag for flag in flags if flag[2:].rsplit(".", 1)[-1] not in LEFT_OUT)


# What a user might type by mistake: words, signs, numbers out of any range, NaN, nothing.
# A command line cannot hold a NUL character, so none is drawn.
VALUES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=8),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "-1", "0", "nan", "inf", "1e400", "true", "none", "null", "[1,", "{"]),
)


@settings(
    max_examples=40,
    deadline=None,
    # A fixed sequence: the suite fails for a reason someone can rerun, not for a new draw.
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(flag=st.sampled_from(listed_flags()), value=VALUES)
def test_any_value_of_any_flag_runs_or_stops_in_one_line_with_no_run_folder(
    data_dir, capsys, flag, value
):
    capsys.readouterr()
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            code = run_with(data_dir, f"{flag}={value}")
        finally:
            os.chdir(previous)
        if code in (0, None):
            return  # a value the flag allows: the run went ahead
        said = capsys.readouterr().err + (code if isinstance(code, str) else "")
        assert len(said.strip().splitlines()) == 1, said
        assert not [path for path in Path(folder).rglob("version_*") if path.is_dir()], said
        assert not list(Path(folder).rglob("*.ckpt")), said


def run_with(data_dir, flag):
    """The exit status of one batch of train.py with `flag` last; 0 when it ran through."""
    quick = settings_flags(data_dir=data_dir, default_root_dir="runs", num_workers=0)
    fast = ["--trainer.fast_dev_run" if SUBCOMMAND else "--fast_dev_run", "1"]
    try:
        main([*SUBCOMMAND, *quick, *fast, flag])
    except SystemExit as stop:
        return stop.code
    return 0


def test_accumulating_over_no_batches_is_one_line(data_dir, tmp_path, monkeypatch, capsys):
    # Lightning takes 0, then divides by it in the middle of the first epoch.
    monkeypatch.chdir(tmp_path)
    flag = "--trainer.accumulate_grad_batches" if SUBCOMMAND else "--accumulate_grad_batches"
    code = run_with(data_dir, f"{flag}=0")
    said = capsys.readouterr().err + (code if isinstance(code, str) else "")
    assert code not in (0, None)
    (line,) = said.strip().splitlines()
    assert "accumulate_grad_batches" in line and "1 or more" in line
    assert not (tmp_path / "runs").exists()
