"""Trainer flags come from the Trainer's signature and parse into the types it expects."""

import argparse

import pytest

from {{ cookiecutter.package_name }}.trainer_args import (
    add_trainer_args,
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
