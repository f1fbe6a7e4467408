"""Serving and ONNX figures of the default generated project on this machine; no pass or fail.

    .venv/bin/python benchmarks/serve.py [PROJECT] [--seconds 5] [--json FILE]

Without PROJECT, bakes the default project in a temporary folder. Then trains it briefly
(train.py, 2 epochs) and exports its best.ckpt (export.py), as a user would.
1. serve.py as users start it, over real HTTP on 127.0.0.1: requests per second, and the
   median (p50) and 99th-percentile (p99) latency of a request, with 1, 8 and 32 clients
   at once, with batching off (--max_batch_size 1) and on (--max_batch_size 32). Each client
   is a thread of this process that sends one example a request, on a connection it keeps
   open, as fast as the answers come; the clients share the machine's cores with the server.
   Also the CPU the idle server uses, all its processes together (Linux only).
2. onnxruntime against PyTorch eager, in this process: the time of one forward pass over a
   batch of 1, 32 and 256 examples, the median of many, and their ratio.
"""

import argparse
import http.client
import importlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MODES = {
    "batching off": ["--max_batch_size", "1"],
    "batching on": ["--max_batch_size", "32", "--batch_timeout", "0.005"],
}
STARTUP_SECONDS = 180


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("project", type=Path, nargs="?", help="a baked project (default: bake)")
    parser.add_argument("--seconds", type=float, default=5, help="measured per setting")
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured, before each")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--epochs", type=int, default=2, help="of the training run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args()


def run(command, cwd):
    """Run a command to the end, its output to pipes; stop with it on failure."""
    finished = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{finished.stderr[-3000:]}")
    return finished.stdout


def prepare(project, epochs):
    """Train briefly and export, as the README says; return the checkpoint and the ONNX file."""
    flags = ["--max_epochs", str(epochs), "--enable_progress_bar", "false"]
    run([PYTHON, "train.py", *flags], project)
    checkpoints = (project / "outputs").rglob("best.ckpt")
    checkpoint = max(checkpoints, key=lambda path: path.stat().st_mtime)
    onnx_file = project / "model.onnx"
    run([PYTHON, "export.py", "--ckpt_path", str(checkpoint), "--output", str(onnx_file)], project)
    return checkpoint, onnx_file


def request_bodies(project, count=256):
    """The first examples of the project's data, as stored, each the body of one request."""
    import numpy as np

    inputs = np.load(project / "data" / "inputs.npy", mmap_mode="r")
    return [json.dumps({"inputs": inputs[index].tolist()}).encode() for index in range(count)]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """serve.py in a process of its own, ready once GET /health answers 200."""

    def __init__(self, project, checkpoint, flags):
        self.port = free_port()
        command = [PYTHON, "serve.py", "--ckpt_path", str(checkpoint), "--port", str(self.port)]
        # A file, not a pipe: a pipe nobody reads would stop the server once it filled.
        log = project / f"serve-{self.port}.log"
        with log.open("w") as stderr:
            self.process = subprocess.Popen(
                [*command, *flags], cwd=project, stdout=subprocess.DEVNULL, stderr=stderr
            )
        started = time.perf_counter()
        while not self.healthy():
            if self.process.poll() is not None:
                raise SystemExit(f"serve.py failed:\n{log.read_text()[-3000:]}")
            if time.perf_counter() - started > STARTUP_SECONDS:
                self.stop()
                raise SystemExit(f"serve.py not healthy after {STARTUP_SECONDS} s")
            time.sleep(0.2)
        self.startup_seconds = time.perf_counter() - started

    def healthy(self):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", "/health")
            return connection.getresponse().status == 200
        except OSError:
            return False

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def tree_cpu_seconds(pid):
    """CPU seconds used so far by process `pid` and all its descendants, read from /proc."""
    processes = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        # After the name: state, ppid, ..., utime and stime (the 14th and 15th fields).
        processes[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, ticks = [pid], 0
    while tree:
        current = tree.pop()
        ticks += processes.get(current, (0, 0))[1]
        tree += [child for child, (parent, _) in processes.items() if parent == current]
    return ticks / os.sysconf("SC_CLK_TCK")


def idle_cpu_share(server, seconds=3.0):
    """The share of one core the server's processes use while no request comes."""
    before = tree_cpu_seconds(server.process.pid)
    time.sleep(seconds)
    return (tree_cpu_seconds(server.process.pid) - before) / seconds


def client(port, bodies, offset, until, latencies, errors):
    """Send requests one after the other on one connection until `until`; record each latency."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    number = offset
    while time.perf_counter() < until:
        body = bodies[number % len(bodies)]
        number += 1
        sent = time.perf_counter()
        connection.request("POST", "/predict", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - sent)
        if response.status != 200:
            errors.append(response.status)
    connection.close()


def load(port, bodies, clients, seconds):
    """`clients` threads at once for `seconds`: their latencies and any non-200 statuses."""
    latencies, errors = [], []
    until = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=client, args=(port, bodies, n * 7, until, latencies, errors))
        for n in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


def percentile(values, fraction):
    """The value below which `fraction` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def summarize(latencies, errors, seconds):
    """Requests per second and latency percentiles, in milliseconds, of one setting."""
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "requests_per_second": len(latencies) / seconds,
        "p50_ms": 1000 * percentile(latencies, 0.50),
        "p99_ms": 1000 * percentile(latencies, 0.99),
    }


def measure_serving(project, checkpoint, bodies, args):
    """Part 1: each mode's server, each number of clients; {mode: {clients: figures}}."""
    figures = {}
    for mode, flags in MODES.items():
        server = Server(project, checkpoint, flags)
        figures[mode] = {"startup_seconds": server.startup_seconds, "clients": {}}
        try:
            figures[mode]["idle_cpu"] = idle_cpu_share(server)
            for clients in args.clients:
                load(server.port, bodies, clients, args.warmup)
                latencies, errors, seconds = load(server.port, bodies, clients, args.seconds)
                figures[mode]["clients"][str(clients)] = summarize(latencies, errors, seconds)
        finally:
            figures[mode]["exit_status"] = server.stop()
    return figures


def per_call(function, inputs, seconds=1.0):
    """The median time of one call, over at least `seconds` and 20 calls, after one unmeasured."""
    function(inputs)
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 20:
        started = time.perf_counter()
        function(inputs)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_onnx(project, checkpoint, onnx_file, batch_sizes):
    """Part 2, in this process: {batch size: PyTorch's and onnxruntime's ms per pass, ratio}."""
    import onnxruntime
    import torch

    sys.path.insert(0, str(project))
    os.chdir(project)
    data = importlib.import_module("digits_classifier.data")
    loading = importlib.import_module("digits_classifier.machinery.loading")
    model_module = importlib.import_module("digits_classifier.model")
    model = loading.load_model(model_module.DigitsClassifier, checkpoint)
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    dataset = data.DigitsDataset("data")
    figures = {}
    for size in batch_sizes:
        batch = torch.stack([dataset[index % len(dataset)][0] for index in range(size)])
        with torch.inference_mode():
            eager = per_call(model, batch)
        runtime = per_call(lambda inputs: session.run(None, {"inputs": inputs}), batch.numpy())
        figures[str(size)] = {
            "torch_ms": 1000 * eager,
            "onnxruntime_ms": 1000 * runtime,
            "ratio": runtime / eager,
        }
    return figures


def print_figures(serving, onnx, args):
    print(f"1. serve.py, {args.seconds:g} s per setting after {args.warmup:g} s of warm-up")
    print("   mode          clients  requests/s   p50 ms   p99 ms  errors")
    for mode, figures in serving.items():
        for clients, row in figures["clients"].items():
            print(
                f"   {mode:<13} {clients:>7} {row['requests_per_second']:>11.1f}"
                f" {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['errors']:>7}"
            )
        print(
            f"   ({mode}: healthy {figures['startup_seconds']:.1f} s after launch; idle, it uses"
            f" {100 * figures['idle_cpu']:.0f}% of a core; exit status {figures['exit_status']}"
            " on SIGTERM)"
        )
    print("2. one forward pass, median")
    print("   batch  PyTorch ms  onnxruntime ms  onnxruntime / PyTorch")
    for size, row in onnx.items():
        print(
            f"   {size:>5} {row['torch_ms']:>11.3f} {row['onnxruntime_ms']:>15.3f}"
            f" {row['ratio']:>22.2f}"
        )


def main():
    args = parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        project = args.project
        if project is None:
            command = [PYTHON, "-m", "cookiecutter", "--no-input", str(TEMPLATE)]
            run([*command, "--output-dir", tmp, "git_init=no"], tmp)
            project = Path(tmp) / "digits-classifier"
        project = project.resolve()
        checkpoint, onnx_file = prepare(project, args.epochs)
        bodies = request_bodies(project)
        serving = measure_serving(project, checkpoint, bodies, args)
        onnx = measure_onnx(project, checkpoint, onnx_file, args.batch_sizes)
    print_figures(serving, onnx, args)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"serving": serving, "onnx": onnx}, indent=1))


if __name__ == "__main__":
    main()
