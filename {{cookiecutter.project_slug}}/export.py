"""Export a trained checkpoint to ONNX, then check the file with onnxruntime against PyTorch.

The ONNX model takes inputs as stored, float32 (batch, *input_shape); the scaling is inside.
"""

import argparse

import torch

from {{ cookiecutter.package_name }}.data import (
    DEFAULT_DATA_DIR,
    {{ cookiecutter.datamodule_class }},
)
from {{ cookiecutter.package_name }}.machinery.data_report import data_mismatch
from {{ cookiecutter.package_name }}.machinery.errors import (
    ArgumentParser,
    DataError,
    OneLineError,
    SettingsError,
)
from {{ cookiecutter.package_name }}.machinery.extras import missing_extra
from {{ cookiecutter.package_name }}.machinery.files import atomic_file
from {{ cookiecutter.package_name }}.machinery.launcher import script_run
from {{ cookiecutter.package_name }}.machinery.loading import (
    add_checkpoint_args,
    find_model,
)
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}

# The check runs one example alone, then a batch of many: the batch axis must really be free.
CHECK_BATCH_SIZES = (1, 64)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        description="Export a trained checkpoint to an ONNX file, checked with onnxruntime.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_checkpoint_args(parser)
    parser.add_argument("--output", default="model.onnx", help="ONNX file to write")
    parser.add_argument(
        "--data_dir",
        default=DEFAULT_DATA_DIR,
        help="folder with inputs.npy whose examples the check runs (the default holds the"
        " bundled data, written if missing)",
    )
    return parser


def check_examples(data_dir: str, hyper_parameters: dict) -> torch.Tensor:
    """The first examples of `data_dir`, as many as the largest check batch, repeated if fewer."""
    datamodule = {{ cookiecutter.datamodule_class }}(data_dir=data_dir)
    datamodule.prepare_data()
    dataset = datamodule.predict_dataset()
    reason = data_mismatch(hyper_parameters, dataset)
    if reason:
        raise DataError(reason)
    count = max(CHECK_BATCH_SIZES)
    return torch.stack([dataset[index % len(dataset)][0] for index in range(count)])


def export(args: argparse.Namespace) -> None:
    problem = missing_extra("export")
    if problem:
        raise SettingsError(problem)
    # Imported once the extra is known to be installed: a missing one is then one line.
    from {{ cookiecutter.package_name }}.machinery.onnx_export import (
        ATOL,
        OPSET,
        RTOL,
        check_onnx_file,
        onnx_bytes,
    )

    path, model = find_model(
        {{ cookiecutter.model_class }},
        args.ckpt_path,
        args.default_root_dir,
        "export.py",
    )
    examples = check_examples(args.data_dir, model.hparams)
    input_shape = tuple(model.hparams.input_shape)
    # Written beside --output and renamed over it only once the check passes: a failed
    # export or check leaves the earlier file as it was.
    try:
        with atomic_file(args.output) as file:
            file.write(onnx_bytes(model, input_shape))
            file.flush()
            difference = check_onnx_file(file.name, model, examples, CHECK_BATCH_SIZES)
    except OSError as err:
        raise OneLineError(f"--output {args.output}: cannot write ({err.strerror})") from None
    shape = ", ".join(map(str, input_shape))
    print(f"Exported {path} to {args.output}: ONNX opset {OPSET}, inputs float32 (batch, {shape})")
    sizes = " and ".join(map(str, CHECK_BATCH_SIZES))
    print(
        f"onnxruntime against PyTorch on batches of {sizes} from {args.data_dir}: largest"
        f" difference {difference:.2g} (allowed: {ATOL} + {RTOL} x |PyTorch's value|)"
    )


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    with script_run():
        export(args)


if __name__ == "__main__":
    main()
