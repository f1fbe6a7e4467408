"""Refuse answers that would give a broken project, with one line naming the field.

Cookiecutter renders this file before running it. The answers arrive as JSON text that
main() parses, so no quote or backslash in them can change the code, and the template's
tests can import the rules below from the unrendered file.
"""

import builtins
import json
import keyword
import re
import shlex
import sys
from pathlib import Path

from cookiecutter.config import get_user_config
from cookiecutter.exceptions import InvalidConfiguration
from slugify import slugify

ANSWERS_JSON = r"""{{ cookiecutter | tojson }}"""

CLASS_FIELDS = ("dataset_class", "datamodule_class", "model_class")

# Every name, other than builtins, that the generated code binds or uses in a file where
# the user's classes appear, in any variant. tests/test_reserved_names.py derives this set
# from the bakes and fails until it is updated.
RESERVED_CLASS_NAMES = {
    "ALLOWED",
    "ATOL",
    "Allowed",
    "Any",
    "ArgumentParser",
    "AtomicCheckpointIO",
    "AugmentedSubset",
    "BATCHING",
    "BasePredictionWriter",
    "CLI",
    "COMPLETE",
    "CSVPredictionWriter",
    "Callable",
    "Callback",
    "CheckpointError",
    "DataError",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "EPOCHS",
    "EXAMPLES",
    "EpochLines",
    "EpochTaggedSampler",
    "F",
    "FAIL",
    "FLAG",
    "HOSTS",
    "HelpFormatter",
    "IO",
    "LightningArgumentParser",
    "LightningCLI",
    "MeanAbsoluteError",
    "MeanMetric",
    "MlflowClient",
    "ModelAPI",
    "ModelCheckpoint",
    "MulticlassAccuracy",
    "MultilabelAccuracy",
    "MultilabelF1Score",
    "Namespace",
    "OPSET",
    "OffByOne",
    "OneLineError",
    "PRUNED",
    "ParseOnly",
    "Parser",
    "PartlyFixedTrial",
    "Path",
    "R2Score",
    "REFUSALS",
    "RTOL",
    "SUBCOMMAND",
    "SUBCOMMANDS",
    "Sequence",
    "Server",
    "SettingsError",
    "Subset",
    "TASKS",
    "TQDMProgressBar",
    "Terminal",
    "ThreadPoolExecutor",
    "Trainer",
    "UnrepeatedDistributedSampler",
    "WorseEveryEpoch",
}

# Top-level modules the generated project imports or depends on, directly or through its
# dependencies' dependencies; its own modules and folders; the folders its .gitignore ignores;
# and the stdlib's "test" package, which sys.stdlib_module_names omits. Sorted, one space
# apart. tests/test_reserved_names.py derives this set too.
RESERVED_PACKAGE_NAMES_TEXT = """
__pycache__ _cffi_backend _distutils_hack _hypothesis_ftz_detector _hypothesis_globals
_hypothesis_pytestplugin _pytest _xxhash _yaml absl aiohappyeyeballs aiohttp aiosignal alembic
annotated_doc annotated_types anyio attr attrs build cachetools certifi cffi charset_normalizer
click cloudpickle colorlog command_line configs conftest contourpy coreweave_evaluations
cryptography cycler data databricks dateutil dist distro docstring_parser dotenv export fastapi
filelock flatbuffers frozenlist fsspec functorch git gitdb google grpc h11 httpcore httptools
httpx hypothesis idna importlib_metadata iniconfig isympy jinja2 joblib jsonargparse kiwisolver
lightning_fabric lightning_logs lightning_utilities litserve mako markdown markupsafe
matplotlib ml_dtypes mlflow mlruns mpl_toolkits mpmath multidict narwhals networkx numpy onnx
onnx_ir onnxruntime onnxscript opentelemetry optuna outputs packaging platformdirs pluggy
predict propcache py pyasn1 pyasn1_modules pycparser pydantic pydantic_core pygments pylab
pyparsing pytest pytorch_lightning requests ruff scipy serve setuptools sklearn smmap sniffio
sortedcontainers sqlalchemy sqlparse starlette sympy tensorboard tensorboard_data_server test
test_augmentation test_checkpoints test_data test_export test_faults test_flags test_model
test_predict test_progress test_reproducibility test_serve test_tasks test_train
test_trainer_args test_tune test_tuning tests threadpoolctl torch torchgen torchmetrics tqdm
train train_in_process tune typeshed_client typing_extensions typing_inspection tzdata urllib3
uvicorn uvloop wandb watchfiles websockets werkzeug xxhash yaml yarl zipp zmq
"""
RESERVED_PACKAGE_NAMES = set(RESERVED_PACKAGE_NAMES_TEXT.split())

# Generated code is laid out to stay within ruff's line length for names this long.
MAX_NAME_LENGTH = 40
SLUG_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
PACKAGE_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
CLASS_PATTERN = re.compile(r"[A-Z][A-Za-z0-9]*")
# RFC 5322 atoms only: quotes, commas, brackets and spaces break the Author-email header.
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def check_project_name(name):
    if not name.strip():
        return "give the project a name: it is the README's title"
    return check_text(name)


def check_slug(slug):
    if not SLUG_PATTERN.fullmatch(slug):
        return (
            "use ASCII letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    if len(slug) > MAX_NAME_LENGTH:
        return f"use at most {MAX_NAME_LENGTH} characters"
    return None


def check_package_name(name):
    if not PACKAGE_PATTERN.fullmatch(name):
        return "use lowercase ASCII letters, digits and '_', not starting with a digit"
    if len(name) > MAX_NAME_LENGTH:
        return f"use at most {MAX_NAME_LENGTH} characters"
    if keyword.iskeyword(name):
        return "a Python keyword cannot name a package"
    if name in RESERVED_PACKAGE_NAMES or name in sys.stdlib_module_names:
        return (
            "that name would shadow a module the project or its dependencies import, or "
            "clash with a file or ignored folder of the project; choose another"
        )
    return None


def check_class_name(name):
    if not CLASS_PATTERN.fullmatch(name):
        return "use a CamelCase Python identifier: an ASCII capital, then letters and digits"
    if len(name) > MAX_NAME_LENGTH:
        return f"use at most {MAX_NAME_LENGTH} characters"
    if keyword.iskeyword(name):
        return "a Python keyword cannot name a class"
    if name in RESERVED_CLASS_NAMES or hasattr(builtins, name):
        return "that name would shadow a name the generated code uses; choose another"
    return None


def check_text(text):
    # pyproject.toml escapes text as JSON does, which cannot spell characters above U+FFFF.
    if any(ord(char) > 0xFFFF for char in text):
        return "characters above U+FFFF (such as emoji) cannot be written to pyproject.toml"
    if any(char in text for char in "\r\n"):
        return "use a single line"
    return None


def check_email(email):
    if not EMAIL_PATTERN.fullmatch(email):
        return (
            "use an address of the form name@example.com, without spaces, quotes, "
            "commas, brackets or other characters an email header cannot hold"
        )
    return None


def slug_problem(answers):
    """The refused project_slug, blamed on project_name when the slug was derived from it."""
    slug = answers["project_slug"]
    allowed = check_slug(slug)
    if allowed and slug == (slugify(answers["project_name"]) or "project"):
        allowed = (
            f"it is too long for a folder name (at most {MAX_NAME_LENGTH} characters once "
            "slugified); shorten project_name or give project_slug"
        )
        return "project_name", answers["project_name"], allowed
    return "project_slug", slug, allowed


def problems(answers):
    """Yield (field, value, what is allowed) for every answer that is refused."""
    allowed = check_project_name(answers["project_name"])
    if allowed:
        yield "project_name", answers["project_name"], allowed
    else:
        field, value, allowed = slug_problem(answers)
        if allowed:
            yield field, value, allowed
    checks = [("package_name", check_package_name)]
    checks += [(field, check_class_name) for field in CLASS_FIELDS]
    checks += [(field, check_text) for field in ("description", "author_name")]
    checks += [("author_email", check_email)]
    for field, check in checks:
        allowed = check(answers[field])
        if allowed:
            yield field, answers[field], allowed
    seen = {}
    for field in CLASS_FIELDS:
        name = answers[field]
        if name in seen:
            yield field, name, f"it is already the name of {seen[name]}; each class needs its own"
        seen.setdefault(name, field)


def retry_hint(answers):
    """How to bake again without answering every prompt: cookiecutter's replay file."""
    # cruft has no replay file; cookiecutter writes one before this hook runs.
    if "_commit" in answers or "_repo_dir" not in answers:
        return "Run the command again with a corrected answer."
    replay_file = shlex.quote(str(replay_dir() / f"{Path(answers['_repo_dir']).name}.json"))
    template = shlex.quote(answers["_template"])
    return (
        f"To retry without retyping, edit the answers in {replay_file} (derived ones too, "
        f"such as package_name) and run: cookiecutter --replay-file {replay_file} {template}"
    )


def replay_dir():
    """Where cookiecutter saved these answers: the user's configured replay_dir."""
    try:
        return Path(get_user_config()["replay_dir"]).expanduser()
    except (InvalidConfiguration, OSError):
        return Path("~/.cookiecutter_replay").expanduser()


def main():
    answers = json.loads(ANSWERS_JSON)
    for field, value, allowed in problems(answers):
        print(
            f"error: {field} {value!r} is not allowed: {allowed}. {retry_hint(answers)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
