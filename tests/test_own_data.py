"""A baked project learns data that is not the digits, of each kind, with no code change."""

import importlib.util
from pathlib import Path

import pytest

OWN_DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "own_data.py"


def load_own_data():
    spec = importlib.util.spec_from_file_location("own_data", OWN_DATA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Fewer examples than the benchmark uses, enough to show learning within the default epochs.
@pytest.mark.parametrize(("kind", "per_class"), [("rgb", 60), ("gray", 50), ("table", None)])
def test_own_data_trains_to_good_accuracy_with_the_defaults(baked_copy, kind, per_class):
    own_data = load_own_data()
    project = baked_copy()
    inputs, labels = own_data.KINDS[kind](per_class)
    folder = own_data.write(project / "mine", inputs, labels)
    _, accuracy = own_data.train(project, folder)
    assert accuracy >= 0.9, f"{kind}: test accuracy {accuracy}"
