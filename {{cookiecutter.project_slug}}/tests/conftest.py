"""Shared fixtures: the digits written once per session, and runs kept out of the project."""

import sys

import pytest

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data")
    {{ cookiecutter.datamodule_class }}(data_dir=path).prepare_data()
    return path


@pytest.fixture(autouse=True)
def run_in_tmp_path(tmp_path, monkeypatch):
    """Runs write relative paths (outputs/, ...) under tmp_path; pytest's flags stay its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train.py"])
{%- if cookiecutter.cli == "lightningcli" and cookiecutter.logger == "mlflow" %}
    # MLflow sets up the config's relative store folder (and its .trash) once per process,
    # in the first test's folder; every test runs in its own, so set it up there too.
    (tmp_path / "outputs" / "mlruns" / ".trash").mkdir(parents=True)
{%- endif %}
