"""Shared fixtures: the digits written once per test session."""

import pytest

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data")
    {{ cookiecutter.datamodule_class }}(data_dir=path).prepare_data()
    return path
