"""train.py end to end, in this process: LightningCLI's subcommands, configs and checkpoints."""

import shutil
import sys

import numpy as np
import pytest
import torch
import yaml

from {{ cookiecutter.package_name }}.model import DATA_ARGUMENTS

from train import main


def fit(data_dir, root_dir, *flags):
    """Run `train.py fit` on a couple of batches and return the CLI object."""
    return main(
        [
            "fit",
            *("--data.data_dir", str(data_dir), "--trainer.default_root_dir", str(root_dir)),
            *("--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"),
            *("--trainer.limit_val_batches", "1", "--trainer.log_every_n_steps", "1"),
            *("--data.num_workers", "0", "--trainer.enable_model_summary", "false"),
            *flags,
        ]
    )


def evaluate(subcommand, data_dir, root_dir, *flags):
    return main(
        [
            subcommand,
            *("--data.data_dir", str(data_dir), "--trainer.default_root_dir", str(root_dir)),
            *("--trainer.limit_test_batches", "1", "--trainer.limit_val_batches", "1"),
            *("--data.num_workers", "0", "--trainer.limit_predict_batches", "1"),
            *flags,
        ]
    )


def test_fit_then_test_the_best_checkpoint(data_dir, tmp_path):
    cli = fit(data_dir, tmp_path)
    assert cli.trainer.state.finished
    tested = evaluate("test", data_dir, tmp_path, "--ckpt_path", "best")
    assert "test_acc" in tested.trainer.callback_metrics
    (best,) = tmp_path.rglob("best.ckpt")
    saved = torch.load(best, weights_only=True)["state_dict"]
    for name, tensor in tested.model.state_dict().items():
        assert torch.equal(tensor, saved[name]), name


@pytest.mark.parametrize("subcommand", ["validate", "test", "predict"])
def test_evaluating_needs_a_checkpoint(data_dir, tmp_path, subcommand):
    with pytest.raises(SystemExit) as exit_info:
        evaluate(subcommand, data_dir, tmp_path)
    assert str(exit_info.value.code).startswith(f"error: {subcommand} needs --ckpt_path")


def test_everything_goes_under_the_chosen_root(data_dir, tmp_path):
    fit(data_dir, tmp_path / "runs")
    assert not (tmp_path / "outputs").exists()
    assert len(list((tmp_path / "runs").rglob("last.ckpt"))) == 1
    assert len(list((tmp_path / "runs").rglob("config.yaml"))) == 1


def test_config_defaults_and_overrides_reach_the_objects(data_dir, tmp_path):
    cli = fit(data_dir, tmp_path, "--model.learning_rate", "0.01", "--data.batch_size", "16")
    assert cli.model.hparams.learning_rate == 0.01
    assert cli.datamodule.hparams.batch_size == 16
    assert cli.trainer.max_epochs == 1
    assert cli.config.fit.seed_everything == 42
    assert cli.datamodule.hparams.seed == 42
    (last,) = tmp_path.rglob("last.ckpt")
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["hyper_parameters"]["learning_rate"] == 0.01
    assert "batch_size" not in checkpoint["hyper_parameters"]


def test_the_model_is_built_from_the_data_report(data_dir, tmp_path):
    cli = fit(data_dir, tmp_path)
    for name in DATA_ARGUMENTS:
        assert cli.model.hparams[name] == cli.datamodule.report[name]
    (last,) = tmp_path.rglob("last.ckpt")
    saved = torch.load(last, weights_only=True)["hyper_parameters"]
    assert saved["num_classes"] == cli.datamodule.report["num_classes"]


@pytest.mark.npy
@pytest.mark.parametrize(
    "inputs",
    [
        np.random.default_rng(0).integers(0, 256, (60, 3, 12, 12), dtype=np.uint8),
        np.random.default_rng(0).random((60, 20, 16), dtype=np.float32),
        np.random.default_rng(0).normal(50, 10, (60, 9)),
    ],
    ids=["rgb-uint8", "grayscale-float", "feature-table"],
)
def test_own_data_of_any_kind_trains_with_no_code_change(tmp_path, inputs):
    folder = tmp_path / "mine"
    folder.mkdir()
    np.save(folder / "inputs.npy", inputs)
    np.save(folder / "labels.npy", np.arange(60) % 4)
    cli = fit(folder, tmp_path / "outputs")
    assert cli.model.hparams.num_classes == 4
    assert tuple(cli.model.hparams.input_shape) == cli.datamodule.report["input_shape"]


def test_switching_off_checkpoints_and_the_progress_bar(data_dir, tmp_path):
    flags = ["--trainer.enable_checkpointing", "false", "--trainer.enable_progress_bar", "false"]
    cli = fit(data_dir, tmp_path, *flags)
    assert cli.trainer.checkpoint_callback is None
    assert cli.trainer.progress_bar_callback is None
    assert not list(tmp_path.rglob("*.ckpt"))


def test_config_file_sets_values(data_dir, tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump({"model": {"channels": 8}, "seed_everything": 7}))
    cli = fit(data_dir, tmp_path, "--config", str(config))
    assert cli.model.hparams.channels == 8
    assert cli.config.fit.seed_everything == 7
    assert cli.datamodule.hparams.seed == 7


def test_print_config_shows_every_section(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--print_config"])
    assert exit_info.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["seed_everything"] == 42
    assert config["model"]["learning_rate"] == 0.003
    assert config["data"]["data_dir"] == "data"
    assert config["trainer"]["max_epochs"] == 8


def test_resume_from_last_continues_with_the_checkpoint_settings(data_dir, tmp_path):
    fit(data_dir, tmp_path, "--model.channels", "8")
    cli = fit(data_dir, tmp_path, "--ckpt_path", "last", "--trainer.max_epochs", "2")
    assert cli.trainer.current_epoch == 2
    assert cli.model.hparams.channels == 8


def test_resume_refuses_a_setting_that_contradicts_the_checkpoint(data_dir, tmp_path):
    fit(data_dir, tmp_path, "--model.channels", "8")
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path, "--ckpt_path", "last", "--model.channels", "16")
    assert "it was trained with --model.channels 8, not 16" in str(exit_info.value.code)


def test_last_is_the_newest_run_and_a_setting_that_contradicts_it_is_refused(data_dir, tmp_path):
    fit(data_dir, tmp_path, "--model.channels", "8")
    fit(data_dir, tmp_path, "--model.channels", "16")
    newest = max(tmp_path.rglob("last.ckpt"), key=lambda path: path.stat().st_mtime)
    # The older run has channels 8, but last means the newest: it is refused, not skipped.
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path, "--ckpt_path", "last", "--model.channels", "8")
    assert str(exit_info.value.code) == (
        f"error: --ckpt_path last ({newest}): it was trained with --model.channels 16, not 8"
    )


def test_resume_refuses_another_seed_and_keeps_the_checkpoints_own(data_dir, tmp_path):
    fit(data_dir, tmp_path, "--seed_everything", "7")
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path, "--ckpt_path", "last", "--seed_everything", "8")
    assert "it was trained with --seed_everything 7, not 8" in str(exit_info.value.code)
    resumed = fit(data_dir, tmp_path, "--ckpt_path", "last", "--trainer.max_epochs", "2")
    assert resumed.datamodule.hparams.seed == 7


def test_resuming_from_best_goes_back_to_the_best_epoch(data_dir, tmp_path):
    fit(data_dir, tmp_path)
    (best,) = tmp_path.rglob("best.ckpt")
    fit(data_dir, tmp_path / "again", "--ckpt_path", str(best), "--trainer.max_epochs", "2")
    (last,) = (tmp_path / "again").rglob("last.ckpt")
    assert torch.load(last, weights_only=True)["epoch"] == 1


def test_last_without_a_checkpoint_says_so(data_dir, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path, "--ckpt_path", "last")
    assert "no last.ckpt under" in str(exit_info.value.code)


@pytest.mark.parametrize(
    ("seed", "message"),
    [("true", "seed_everything: give a number"), ("-1", "seed_everything -1 is not allowed")],
)
def test_a_seed_that_is_not_a_usable_number_is_refused(data_dir, tmp_path, capsys, seed, message):
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path / "runs", "--seed_everything", seed)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


BAD_SETTINGS = {
    "batch-size-zero": (["--data.batch_size", "0"], "batch_size 0 is not allowed"),
    "workers-negative": (["--data.num_workers", "-1"], "num_workers -1 is not allowed"),
    "max-epochs-zero": (["--trainer.max_epochs", "0"], "trainer.max_epochs 0 is not allowed"),
    "barebones": (["--trainer.barebones", "true"], "trainer.barebones is not available"),
    # The model's and the data's settings take the ranges their ALLOWED gives them.
    "learning-rate-negative": (["--model.learning_rate", "-1"], "model.learning_rate -1.0 is not"),
    "dropout-above-1": (["--model.dropout", "1.5"], "model.dropout 1.5 is not allowed"),
    "channels-zero": (["--model.channels", "0"], "model.channels 0 is not allowed"),
    "lr-decay-zero": (["--model.lr_decay", "0"], "model.lr_decay 0.0 is not allowed"),
    "val-fraction-zero": (["--data.val_fraction", "0"], "data.val_fraction 0.0 is not allowed"),
}


@pytest.mark.parametrize(("flags", "message"), BAD_SETTINGS.values(), ids=BAD_SETTINGS)
def test_bad_settings_exit_with_one_line_and_no_run_folder(data_dir, tmp_path, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path / "runs", *flags)
    assert message in str(exit_info.value.code)
    assert "\n" not in str(exit_info.value.code)
    assert not (tmp_path / "runs").exists()


def test_missing_accelerator_is_one_line_and_no_run_folder(data_dir, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path / "runs", "--trainer.accelerator", "gpu")
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message
    # No run folder; a logger's own store (MLflow's) may exist already.
    assert not list((tmp_path / "runs").rglob("version_*"))


CONFIG_MISTAKES = {
    "unknown-key": (
        {"trainer": {"max_epoch": 3}},
        "trainer.max_epoch: no such option; did you mean trainer.max_epochs?",
    ),
    "wrong-type": ({"model": {"learning_rate": "fast"}}, "model.learning_rate: Expected a float"),
}


@pytest.mark.parametrize(("content", "message"), CONFIG_MISTAKES.values(), ids=CONFIG_MISTAKES)
def test_a_config_mistake_is_one_line_naming_the_file_and_the_key(
    data_dir, tmp_path, capsys, content, message
):
    config = tmp_path / "my.yaml"
    config.write_text(yaml.safe_dump(content))
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path / "runs", "--config", str(config))
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {config}: {message}")
    assert not (tmp_path / "runs").exists()


def test_a_missing_config_file_is_one_line(data_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path / "runs", "--config", "missing.yaml")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --config missing.yaml: no such file"
    assert not (tmp_path / "runs").exists()


def test_without_validation_it_trains_and_says_what_it_skips(data_dir, tmp_path, lightning_log):
    cli = fit(data_dir, tmp_path, "--trainer.limit_val_batches", "0")
    assert cli.trainer.state.finished and cli.trainer.early_stopping_callback is None
    (last,) = tmp_path.rglob("*.ckpt")
    assert last.name == "last.ckpt"
    assert "No validation (--trainer.limit_val_batches 0): no early stopping and no best.ckpt" in (
        lightning_log.text
    )
    assert "Best checkpoint" not in lightning_log.text
    assert f"No best checkpoint (no epoch was validated): the final weights are in {last}" in (
        lightning_log.text
    )
    tested = evaluate("test", data_dir, tmp_path, "--ckpt_path", "last")
    assert "test_acc" in tested.trainer.callback_metrics
    saved = torch.load(last, weights_only=True)["state_dict"]
    for name, tensor in tested.model.state_dict().items():
        assert torch.equal(tensor, saved[name]), name


def test_fit_names_the_best_checkpoint(data_dir, tmp_path, lightning_log):
    fit(data_dir, tmp_path)
    (best,) = tmp_path.rglob("best.ckpt")
    assert f"Best checkpoint: {best}" in lightning_log.text


def own_data(folder, num_features=9, classes=4, labelled=True, scale=1.0):
    """A small table of features in the project's format: inputs.npy, and labels.npy."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(folder / "inputs.npy", rng.normal(50, 10, (60, num_features)) * scale)
    if labelled:
        np.save(folder / "labels.npy", np.arange(60) % classes)
    return folder


# The file to spoil, what to write there (None: remove the folder), and what the error names.
BAD_DATA = {
    "negative-labels": ("labels.npy", -np.ones(60, int), "labels.npy"),
    "count-mismatch": ("labels.npy", np.zeros(59, int), ""),
    "rank-5-inputs": ("inputs.npy", np.zeros((60, 1, 2, 3, 4)), "inputs.npy"),
    "missing-folder": ("", None, ""),
}


@pytest.mark.parametrize(("spoiled", "content", "culprit"), BAD_DATA.values(), ids=BAD_DATA)
@pytest.mark.npy
def test_bad_data_exits_with_one_line_naming_the_file_and_no_run_folder(
    tmp_path, spoiled, content, culprit
):
    folder = own_data(tmp_path / "mine")
    if content is None:
        shutil.rmtree(folder)
    else:
        np.save(folder / spoiled, content)
    with pytest.raises(SystemExit) as exit_info:
        fit(folder, tmp_path / "runs")
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message
    assert str(folder / culprit) in message
    assert not (tmp_path / "runs").exists()


def test_a_num_classes_flag_is_refused_in_one_line(data_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        fit(data_dir, tmp_path / "runs", "--model.num_classes", "3")
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == 'error: Linked "model.num_classes" must be given via "data".'
    assert not (tmp_path / "runs").exists()


@pytest.mark.npy
def test_print_config_shows_what_the_data_gives_the_model(tmp_path, capsys):
    folder = own_data(tmp_path / "mine")
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--data.data_dir", str(folder), "--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    # As comments: the printed config still loads with --config, where they are not options.
    assert yaml.safe_load(printed)["data"]["data_dir"] == str(folder)
    heading = f"# Linked from the data, not options of their own ({folder}):\n"
    linked = yaml.safe_load(printed.split(heading, 1)[1].replace("# ", ""))
    assert linked["model"]["input_shape"] == [9]
    assert linked["model"]["num_classes"] == 4
    assert len(linked["model"]["input_mean"]) == 9


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """A run trained on a 9-feature table in 4 classes: (its root folder, its data folder)."""
    root = tmp_path_factory.mktemp("table_run")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(root)
        monkeypatch.setattr(sys, "argv", ["train.py"])
        fit(own_data(root / "table"), root / "runs")
    return root / "runs", root / "table"


@pytest.mark.parametrize("subcommand", ["fit", "validate", "test", "predict"])
@pytest.mark.npy
def test_new_data_that_does_not_fit_the_checkpoint_is_one_line(table_run, tmp_path, subcommand):
    runs, _ = table_run
    (best,) = runs.rglob("best.ckpt")
    run = fit if subcommand == "fit" else lambda *args: evaluate(subcommand, *args)
    wider = own_data(tmp_path / "wider", num_features=10)
    more_classes = own_data(tmp_path / "more", classes=6)
    expected = {
        wider: f"{wider / 'inputs.npy'} holds inputs shaped (10,);"
        " the checkpoint was trained on (9,)",
        more_classes: f"{more_classes / 'labels.npy'} holds label 5; the checkpoint was trained on"
        " 4 classes, 0 to 3",
    }
    for folder, message in expected.items():
        with pytest.raises(SystemExit) as exit_info:
            run(folder, tmp_path / "runs", "--ckpt_path", str(best))
        assert str(exit_info.value.code) == f"error: --ckpt_path {best}: {message}"
    assert not (tmp_path / "runs").exists()


@pytest.mark.npy
def test_a_checkpoint_keeps_its_classes_and_scaling_on_new_data(table_run, tmp_path):
    runs, _ = table_run
    (best,) = runs.rglob("best.ckpt")
    saved = torch.load(best, weights_only=True)["hyper_parameters"]
    # Fewer classes and another scale: the model is still the checkpoint's.
    fewer = own_data(tmp_path / "fewer", classes=2, scale=10.0)
    tested = evaluate("test", fewer, runs, "--ckpt_path", "best")
    assert tested.datamodule.report["num_classes"] == 2
    for name in ("input_shape", "num_classes", "input_mean", "input_std"):
        assert tested.model.hparams[name] == saved[name], name
    (last,) = runs.rglob("last.ckpt")
    resumed = fit(fewer, tmp_path / "again", "--ckpt_path", str(last), "--trainer.max_epochs", "2")
    assert resumed.model.hparams.num_classes == saved["num_classes"]
    assert resumed.model.hparams.input_mean == saved["input_mean"]


@pytest.mark.npy
def test_predict_with_a_checkpoint_needs_no_labels(table_run, tmp_path):
    runs, _ = table_run
    unlabelled = own_data(tmp_path / "new", labelled=False)
    predicted = evaluate("predict", unlabelled, runs, "--ckpt_path", "best")
    assert predicted.trainer.state.finished
    assert predicted.model.hparams.num_classes == 4
