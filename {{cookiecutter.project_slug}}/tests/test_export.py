"""export.py writes an ONNX file that onnxruntime runs as PyTorch runs the model, at any batch."""

import gc
import sys
import weakref

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.dataset_class }}
from {{ cookiecutter.package_name }}.machinery.loading import load_model
from {{ cookiecutter.package_name }}.machinery.onnx_export import ATOL, OPSET, RTOL
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}

from conftest import FLAG, run_flags
from export import main as export
from train import main as train


@pytest.fixture(scope="module")
def run_root(data_dir, tmp_path_factory):
    """The root folder of one brief train.py run, with its best.ckpt and last.ckpt."""
    root = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(root)
        monkeypatch.setattr(sys, "argv", ["train.py"])
        train(run_flags(data_dir, root, FLAG["max_epochs"], "1", FLAG["num_workers"], "0"))
    return root


def export_flags(run_root, data_dir, output, ckpt_path="best"):
    return [
        *("--ckpt_path", ckpt_path, "--default_root_dir", str(run_root)),
        *("--data_dir", str(data_dir), "--output", str(output)),
    ]


def test_onnxruntime_computes_what_pytorch_does_at_batch_sizes_1_and_7(
    run_root, data_dir, tmp_path, capsys
):
    output = tmp_path / "model.onnx"
    export(export_flags(run_root, data_dir, output))
    assert "largest difference" in capsys.readouterr().out
    (checkpoint,) = run_root.rglob("best.ckpt")
    model = load_model({{ cookiecutter.model_class }}, checkpoint)
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    (graph_input,) = session.get_inputs()
    # Inputs as the Dataset gives them, unscaled, with a batch axis of any size.
    assert graph_input.type == "tensor(float)"
    assert graph_input.shape[1:] == list(model.hparams.input_shape)
    assert isinstance(graph_input.shape[0], str)
    dataset = {{ cookiecutter.dataset_class }}(data_dir)
    for size in (1, 7):
        inputs = torch.stack([dataset[index][0] for index in range(size)])
        with torch.no_grad():
            expected = model(inputs).numpy()
        (outputs,) = session.run(None, {graph_input.name: inputs.numpy()})
        np.testing.assert_allclose(outputs, expected, rtol=RTOL, atol=ATOL)
    opsets = {opset.domain: opset.version for opset in onnx.load(output).opset_import}
    assert opsets[""] == OPSET


def expect_error(arguments, message, output):
    """export.py stops with one line holding `message`, and leaves `output` as it was."""
    output.write_bytes(b"an earlier export")
    with pytest.raises(SystemExit) as exit_info:
        export(arguments)
    assert message in str(exit_info.value.code)
    assert "\n" not in str(exit_info.value.code)
    assert output.read_bytes() == b"an earlier export"
    assert [path.name for path in output.parent.iterdir()] == [output.name]  # no temporary file


@pytest.fixture
def off_by_one(monkeypatch):
    """onnxruntime made to compute 1 more than PyTorch; yields a weak reference to each session."""
    sessions = []

    class OffByOne(onnxruntime.InferenceSession):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sessions.append(weakref.ref(self))

        def run(self, *args, **kwargs):
            return [outputs + 1.0 for outputs in super().run(*args, **kwargs)]

    monkeypatch.setattr(onnxruntime, "InferenceSession", OffByOne)
    return sessions


def test_a_runtime_that_computes_otherwise_fails_the_check(
    run_root, data_dir, tmp_path, off_by_one
):
    output = tmp_path / "out" / "model.onnx"
    output.parent.mkdir()
    message = "onnxruntime differs from PyTorch by up to 1 on a batch of 1, beyond the tolerance"
    expect_error(export_flags(run_root, data_dir, output), message, output)


def test_a_failed_check_leaves_no_session_for_a_forked_process_to_free(
    run_root, data_dir, tmp_path, off_by_one
):
    # A session the error's traceback kept would be freed by the garbage collector, perhaps
    # in a DataLoader worker forked later, which then hangs on the locks of onnxruntime's
    # threads. With the collector off, only a session already freed is gone.
    output = tmp_path / "model.onnx"
    gc.disable()
    try:
        with pytest.raises(SystemExit) as exit_info:
            export(export_flags(run_root, data_dir, output))
        assert "onnxruntime differs from PyTorch" in str(exit_info.value.code)
        assert off_by_one and all(session() is None for session in off_by_one)
    finally:
        gc.enable()


def test_a_bad_checkpoint_is_one_line(run_root, data_dir, tmp_path):
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    empty_root = tmp_path / "no_runs"
    empty_root.mkdir()
    output = tmp_path / "out" / "model.onnx"
    output.parent.mkdir()
    cases = [
        (export_flags(run_root, data_dir, output, str(tmp_path / "missing.ckpt")), "no such file"),
        (export_flags(run_root, data_dir, output, str(foreign)), "not a LightningModule's"),
        (export_flags(empty_root, data_dir, output), f"no best.ckpt under {empty_root}"),
    ]
    for arguments, message in cases:
        expect_error(arguments, message, output)


def test_an_output_that_cannot_be_written_is_one_line(run_root, data_dir, tmp_path):
    output = tmp_path / "missing_folder" / "model.onnx"
    with pytest.raises(SystemExit) as exit_info:
        export(export_flags(run_root, data_dir, output))
    message = f"error: --output {output}: cannot write (No such file or directory)"
    assert exit_info.value.code == message


@pytest.mark.npy
def test_data_of_another_shape_is_one_line(run_root, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    np.save(other / "inputs.npy", np.zeros((3, 5, 5)))
    output = tmp_path / "out" / "model.onnx"
    output.parent.mkdir()
    message = f"{other / 'inputs.npy'} holds inputs shaped (1, 5, 5)"
    expect_error(export_flags(run_root, other, output), message, output)
