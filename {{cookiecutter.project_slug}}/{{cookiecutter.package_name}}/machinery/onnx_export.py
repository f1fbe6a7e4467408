"""ONNX export with torch's dynamo exporter, and a check of the file with onnxruntime."""

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime
import pytorch_lightning as pl
import torch

from .errors import ExportError

# ONNX's operator set 18 is the one torch's exporter writes natively (newer ones are converted
# from it), and onnxruntime runs it from release 1.14 on.
OPSET = 18
INPUT_NAME = "inputs"
OUTPUT_NAME = "outputs"
# How close onnxruntime must come to PyTorch: Lightning's own ONNX tests use these. A
# difference d passes where d <= ATOL + RTOL * |PyTorch's value|, as in numpy's allclose.
ATOL = 1e-5
RTOL = 1e-3
# The example batch the graph is traced with: more than one, or the exporter may fix the
# batch axis at 1 although it is declared dynamic.
EXAMPLE_BATCH = 2


def onnx_bytes(model: pl.LightningModule, input_shape: tuple[int, ...]) -> bytes:
    """The model's forward as an ONNX graph: float32 inputs (batch, *input_shape), any batch."""
    model.eval()  # to_onnx keeps the mode it is given: dropout off, BatchNorm's running statistics
    example = torch.zeros(EXAMPLE_BATCH, *input_shape)
    with warnings.catch_warnings(), quiet_exporter():
        # torch.export walks the model with a torch API that pytorch-lightning 2.6 still uses.
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
        program = model.to_onnx(
            None,  # no file: the caller writes the bytes, whole or not at all
            (example,),
            dynamo=True,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes={INPUT_NAME: {0: torch.export.Dim("batch")}},
            external_data=False,  # one self-contained file; models over 2 GB need external data
            verbose=False,
        )
    return program.model_proto.SerializeToString()


@contextmanager
def quiet_exporter() -> Iterator[None]:
    """Hide the exporter's notes that torchvision is missing: this model uses none of its ops."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_onnx_file(
    path: str | Path, model: pl.LightningModule, examples: torch.Tensor, batch_sizes: list[int]
) -> float:
    """Run the ONNX file with onnxruntime on batches of `examples`, and compare with PyTorch.

    Returns the largest absolute difference; raises ExportError beyond ATOL and RTOL.
    """
    batches = [examples[:size] for size in batch_sizes]
    largest = 0.0
    for inputs, outputs in zip(batches, onnxruntime_outputs(path, batches), strict=True):
        with torch.no_grad():
            expected = model.eval()(inputs).numpy()
        if outputs.shape != expected.shape:
            raise ExportError(
                f"{path}: onnxruntime gives outputs shaped {outputs.shape} for a batch of"
                f" {len(inputs)}; PyTorch gives {expected.shape}"
            )
        difference = float(np.abs(outputs - expected).max())
        if not np.allclose(outputs, expected, rtol=RTOL, atol=ATOL):
            raise ExportError(
                f"{path}: onnxruntime differs from PyTorch by up to {difference:.3g} on a batch"
                f" of {len(inputs)}, beyond the tolerance (atol {ATOL}, rtol {RTOL})"
            )
        largest = max(largest, difference)
    return largest


def onnxruntime_outputs(path: str | Path, batches: list[torch.Tensor]) -> list[np.ndarray]:
    """What onnxruntime computes for each batch; its session is gone before any check can fail."""
    # An error raised while the session lives would keep it, and its threads' locks, in the
    # traceback; a process forked later (a DataLoader worker) that frees it there would hang.
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [session.run([OUTPUT_NAME], {INPUT_NAME: batch.numpy()})[0] for batch in batches]
