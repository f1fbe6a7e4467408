"""Serve a trained checkpoint over HTTP: POST /predict answers one example, GET /health.

SIGTERM and Ctrl-C stop it, with exit status 143 and 130, as for train.py.
"""

import argparse
import sys

import torch

from {{ cookiecutter.package_name }}.machinery.errors import ArgumentParser, SettingsError
from {{ cookiecutter.package_name }}.machinery.extras import missing_extra
from {{ cookiecutter.package_name }}.machinery.launcher import script_run
from {{ cookiecutter.package_name }}.machinery.loading import (
    add_checkpoint_args,
    find_model,
)
from {{ cookiecutter.package_name }}.machinery.settings import Allowed
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}

# LitServer refuses other addresses; 0.0.0.0 answers other machines too.
HOSTS = ("127.0.0.1", "0.0.0.0", "::")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        description="Serve a trained checkpoint over HTTP with LitServe.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_checkpoint_args(parser)
    parser.add_argument(
        "--port", type=Allowed(int, 1024, 65535).parse, default=8000, help="port to listen on"
    )
    parser.add_argument("--host", default="127.0.0.1", choices=HOSTS, help="address to listen on")
    parser.add_argument(
        "--accelerator", default="auto", choices=("auto", "cpu", "gpu"), help="where the model runs"
    )
    parser.add_argument(
        "--devices",
        type=Allowed(int, 1).parse,
        default=1,
        help="GPUs to use, each with a copy of the model",
    )
    parser.add_argument(
        "--max_batch_size",
        type=Allowed(int, 1).parse,
        default=1,
        help="most requests answered together; 1 answers each alone",
    )
    parser.add_argument(
        "--batch_timeout",
        type=Allowed(float, 0).parse,
        default=0.005,
        help="seconds a batch waits for more requests, with --max_batch_size over 1",
    )
    return parser


def check_batching(args: argparse.Namespace) -> None:
    """Refuse a batch timeout of 0 with batching on: LitServe would poll without rest."""
    if args.max_batch_size > 1 and args.batch_timeout == 0:
        raise SettingsError(
            f"--batch_timeout 0 is not allowed with --max_batch_size {args.max_batch_size}:"
            " give a number above 0"
        )


def device_kind(accelerator: str, devices: int) -> str:
    """LitServer's name for where the model runs: "cuda" or "cpu"; "gpu" needs enough GPUs."""
    if accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available()):
        return "cpu"
    if devices > torch.cuda.device_count():
        raise SettingsError(
            f"--accelerator {accelerator} --devices {devices}: this machine has"
            f" {torch.cuda.device_count()} CUDA GPUs"
        )
    return "cuda"


def serve(args: argparse.Namespace) -> int:
    """Check everything, then serve until stopped; return the exit status."""
    check_batching(args)
    problem = missing_extra("serve")
    if problem:
        raise SettingsError(problem)
    accelerator = device_kind(args.accelerator, args.devices)
    # Read here, so that a bad checkpoint is one line before any server process starts.
    path, _ = find_model(
        {{ cookiecutter.model_class }},
        args.ckpt_path,
        args.default_root_dir,
        "serve.py",
    )
    # Imported once the extra is known to be installed: a missing one is then one line.
    from {{ cookiecutter.package_name }}.machinery.serving import run_server

    batches = f"batches of up to {args.max_batch_size}" if args.max_batch_size > 1 else "alone"
    print(
        f"Serving {path} on {accelerator}, requests answered {batches}, at"
        f" http://{args.host}:{args.port}/predict; GET /health answers 200 once the model is"
        " loaded. Ctrl-C stops it.",
        flush=True,
    )
    return run_server(
        {{ cookiecutter.model_class }},
        path,
        accelerator,
        args.devices if accelerator == "cuda" else 1,
        args.host,
        args.port,
        args.max_batch_size,
        args.batch_timeout,
    )


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    with script_run():
        sys.exit(serve(args))


if __name__ == "__main__":
    main()
