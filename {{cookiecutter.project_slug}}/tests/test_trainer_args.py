"""Trainer flags come from the Trainer's signature and parse into the types it expects."""

import argparse

import pytest
import pytorch_lightning as pl

from {{ cookiecutter.package_name }}.machinery.trainer_args import (
    HelpFormatter,
    add_trainer_args,
    trainer_arg_names,
    trainer_kwargs,
)


def parse(*flags):
    parser = add_trainer_args(argparse.ArgumentParser(exit_on_error=False))
    return trainer_kwargs(parser.parse_args(flags))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--devices", "auto"], {"devices": "auto"}),
        (["--devices", "2"], {"devices": 2}),
        (["--devices", "0,1"], {"devices": [0, 1]}),
        (["--precision", "16-mixed"], {"precision": "16-mixed"}),
        (["--precision", "32"], {"precision": 32}),
        (["--fast_dev_run", "1"], {"fast_dev_run": 1}),
        (["--fast_dev_run", "true"], {"fast_dev_run": True}),
        (["--limit_train_batches", "10"], {"limit_train_batches": 10}),
        (["--limit_train_batches", "0.25"], {"limit_train_batches": 0.25}),
        (["--max_epochs", "3", "--num_nodes", "2"], {"max_epochs": 3, "num_nodes": 2}),
        (["--accelerator", "cpu", "--strategy", "ddp"], {"accelerator": "cpu", "strategy": "ddp"}),
        (["--max_time", "00:01:00:00"], {"max_time": "00:01:00:00"}),
        (["--deterministic", "warn"], {"deterministic": "warn"}),
        (["--gradient_clip_val", "0.5"], {"gradient_clip_val": 0.5}),
        (["--logger", "false"], {"logger": False}),
        (["--default_root_dir", "runs"], {"default_root_dir": "runs"}),
    ],
)
def test_flags_parse_into_trainer_types(flags, expected):
    assert parse(*flags) == expected


def test_flags_not_given_keep_the_trainer_defaults():
    assert parse() == {}


@pytest.mark.parametrize(
    "flags",
    [["--precision", "17"], ["--max_epochs", "ten"], ["--fast_dev_run", "maybe"]],
    ids=["precision", "max_epochs", "fast_dev_run"],
)
def test_wrong_values_are_refused(flags):
    with pytest.raises(argparse.ArgumentError, match=flags[0]):
        parse(*flags)


def test_object_only_arguments_have_no_flag():
    parser = add_trainer_args(argparse.ArgumentParser())
    flags = {option for action in parser._actions for option in action.option_strings}
    assert "--callbacks" not in flags and "--plugins" not in flags
    assert {"--accelerator", "--devices", "--num_nodes", "--precision"} <= flags


def help_parser():
    """A parser as train.py builds it: Trainer flags, one project default, defaults in help."""
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter, exit_on_error=False)
    add_trainer_args(parser).set_defaults(max_epochs=8)
    return parser


def flag_help(parser, flag):
    """The help of one flag, on one line."""
    help_text = " ".join(parser.format_help().split())
    return help_text.split(f" {flag} ", 1)[1].split(" --", 1)[0]


@pytest.mark.parametrize(
    ("flag", "shown"),
    [
        ("--accelerator", "(default: auto)"),
        ("--devices", "(default: auto)"),
        ("--num_nodes", "(default: 1)"),
        ("--fast_dev_run", "(default: False)"),
        ("--max_epochs", "(default: 8)"),
        ("--logger", "(default: True)"),
        ("--precision", "(default: 32-true)"),
        ("--limit_train_batches", "(default: 1.0)"),
        ("--enable_checkpointing", "(default: True)"),
        ("--min_epochs", "(default: None, off)"),
        ("--gradient_clip_algorithm", "(default: norm)"),
        ("--benchmark", "(default: None, Lightning chooses)"),
    ],
)
def test_help_shows_each_flags_default(flag, shown):
    help_text = flag_help(help_parser(), flag)
    assert help_text.endswith(shown)
    assert help_text.count("(default:") == 1


def shown_defaults(parser):
    """Each Trainer flag's default as help shows it."""
    help_text = " ".join(parser.format_help().split())
    flags = [name for name in trainer_arg_names() if f"--{name} " in help_text]
    return {name: flag_help(parser, f"--{name}").rsplit("(default: ", 1)[1][:-1] for name in flags}


def test_no_trainer_flag_shows_a_bare_none():
    shown = shown_defaults(help_parser())
    assert shown and not [name for name, default in shown.items() if default == "None"]


def test_defaults_shown_in_help_are_those_a_trainer_uses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trainer = pl.Trainer(logger=False)
    parser = add_trainer_args(argparse.ArgumentParser(formatter_class=HelpFormatter))
    shown = shown_defaults(parser)
    used = {
        name: getattr(trainer, name)
        for name in shown
        if isinstance(getattr(trainer, name, ()), str | int | float | bool | None)
    }
    used["enable_checkpointing"] = trainer.checkpoint_callback is not None
    used["enable_progress_bar"] = trainer.progress_bar_callback is not None
    # logger=False here; the Trainer keeps None and clips by norm once clipping is on; the
    # working directory stands in for the root.
    for name in ("logger", "gradient_clip_algorithm", "default_root_dir"):
        used.pop(name, None)
    assert {"precision", "limit_val_batches", "num_sanity_val_steps"} <= set(used)
    # "None, off" and "None, Lightning chooses" stand for None.
    mismatched = {
        name: (shown[name], value)
        for name, value in used.items()
        if shown[name].split(",")[0] != str(value)
    }
    assert mismatched == {}


def test_defaults_shown_in_help_stay_out_of_the_namespace():
    assert trainer_kwargs(help_parser().parse_args([])) == {"max_epochs": 8}


def test_flags_text_cannot_set_usefully_are_left_out_or_explained():
    parser = help_parser()
    flags = {option for action in parser._actions for option in action.option_strings}
    assert "--model_registry" not in flags and "--barebones" not in flags
    assert "false switches the project's logger off" in flag_help(parser, "--logger")
