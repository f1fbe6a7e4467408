"""train.py end to end, in this process: the three argument groups, own data, and refusals."""

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}

from train import build_parser, main


def short_run(data_dir, root, *flags):
    """Flags for a run of a few batches, quiet and with no DataLoader workers."""
    return [
        *("--data_dir", str(data_dir), "--default_root_dir", str(root)),
        *("--max_epochs", "1", "--limit_train_batches", "2", "--limit_val_batches", "1"),
        *("--limit_test_batches", "1", "--log_every_n_steps", "1", "--num_workers", "0"),
        *("--enable_progress_bar", "false", "--enable_model_summary", "false"),
        *flags,
    ]


def test_fast_dev_run_trains_validates_and_tests(data_dir, tmp_path):
    metrics = main(
        ["--fast_dev_run", "1", "--data_dir", str(data_dir), "--default_root_dir", str(tmp_path)]
    )
    assert set(metrics) == {"test_loss", "test_acc"}
    assert 0.0 <= metrics["test_acc"] <= 1.0


def test_help_shows_the_three_groups_in_order(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    headings = ["Trainer:", "{{ cookiecutter.model_class }}:", "Program:"]
    positions = [help_text.index(heading) for heading in headings]
    assert positions == sorted(positions)
    for flag in ("--data_dir", "--learning_rate", "--accelerator", "--devices", "--num_nodes"):
        assert flag in help_text


def test_checkpoint_holds_the_model_and_data_settings(data_dir, tmp_path):
    main(short_run(data_dir, tmp_path, "--channels", "8", "--batch_size", "16", "--seed", "7"))
    (last,) = tmp_path.rglob("last.ckpt")
    checkpoint = torch.load(last, weights_only=True)
    hyperparameters = checkpoint["hyper_parameters"]
    assert hyperparameters["channels"] == 8
    datamodule = {{ cookiecutter.datamodule_class }}(data_dir=str(data_dir))
    input_shape = datamodule.report["input_shape"]
    assert tuple(hyperparameters["input_shape"]) == input_shape
    assert "batch_size" not in hyperparameters and "max_epochs" not in hyperparameters
    assert checkpoint["datamodule_hyper_parameters"]["batch_size"] == 16
    # The seed is recorded with the run's hyperparameters, as the data module's.
    assert checkpoint["datamodule_hyper_parameters"]["seed"] == 7


OWN_DATA = {
    "rgb-uint8": lambda rng: rng.integers(0, 256, (60, 3, 12, 12), dtype=np.uint8),
    "grayscale-float": lambda rng: rng.random((60, 20, 16), dtype=np.float32),
    "feature-table": lambda rng: rng.normal(50, 10, (60, 9)),
}


@pytest.mark.npy
@pytest.mark.parametrize("make_inputs", OWN_DATA.values(), ids=OWN_DATA)
def test_own_data_of_any_kind_trains_with_no_code_change(tmp_path, make_inputs):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mine"
    folder.mkdir()
    np.save(folder / "inputs.npy", make_inputs(rng))
    np.save(folder / "labels.npy", np.arange(60) % 4)
    metrics = main(short_run(folder, tmp_path / "outputs"))
    assert set(metrics) == {"test_loss", "test_acc"}
    (last,) = tmp_path.rglob("last.ckpt")
    assert torch.load(last, weights_only=True)["hyper_parameters"]["num_classes"] == 4


def test_num_classes_may_add_room_but_never_contradict_the_labels(data_dir, tmp_path):
    datamodule = {{ cookiecutter.datamodule_class }}(data_dir=str(data_dir))
    num_classes = datamodule.report["num_classes"]
    more = str(num_classes + 2)
    main(short_run(data_dir, tmp_path / "more", "--num_classes", more))
    (last,) = (tmp_path / "more").rglob("last.ckpt")
    assert torch.load(last, weights_only=True)["hyper_parameters"]["num_classes"] == int(more)
    with pytest.raises(SystemExit) as exit_info:
        main(short_run(data_dir, tmp_path / "fewer", "--num_classes", str(num_classes - 1)))
    message = str(exit_info.value.code)
    assert message.startswith(f"error: --num_classes {num_classes - 1} contradicts")
    assert not (tmp_path / "fewer").exists()


def test_without_validation_it_still_trains_and_tests(data_dir, tmp_path, lightning_log):
    metrics = main(short_run(data_dir, tmp_path, "--limit_val_batches", "0"))
    assert "test_acc" in metrics
    (last,) = tmp_path.rglob("*.ckpt")
    assert last.name == "last.ckpt"
    assert "No validation (--limit_val_batches 0): no early stopping and no best.ckpt" in (
        lightning_log.text
    )
    # last.ckpt is not the best one: the line says which weights were tested.
    assert "Best checkpoint" not in lightning_log.text
    tested = (
        f"No best checkpoint (no epoch was validated): the final weights are in {last};"
        " those were tested"
    )
    assert tested in lightning_log.text


def test_resume_takes_the_settings_from_the_checkpoint(data_dir, tmp_path):
    main(short_run(data_dir, tmp_path, "--channels", "8", "--batch_size", "16"))
    main(short_run(data_dir, tmp_path, "--ckpt_path", "last", "--max_epochs", "2"))
    newest = max(tmp_path.rglob("last.ckpt"), key=lambda path: path.stat().st_mtime)
    checkpoint = torch.load(newest, weights_only=True)
    assert checkpoint["epoch"] == 1
    assert checkpoint["hyper_parameters"]["channels"] == 8
    assert checkpoint["datamodule_hyper_parameters"]["batch_size"] == 16


def test_resume_refuses_a_flag_that_contradicts_the_checkpoint(data_dir, tmp_path):
    main(short_run(data_dir, tmp_path, "--channels", "8"))
    with pytest.raises(SystemExit) as exit_info:
        main(short_run(data_dir, tmp_path, "--ckpt_path", "last", "--channels", "16"))
    message = str(exit_info.value.code)
    assert "it was trained with --channels 8, not 16" in message


def test_last_is_the_newest_run_and_a_flag_that_contradicts_it_is_refused(data_dir, tmp_path):
    main(short_run(data_dir, tmp_path, "--channels", "8"))
    main(short_run(data_dir, tmp_path, "--channels", "16"))
    newest = max(tmp_path.rglob("last.ckpt"), key=lambda path: path.stat().st_mtime)
    # The older run has --channels 8, but last means the newest: it is refused, not skipped.
    with pytest.raises(SystemExit) as exit_info:
        main(short_run(data_dir, tmp_path, "--ckpt_path", "last", "--channels", "8"))
    message = str(exit_info.value.code)
    assert message == (
        f"error: --ckpt_path last ({newest}): it was trained with --channels 16, not 8"
    )


def table_of(folder, num_features=9, classes=4):
    """A small table of features in the project's format."""
    folder.mkdir()
    np.save(folder / "inputs.npy", np.random.default_rng(0).normal(50, 10, (60, num_features)))
    np.save(folder / "labels.npy", np.arange(60) % classes)
    return folder


@pytest.mark.npy
def test_resume_refuses_data_that_does_not_fit_the_checkpoint(tmp_path):
    main(short_run(table_of(tmp_path / "table"), tmp_path / "runs"))
    wider = table_of(tmp_path / "wider", num_features=10)
    more_classes = table_of(tmp_path / "more", classes=6)
    expected = {
        wider: f"{wider / 'inputs.npy'} holds inputs shaped (10,);"
        " the checkpoint was trained on (9,)",
        more_classes: f"{more_classes / 'labels.npy'} holds label 5;"
        " the checkpoint was trained on 4 classes, 0 to 3",
    }
    (last,) = tmp_path.rglob("last.ckpt")
    for folder, message in expected.items():
        with pytest.raises(SystemExit) as exit_info:
            main(short_run(folder, tmp_path / "again", "--ckpt_path", str(last)))
        assert str(exit_info.value.code) == f"error: --ckpt_path {last}: {message}"
    assert not (tmp_path / "again").exists()


def test_resuming_from_best_goes_back_to_the_best_epoch(data_dir, tmp_path):
    main(short_run(data_dir, tmp_path))
    (best,) = tmp_path.rglob("best.ckpt")
    main(short_run(data_dir, tmp_path / "again", "--ckpt_path", str(best), "--max_epochs", "2"))
    (last,) = (tmp_path / "again").rglob("last.ckpt")
    assert torch.load(last, weights_only=True)["epoch"] == 1


def test_last_without_a_checkpoint_says_so(data_dir, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(short_run(data_dir, tmp_path / "runs", "--ckpt_path", "last"))
    assert "no last.ckpt under" in str(exit_info.value.code)
    assert not (tmp_path / "runs").exists()


BAD_FLAGS = {
    "wrong-type": (["--max_epochs", "ten"], "--max_epochs"),
    "unknown-flag": (["--no_such_flag"], "--no_such_flag"),
    "batch-size-zero": (["--batch_size", "0"], "--batch_size"),
    "batch-size-negative": (["--batch_size", "-5"], "--batch_size"),
    "workers-negative": (["--num_workers", "-1"], "--num_workers"),
    "seed-negative": (["--seed", "-1"], "--seed"),
    "seed-too-large": (["--seed", "99999999999"], "--seed"),
    "max-epochs-zero": (["--max_epochs", "0"], "--max_epochs"),
    "patience-zero": (["--patience", "0"], "--patience"),
    # Lightning's barebones mode refuses the logger and callbacks every run here has.
    "barebones": (["--barebones", "true"], "--barebones"),
    "one-class": (["--num_classes", "1"], "--num_classes"),
    # The model's flags take the ranges model.py's ALLOWED gives them.
    "learning-rate-negative": (["--learning_rate", "-1"], "--learning_rate"),
    "learning-rate-nan": (["--learning_rate", "nan"], "--learning_rate"),
    "dropout-above-1": (["--dropout", "1.5"], "--dropout"),
    "channels-zero": (["--channels", "0"], "--channels"),
    "hidden-units-zero": (["--hidden_units", "0"], "--hidden_units"),
    "lr-decay-zero": (["--lr_decay", "0"], "--lr_decay"),
    "weight-decay-negative": (["--weight_decay", "-0.1"], "--weight_decay"),
}


@pytest.mark.parametrize(("flags", "culprit"), BAD_FLAGS.values(), ids=BAD_FLAGS)
def test_bad_flags_exit_with_one_line(capsys, tmp_path, flags, culprit):
    with pytest.raises(SystemExit) as exit_info:
        main([*flags, "--default_root_dir", str(tmp_path / "runs")])
    assert exit_info.value.code == 2
    error_lines = capsys.readouterr().err.strip().splitlines()
    assert len(error_lines) == 1
    assert culprit in error_lines[0]
    assert not (tmp_path / "runs").exists()


@pytest.mark.npy
def test_mistyped_data_dir_is_one_clear_error_and_gets_no_data(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["--data_dir", str(tmp_path / "dta"), "--fast_dev_run", "1"])
    assert (
        str(exit_info.value.code)
        == f"error: data_dir {tmp_path / 'dta'}: no inputs.npy there (see README.md)"
    )
    assert not (tmp_path / "dta").exists()
    assert not (tmp_path / "outputs").exists()


@pytest.mark.npy
@pytest.mark.parametrize("content", [b"", b"\x93NUMPY garbage"], ids=["empty", "malformed"])
def test_broken_data_file_is_one_clear_error(data_dir, tmp_path, content):
    (tmp_path / "inputs.npy").write_bytes((data_dir / "inputs.npy").read_bytes())
    (tmp_path / "labels.npy").write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["--data_dir", str(tmp_path), "--fast_dev_run", "1"])
    assert str(exit_info.value.code).startswith(f"error: {tmp_path / 'labels.npy'}: ")
    assert (tmp_path / "labels.npy").read_bytes() == content


def test_corrupt_checkpoint_exits_without_a_traceback(data_dir, tmp_path, capfd):
    checkpoint = tmp_path / "broken.ckpt"
    checkpoint.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SystemExit) as exit_info:
        main(short_run(data_dir, tmp_path / "runs", "--ckpt_path", str(checkpoint)))
    # Exiting with a message, Python prints it last and ends with status 1.
    message = exit_info.value.code
    assert isinstance(message, str) and message.startswith(f"error: --ckpt_path {checkpoint}")
    assert "Traceback" not in capfd.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_missing_accelerator_is_one_line_and_no_run_folder(data_dir, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit) as exit_info:
        main(short_run(data_dir, tmp_path / "runs", "--accelerator", "gpu"))
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message
    # No run folder; a logger's own store (MLflow's) may exist already.
    assert not list((tmp_path / "runs").rglob("version_*"))


def test_diverging_loss_stops_with_one_line_and_a_failure(data_dir, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(short_run(data_dir, tmp_path, "--learning_rate", "1e12", "--max_epochs", "3"))
    message = str(exit_info.value.code)
    assert message.startswith("error: epoch ")
    assert "val_loss is nan" in message and "lower learning rate" in message
