"""Shared fixtures: the project's data, prepared once per session; runs kept out of the project."""

import sys

import pytest

from {{ cookiecutter.package_name }}.data import (
    DEFAULT_DATA_DIR,
    {{ cookiecutter.datamodule_class }},
)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """The data a first run would train on, prepared by the project's own prepare_data.

    The tests take their expectations (sizes, shapes, classes) from it, so they follow
    whatever data the project is changed to bring.
    """
    folder = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(folder)
        {{ cookiecutter.datamodule_class }}().prepare_data()
    return folder / DEFAULT_DATA_DIR


@pytest.fixture(autouse=True)
def run_in_tmp_path(tmp_path, monkeypatch):
    """Runs write relative paths (outputs/, ...) under tmp_path; pytest's flags stay its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train.py"])
{%- if cookiecutter.cli == "lightningcli" and cookiecutter.logger == "mlflow" %}
    # MLflow sets up its store folder (and its .trash) once per process, in the first
    # test's folder; every test runs in its own, so set it up there too.
    (tmp_path / "outputs" / "mlruns" / ".trash").mkdir(parents=True)
{%- endif %}
