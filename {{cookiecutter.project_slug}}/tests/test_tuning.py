"""The search space and the study's picture, without training: what both tune.py variants share."""

import optuna
from matplotlib import image

from {{ cookiecutter.package_name }}.machinery.tuning import (
    MIN_TRIALS_FOR_IMPORTANCES,
    PartlyFixedTrial,
    draw_study,
)
from {{ cookiecutter.package_name }}.model import (
    {{ cookiecutter.model_class }},
    hyperparameter_defaults,
)


def test_the_search_space_suggests_only_model_hyperparameters():
    trial = optuna.create_study().ask()
    suggested = {{ cookiecutter.model_class }}.suggest_hyperparameters(trial)
    assert set(suggested) <= set(hyperparameter_defaults())
    assert set(trial.params) == set(suggested)


def test_a_fixed_hyperparameter_is_kept_and_not_searched():
    trial = optuna.create_study().ask()
    suggested = {{ cookiecutter.model_class }}.suggest_hyperparameters(
        PartlyFixedTrial(trial, {"dropout": 0.123}),
    )
    assert suggested["dropout"] == 0.123
    assert "dropout" not in trial.params


def test_the_picture_adds_importances_once_enough_trials_have_a_value(tmp_path):
    study = optuna.create_study(study_name="a/b")

    def objective(trial):
        return trial.suggest_float("x", 0, 1) + trial.suggest_float("y", 0, 1)

    study.optimize(objective, n_trials=MIN_TRIALS_FOR_IMPORTANCES - 1)
    history_only = image.imread(draw_study(study, tmp_path / "few"))
    study.optimize(objective, n_trials=1)
    path = draw_study(study, tmp_path / "enough")
    assert path.name == "study_a_b.png"
    assert image.imread(path).shape[1] > history_only.shape[1]


def test_no_picture_before_a_trial_completes(tmp_path):
    assert draw_study(optuna.create_study(), tmp_path) is None
