"""The LightningModule builds with its defaults and maps images to class scores."""

import argparse
import inspect

import torch

from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}


def test_forward_gives_one_score_per_class():
    model = {{ cookiecutter.model_class }}()
    assert model(torch.zeros(5, 1, 8, 8)).shape == (5, 10)


def test_hyperparameters_are_saved():
    model = {{ cookiecutter.model_class }}(learning_rate=0.01, channels=8)
    assert model.hparams.learning_rate == 0.01
    assert model.hparams.channels == 8
    parameters = inspect.signature({{ cookiecutter.model_class }}).parameters
    assert set(model.hparams) == set(parameters)


def test_command_line_defaults_match_the_constructor():
    parser = argparse.ArgumentParser()
    {{ cookiecutter.model_class }}.add_model_specific_args(parser)
    parsed = vars(parser.parse_args([]))
    assert parsed == dict({{ cookiecutter.model_class }}().hparams)
