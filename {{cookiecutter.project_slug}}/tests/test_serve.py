"""serve.py answers over real HTTP as predict.py does, refuses bad requests alone, stops cleanly."""

import contextlib
import csv
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.dataset_class }}

from conftest import FLAG, run_flags
from predict import main as predict
from serve import main as serve
from train import main as train

SERVE_PY = Path(__file__).resolve().parents[1] / "serve.py"
EXAMPLES = 24  # compared with predict.py's rows
STARTUP_SECONDS = 180  # a fresh server imports torch twice: in its own process and its worker's
REQUEST_SECONDS = 60
BATCHING = ("--max_batch_size", "8", "--batch_timeout", "0.05")


@pytest.fixture(scope="module")
def checkpoint(data_dir, tmp_path_factory):
    """The best.ckpt of one brief train.py run."""
    root = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(root)
        monkeypatch.setattr(sys, "argv", ["train.py"])
        train(run_flags(data_dir, root, FLAG["max_epochs"], "1", FLAG["num_workers"], "0"))
    (path,) = root.rglob("best.ckpt")
    return path


@pytest.fixture(scope="module")
def expected(checkpoint, data_dir, tmp_path_factory):
    """predict.py's rows for the first examples, without the index and the true label."""
    output = tmp_path_factory.mktemp("predictions") / "predictions.csv"
    predict(["--ckpt_path", str(checkpoint), "--data_dir", str(data_dir), "--output", str(output)])
    with output.open() as csv_file:
        rows = list(csv.DictReader(csv_file))[:EXAMPLES]
    # The answer's fields: predict.py's columns but the example's index and its true label.
    fields = [name for name in rows[0] if name not in ("index", "label")]
    return [{name: float(row[name]) for name in fields} for row in rows]


@pytest.fixture(scope="module")
def examples(data_dir):
    """The first examples, as the Dataset gives them, in nested lists for JSON."""
    dataset = {{ cookiecutter.dataset_class }}(data_dir)
    return [dataset[index][0].tolist() for index in range(EXAMPLES)]


class Server:
    """serve.py as a process of its own, in a session of its own as a terminal would start it."""

    def __init__(self, checkpoint, log_dir, *flags):
        self.port = free_port()
        self.stderr_path = log_dir / f"serve-{self.port}.err"
        command = [sys.executable, str(SERVE_PY), "--ckpt_path", str(checkpoint)]
        stdout_path = log_dir / f"serve-{self.port}.out"
        with stdout_path.open("w") as stdout, self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port), *flags],
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            self.wait_until_healthy()
        except BaseException:
            self.kill_what_is_left()
            raise

    def wait_until_healthy(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stderr()
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.2)
        pytest.fail(f"serve.py not healthy after {STARTUP_SECONDS} s: {self.stderr()}")

    def request(self, method, path, body=None, content_type="application/json"):
        """Send one request on a connection of its own; return (status, body as bytes)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_SECONDS)
        try:
            connection.request(method, path, body=body, headers={"Content-Type": content_type})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def predict(self, inputs):
        """POST /predict with {"inputs": inputs}; return (status, answer)."""
        status, body = self.request("POST", "/predict", json.dumps({"inputs": inputs}))
        return status, json.loads(body)

    def stderr(self):
        return self.stderr_path.read_text()

    def stop(self, signum=signal.SIGTERM, whole_group=False):
        """Send `signum` to serve.py, or to every process of its session; return its exit status."""
        if whole_group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)
        return self.process.wait(timeout=REQUEST_SECONDS)

    def session_ended(self):
        """Whether every process of the server's session has ended, waiting a little for it."""
        # multiprocessing's resource tracker ends a moment after the process it served.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
        return False

    def kill_what_is_left(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        # Nothing of the session should be left; if something is, it goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def free_port():
    """A loopback port that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def running_server(checkpoint, tmp_path_factory):
    """The module's server, batching up to 8 requests; started again if a test stopped it."""
    started = []

    def running():
        if not started or started[-1].process.poll() is not None:
            started.append(Server(checkpoint, tmp_path_factory.mktemp("logs"), *BATCHING))
        return started[-1]

    yield running
    for each in started:
        each.kill_what_is_left()


@pytest.fixture
def server(running_server):
    return running_server()


def assert_same_answer(answer, row):
    # predict.py ran the examples in batches of another size: float32 sums may round otherwise.
    assert answer == pytest.approx(row, rel=1e-5, abs=1e-6)


def test_health_answers_200(server):
    assert server.request("GET", "/health") == (200, b"ok")


def test_answers_one_by_one_equal_predict_py_rows(server, examples, expected):
    for inputs, row in zip(examples[:8], expected[:8], strict=True):
        status, answer = server.predict(inputs)
        assert status == 200, answer
        assert_same_answer(answer, row)


def test_requests_at_once_each_get_their_own_answer(server, examples, expected):
    # Twice as many requests as examples, 16 at a time: LitServe batches up to 8 together.
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(server.predict, examples + examples[::-1]))
    for (status, answer), row in zip(answers, expected + expected[::-1], strict=True):
        assert status == 200, answer
        assert_same_answer(answer, row)


def bad_requests(example):
    """(what is wrong, body, a word the answer must hold) for each kind of bad request."""
    array = np.array(example)
    text, nan = array.astype(object), array.copy()
    text.flat[0] = "seven"
    nan.flat[0] = np.nan
    flat = array.reshape(-1).tolist()
    return [
        ("not JSON", "inputs: 1, 2, 3", "JSON"),
        ("not an object", json.dumps([example]), "dictionary"),
        ("no inputs", json.dumps({"input": example}), '"inputs"'),
        ("text", json.dumps({"inputs": text.tolist()}), "numbers"),
        ("NaN", json.dumps({"inputs": nan.tolist()}), "finite"),  # json writes NaN as NaN
        ("wrong shape", json.dumps({"inputs": flat[:-1]}), "shaped"),
        ("ragged", json.dumps({"inputs": [flat, flat[:-1]]}), "rectangular"),
    ]


def test_bad_requests_get_a_422_naming_the_problem(server, examples, expected):
    for problem, body, word in bad_requests(examples[0]):
        status, answer = server.request("POST", "/predict", body)
        assert status == 422, problem
        assert word in str(json.loads(answer)["detail"]), (problem, answer)
    status, answer = server.predict(examples[1])
    assert status == 200
    assert_same_answer(answer, expected[1])


def test_a_bad_request_batched_with_good_ones_fails_alone(server, examples, expected):
    bodies = [json.dumps({"inputs": inputs}) for inputs in examples[:12]]
    bad = [body for _, body, _ in bad_requests(examples[0])]
    mixed = [body for pair in zip(bodies, bad + bad[:5], strict=True) for body in pair]
    with ThreadPoolExecutor(max_workers=len(mixed)) as pool:
        answers = list(pool.map(lambda body: server.request("POST", "/predict", body), mixed))
    for number, (status, answer) in enumerate(answers[::2]):
        assert status == 200, answer
        assert_same_answer(json.loads(answer), expected[number])
    assert [status for status, _ in answers[1::2]] == [422] * 12


@pytest.mark.npy
def test_inputs_as_stored_in_the_npy_file_are_answered_alike(server, data_dir, expected):
    stored = np.load(data_dir / "inputs.npy", mmap_mode="r")
    for index in range(3):
        status, answer = server.predict(stored[index].tolist())
        assert status == 200, answer
        assert_same_answer(answer, expected[index])


def expect_error(arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        serve(arguments)
    assert message in str(exit_info.value.code)
    assert str(exit_info.value.code).startswith("error: ")
    assert "\n" not in str(exit_info.value.code)


def expect_flag_error(arguments, message, capsys):
    """argparse refuses the flag's value: exit status 2, one line on stderr naming it."""
    with pytest.raises(SystemExit) as exit_info:
        serve(arguments)
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line


def test_bad_flags_and_checkpoints_are_one_line_before_any_server_starts(
    checkpoint, tmp_path, capsys
):
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    good = ["--ckpt_path", str(checkpoint)]
    expect_error(["--ckpt_path", str(tmp_path / "missing.ckpt")], "no such file")
    expect_error(["--ckpt_path", str(foreign)], "not a LightningModule's checkpoint")
    expect_error(["--ckpt_path", "best", "--default_root_dir", str(tmp_path)], "no best.ckpt")
    expect_flag_error([*good, "--port", "80"], "--port: '80' is not allowed", capsys)
    expect_flag_error([*good, "--max_batch_size", "0"], "--max_batch_size: '0' is not", capsys)
    expect_flag_error([*good, "--devices", "two"], "--devices: 'two' is not allowed", capsys)
    expect_error([*good, "--max_batch_size", "4", "--batch_timeout", "0"], "--batch_timeout 0")
    expect_error([*good, "--accelerator", "gpu", "--devices", "10000"], "CUDA GPUs")


def assert_stops_cleanly(server, signum, whole_group, status):
    # Ctrl-C in a terminal signals every process of the session; `kill` only the one.
    assert server.stop(signum, whole_group) == status
    assert "Traceback" not in server.stderr()
    assert server.session_ended()  # its server and worker processes too


def test_sigterm_stops_the_server_cleanly(checkpoint, examples, expected, tmp_path):
    # Without batching: each request is answered alone, by LitServe's other loop.
    alone = Server(checkpoint, tmp_path)
    try:
        status, answer = alone.predict(examples[0])
        assert status == 200
        assert_same_answer(answer, expected[0])
        assert alone.request("POST", "/predict", "not JSON")[0] == 422
        assert alone.predict(examples[0][:-1])[0] == 422
        assert_stops_cleanly(alone, signal.SIGTERM, whole_group=False, status=143)
    finally:
        alone.kill_what_is_left()


def test_ctrl_c_stops_the_server_cleanly(server, examples):
    # The module's server, after all the requests above; a later test would start another.
    assert server.predict(examples[0])[0] == 200
    assert_stops_cleanly(server, signal.SIGINT, whole_group=True, status=130)
