"""tune.py end to end: trials, resuming, a seeded repeat, pruning, parallel workers, refusals."""

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from {{ cookiecutter.package_name }}.machinery import tuning
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}

import tune
from command_line import FLAG
from conftest import assert_no_workers_left, settings_flags
from train_in_process import fit_in_process
from tune import main

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COMPLETE, PRUNED, FAIL = (optuna.trial.TrialState[name] for name in ("COMPLETE", "PRUNED", "FAIL"))


def tune_flags(data_dir, root, *flags):
    """Flags for a search of one-batch epochs, quiet and with no DataLoader workers."""
    return [
        *settings_flags(data_dir=data_dir, default_root_dir=root, max_epochs=1, num_workers=0),
        *settings_flags(limit_train_batches=1, limit_val_batches=1),
        *settings_flags(enable_progress_bar="false", enable_model_summary="false"),
        *flags,
    ]


def load(root, study_name):
    return optuna.load_study(study_name=study_name, storage=f"sqlite:///{root / 'optuna.db'}")


def test_help_lists_the_tuning_and_the_training_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for flag in ("--n_trials", "--study_name", "--storage", "--timeout", "--seed"):
        assert flag in help_text
    for name in ("max_epochs", "learning_rate", "data_dir", "default_root_dir"):
        assert FLAG[name] in help_text


def test_seeded_study_repeats_resumes_and_prints_a_command_that_reproduces(
    data_dir, tmp_path, capsys
):
    main(tune_flags(data_dir, tmp_path, "--n_trials", "2", "--seed", "3", "--study_name", "a"))
    resumed = main(
        tune_flags(data_dir, tmp_path, "--n_trials", "1", "--seed", "3", "--study_name", "a")
    )
    output = capsys.readouterr().out
    fresh = main(
        tune_flags(data_dir, tmp_path, "--n_trials", "1", "--seed", "3", "--study_name", "b")
    )
    trials = resumed.trials
    assert [(trial.number, trial.state) for trial in trials] == [
        (0, COMPLETE),
        (1, COMPLETE),
        (2, COMPLETE),
    ]
    # A resumed seeded study goes on to new suggestions; a fresh one repeats the first.
    assert trials[2].params != trials[0].params
    assert (fresh.trials[0].params, fresh.trials[0].value) == (trials[0].params, trials[0].value)
    run_dirs = {trial.user_attrs["run_dir"] for trial in [*trials, *fresh.trials]}
    assert len(run_dirs) == 4 and all(Path(run_dir).is_dir() for run_dir in run_dirs)
    assert "trial 2 COMPLETE: best val_loss" in output
    assert (tmp_path / "study_a.png").is_file()
    # The printed command trains the best trial again, to the same value.
    command = output.split("Reproduce it with:\n")[-1].splitlines()[0]
    trainer = fit_in_process(shlex.split(command)[2:])
    assert float(trainer.checkpoint_callback.best_model_score) == resumed.best_value


@pytest.mark.parametrize("num_workers", ["0", "2"])
def test_a_hopeless_trial_is_pruned(data_dir, tmp_path, monkeypatch, capsys, num_workers):
    # A pruner that prunes any positive loss: the trial stops after its first epoch.
    monkeypatch.setattr(
        "{{ cookiecutter.package_name }}.machinery.tuning.make_pruner",
        lambda: optuna.pruners.ThresholdPruner(upper=0.0),
    )
    flags = ("--n_trials", "1", FLAG["max_epochs"], "3", FLAG["num_workers"], num_workers)
    study = main(tune_flags(data_dir, tmp_path, *flags))
    (trial,) = study.trials
    assert trial.state == PRUNED and list(trial.intermediate_values) == [0]
    assert "trial 0 PRUNED: pruned after epoch 0, 1 epochs" in capsys.readouterr().out
    # The pruned trial's DataLoader workers stopped with it, rather than outlive the search.
    assert_no_workers_left()


def test_flags_given_hold_for_every_trial_and_are_not_searched(tmp_path, monkeypatch, capsys):
    searched = []
    # Each variant's train_trial takes its fixed flags, the searched hyperparameters, callbacks.
    monkeypatch.setattr(tune, "train_trial", lambda fixed, found, callbacks: searched.append(found))
    flags = [*settings_flags(default_root_dir=tmp_path, learning_rate=0.01), "--n_trials", "2"]
    study = main(flags)
    assert all("learning_rate" not in found for found in searched)
    assert len({found["dropout"] for found in searched}) == 2
    assert all("learning_rate" not in trial.params for trial in study.trials)
    assert capsys.readouterr().out.count(f"{FLAG['learning_rate']} 0.01") == 1


def test_ctrl_c_marks_the_running_trial_failed_and_exits_130(tmp_path, monkeypatch):
    def interrupted(fixed, found, callbacks):
        sys.exit(1)  # what Lightning does on Ctrl-C during fit

    monkeypatch.setattr(tune, "train_trial", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        main([*settings_flags(default_root_dir=tmp_path), "--study_name", "s"])
    assert exit_info.value.code == 130
    assert [trial.state for trial in load(tmp_path, "s").trials] == [FAIL]


def terminate_in_the_first_training_step(monkeypatch):
    """A real SIGTERM, sent while the first trial trains."""
    training_step = {{ cookiecutter.model_class }}.training_step

    def terminated(model, batch, batch_idx):
        if model.current_epoch == 0 and batch_idx == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        return training_step(model, batch, batch_idx)

    monkeypatch.setattr({{ cookiecutter.model_class }}, "training_step", terminated)


def terminate_after_the_first_trial(monkeypatch):
    """A real SIGTERM, sent between trials: as the first one's progress line is printed."""
    print_trial = tuning.print_trial

    def terminated(study, trial):
        print_trial(study, trial)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(tuning, "print_trial", terminated)


@pytest.mark.parametrize(
    "terminate",
    [terminate_in_the_first_training_step, terminate_after_the_first_trial],
    ids=["in-a-trial", "between-trials"],
)
def test_sigterm_stops_the_search_with_143(data_dir, tmp_path, monkeypatch, capsys, terminate):
    terminate(monkeypatch)
    flags = tune_flags(data_dir, tmp_path, "--n_trials", "3", "--study_name", "s")
    hook = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_info:
        main(flags)
    assert exit_info.value.code == 143
    assert signal.getsignal(signal.SIGTERM) == hook
    assert "Interrupted: the running trial is marked FAIL" in capsys.readouterr().err
    states = [trial.state for trial in load(tmp_path, "s").trials]
    assert states in ([FAIL], [COMPLETE])  # the trial stopped, or none had started
    assert_no_workers_left()


def test_a_search_space_changed_under_a_study_is_one_line(data_dir, tmp_path, monkeypatch):
    main(tune_flags(data_dir, tmp_path, "--n_trials", "1", "--study_name", "s"))
    suggest = {{ cookiecutter.model_class }}.suggest_hyperparameters

    def channels_as_a_choice(trial):
        return {**suggest(trial), "channels": trial.suggest_categorical("channels", [8, 16])}

    model_class = {{ cookiecutter.model_class }}
    monkeypatch.setattr(model_class, "suggest_hyperparameters", channels_as_a_choice)
    with pytest.raises(SystemExit) as exit_info:
        main(tune_flags(data_dir, tmp_path, "--n_trials", "1", "--study_name", "s"))
    message = str(exit_info.value.code)
    assert message.startswith("error: study 's': the search space changed since its first trials")
    assert "\n" not in message


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(data_dir, tmp_path):
    command = [
        *(sys.executable, str(PROJECT_ROOT / "tune.py")),
        *tune_flags(data_dir, tmp_path, "--n_trials", "2", "--study_name", "shared"),
    ]
    workers = [
        subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=600)[0].decode() for worker in workers]
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-2000:]
    trials = load(tmp_path, "shared").trials
    assert sorted(trial.number for trial in trials) == [0, 1, 2, 3]
    assert {trial.state for trial in trials} == {COMPLETE}
    assert len({trial.user_attrs["run_dir"] for trial in trials}) == 4


REFUSALS = {
    "n_trials": (["--n_trials", "two"], "argument --n_trials: 'two' is not allowed"),
    "timeout": (["--timeout", "-5"], "argument --timeout: '-5' is not allowed"),
    "storage": (["--storage", "nosuchdb://x"], "error: --storage nosuchdb://x: "),
    "ckpt_path": (["--ckpt_path", "last"], "error: --ckpt_path: every trial trains from"),
    "no-validation": (
        [FLAG["limit_val_batches"], "0"],
        f"error: {FLAG['limit_val_batches']} 0: trials",
    ),
    "train-flag": ([FLAG["max_epochs"], "0"], "0 is not allowed: give -1 (no limit)"),
}


@pytest.mark.parametrize(("flags", "message"), REFUSALS.values(), ids=REFUSALS)
def test_bad_input_is_one_line_and_a_failure(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*settings_flags(default_root_dir=tmp_path), *flags])
    code = exit_info.value.code
    said = capsys.readouterr().err + (code if isinstance(code, str) else "")
    assert code not in (0, None) and message in said
    assert len(said.strip().splitlines()) == 1
    assert not (tmp_path / "optuna.db").exists()


def test_a_read_only_root_folder_is_one_line(read_only_folder):
    root = read_only_folder / "runs"
    with pytest.raises(SystemExit) as exit_info:
        main([*settings_flags(default_root_dir=root), "--n_trials", "1"])
    message = str(exit_info.value.code)
    assert message == f"error: {root}: cannot write the study there (Read-only file system)"


def test_a_study_that_maximizes_is_refused(tmp_path):
    storage = f"sqlite:///{tmp_path / 'other.db'}"
    optuna.create_study(study_name="accuracy", storage=storage, direction="maximize")
    with pytest.raises(SystemExit) as exit_info:
        main(["--storage", storage, "--study_name", "accuracy"])
    assert "maximizes its objective" in str(exit_info.value.code)
