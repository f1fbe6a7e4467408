"""The LightningModule is built from the data's shape: a CNN for images, an MLP for features."""

import argparse

import pytest
import torch

from {{ cookiecutter.package_name }}.model import (
    {{ cookiecutter.model_class }},
    epoch_mean,
    hyperparameter_defaults,
)


@pytest.mark.parametrize(
    ("input_shape", "num_classes"),
    [((1, 8, 8), 10), ((3, 32, 32), 5), ((1, 64, 48), 4), ((30,), 2)],
    ids=["digits", "rgb", "grayscale-wide", "feature-table"],
)
def test_forward_gives_one_score_per_class(input_shape, num_classes):
    model = {{ cookiecutter.model_class }}(
        input_shape=input_shape,
        num_classes=num_classes,
    )
    assert model(torch.zeros(5, *input_shape)).shape == (5, num_classes)


def test_no_arguments_build_the_digits_network():
    model = {{ cookiecutter.model_class }}()
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_inputs_are_scaled_by_the_data_statistics():
    torch.manual_seed(0)
    scaled = {{ cookiecutter.model_class }}(
        input_shape=(2, 4, 4),
        input_mean=[5.0, -1.0],
        input_std=[2.0, 4.0],
    )
    plain = {{ cookiecutter.model_class }}(input_shape=(2, 4, 4))
    plain.load_state_dict(scaled.state_dict())
    scaled.eval(), plain.eval()
    inputs = torch.randn(3, 2, 4, 4)
    mean = torch.tensor([5.0, -1.0]).reshape(2, 1, 1)
    std = torch.tensor([2.0, 4.0]).reshape(2, 1, 1)
    assert torch.allclose(scaled(inputs), plain((inputs - mean) / std))


def test_unsupported_input_shape_is_refused():
    with pytest.raises(ValueError, match="input_shape"):
        {{ cookiecutter.model_class }}(input_shape=(2, 3))


def test_hyperparameters_are_saved():
    model = {{ cookiecutter.model_class }}(
        input_shape=(3, 16, 16),
        num_classes=4,
        learning_rate=0.01,
        channels=8,
    )
    assert model.hparams.learning_rate == 0.01
    assert model.hparams.channels == 8
    assert tuple(model.hparams.input_shape) == (3, 16, 16)
    assert model.hparams.num_classes == 4


def test_command_line_defaults_match_the_constructor():
    parser = argparse.ArgumentParser()
    {{ cookiecutter.model_class }}.add_model_specific_args(parser)
    parsed = vars(parser.parse_args([]))
    defaults = dict({{ cookiecutter.model_class }}().hparams)
    assert parsed == {name: defaults[name] for name in hyperparameter_defaults()}


def test_epoch_mean_weights_batches_by_size_and_keeps_a_nan():
    mean = epoch_mean()
    mean.update(torch.tensor(1.0), weight=3)
    mean.update(torch.tensor(3.0), weight=1)
    assert mean.compute() == pytest.approx(1.5)
    # One diverged batch makes the epoch's loss NaN, so early stopping sees it.
    mean.update(torch.tensor(float("nan")), weight=1)
    assert torch.isnan(mean.compute())
