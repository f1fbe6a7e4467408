"""The model behind an HTTP server, with LitServe: POST /predict answers one example a request."""

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import litserve
import numpy as np
import pytorch_lightning as pl
import torch
from fastapi.responses import JSONResponse

from .loading import load_model


@dataclass
class Problem:
    """What is wrong with one request: its answer is a 422 naming it."""

    message: str


class ModelAPI(litserve.LitAPI):
    """Takes {"inputs": one example as nested lists}; answers with predict.py's columns for it.

    Those are the fields of predict_step: README.md, "Use your own data", lists each task's.
    """

    # With batching on, LitServe decodes every request of a batch, then calls `batch`, then
    # `predict` once, then LitServe's own `unbatch` (list(output)), which hands each request
    # its item. An error raised there would fail every request of the batch alike, so a bad
    # request becomes a Problem instead, which predict passes by and encode_response answers.

    def __init__(
        self,
        model_class: type[pl.LightningModule],
        ckpt_path: str,
        max_batch_size: int = 1,
        batch_timeout: float = 0.0,
    ):
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout)
        self.model_class = model_class
        self.ckpt_path = ckpt_path

    def setup(self, device: str) -> None:
        """Load the model, once, in the worker process LitServe starts for `device`."""
        # Ctrl-C reaches every process of the terminal; the main one then ends this one itself.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.model = load_model(self.model_class, self.ckpt_path).to(device)
        self.input_shape = tuple(self.model.hparams.input_shape)

    def decode_request(self, request: dict) -> torch.Tensor | Problem:
        """The request's example as a float32 tensor shaped input_shape, or what is wrong."""
        # FastAPI has already refused a body that is not a JSON object, with a 422 of its own.
        if "inputs" not in request:
            return Problem('no "inputs" in the request: give one example as nested lists')
        try:
            array = np.asarray(request["inputs"])
        except ValueError:  # lists of unequal lengths
            return Problem(f"inputs are not a rectangular array: give {self.shapes()}")
        if array.dtype.kind not in "iuf":  # text, true or false, null
            return Problem("inputs must be numbers only")
        if self.single_channel() and array.shape == self.input_shape[1:]:
            array = array[np.newaxis]  # an (H, W) image is single-channel, as in the Dataset
        if array.shape != self.input_shape:
            return Problem(f"inputs are shaped {array.shape}: give {self.shapes()}")
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            return Problem("inputs must be finite: NaN or infinity found (or beyond float32)")
        return torch.from_numpy(array)

    def single_channel(self) -> bool:
        """Whether the model takes images of one channel, (1, H, W)."""
        return len(self.input_shape) == 3 and self.input_shape[0] == 1

    def shapes(self) -> str:
        """The shapes decode_request accepts, in words."""
        if self.single_channel():
            return f"an array shaped {self.input_shape} or {self.input_shape[1:]}"
        return f"an array shaped {self.input_shape}"

    def batch(self, inputs: list[torch.Tensor | Problem]) -> list[torch.Tensor | Problem]:
        """Keep the batch a list: predict stacks the good examples and passes each Problem by."""
        return inputs

    def predict(
        self, x: list[torch.Tensor | Problem] | torch.Tensor | Problem
    ) -> list[dict | Problem] | dict | Problem:
        """The answers to a batch of requests, or without batching to one request."""
        if isinstance(x, list):
            return self.answers(x)
        return self.answers([x])[0]

    def answers(self, decoded: list[torch.Tensor | Problem]) -> list[dict | Problem]:
        """One answer per request: its row of predict_step's fields, or its Problem."""
        examples = [item for item in decoded if isinstance(item, torch.Tensor)]
        rows = iter(self.rows(torch.stack(examples)) if examples else [])
        return [next(rows) if isinstance(item, torch.Tensor) else item for item in decoded]

    def rows(self, inputs: torch.Tensor) -> list[dict]:
        """predict_step's output for a batch, as one dict of plain numbers per example."""
        with torch.inference_mode():
            columns = self.model.predict_step((inputs.to(self.model.device),), 0)
        # Without labels predict_step gives no label columns: predict.py's others are the answer.
        values = zip(*(column.tolist() for column in columns.values()), strict=True)
        return [dict(zip(columns, row, strict=True)) for row in values]

    def encode_response(self, output: dict | Problem) -> JSONResponse:
        """200 with the example's fields, or 422 with {"detail": the problem}."""
        if isinstance(output, Problem):
            return JSONResponse({"detail": output.message}, status_code=422)
        return JSONResponse(output)


def run_server(
    model_class: type[pl.LightningModule],
    ckpt_path: str | Path,
    accelerator: str,
    devices: int,
    host: str,
    port: int,
    max_batch_size: int,
    batch_timeout: float,
) -> int:
    """Serve until SIGTERM or Ctrl-C; return the exit status a shell expects, 143 or 130."""
    api = ModelAPI(
        model_class, str(ckpt_path), max_batch_size=max_batch_size, batch_timeout=batch_timeout
    )
    server = litserve.LitServer(api, accelerator=accelerator, devices=devices)
    received = stop_on_signals()
    # LitServer logs each request at "info"; the client file it writes by default is not needed.
    server.run(host=host, port=port, log_level="warning", generate_client_file=False)
    return 128 + received[0] if received else 0


def stop_on_signals() -> list[int]:
    """Make SIGTERM, like Ctrl-C, stop LitServer; the list returned records the signal."""
    received = []
    server_pid = os.getpid()

    def stop(signum: int, frame: FrameType | None) -> None:
        # The processes LitServer forks inherit this handler: uvicorn re-raises the signal in
        # them once it has shut them down, and there it has nothing left to do.
        if os.getpid() != server_pid or received:
            return
        received.append(signum)
        raise KeyboardInterrupt  # what LitServer waits for, to shut its processes down

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    return received
