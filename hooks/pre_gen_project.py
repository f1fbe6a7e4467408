"""Refuse answers that would give a broken project, with one line naming the field.

Cookiecutter renders this file before running it; the answers arrive as JSON data,
so no quote or backslash in them can change the code.
"""

import builtins
import json
import keyword
import re
import sys

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

CLASS_FIELDS = ("dataset_class", "datamodule_class", "model_class")

# Names the generated code imports or defines next to the user's classes.
RESERVED_CLASS_NAMES = {
    "Any",
    "ArgumentParser",
    "Callback",
    "CSVLogger",
    "DataError",
    "DataLoader",
    "Dataset",
    "EarlyStopping",
    "LearningCurves",
    "LightningCLI",
    "LightningDataModule",
    "LightningModule",
    "MLFlowLogger",
    "ModelCheckpoint",
    "MulticlassAccuracy",
    "Namespace",
    "Path",
    "ReseedEveryEpoch",
    "Sampler",
    "SeededShuffleSampler",
    "TQDMProgressBar",
    "TensorBoardLogger",
    "Tensor",
    "Trainer",
    "WandbLogger",
}

# Modules the generated project imports, and its own top-level files.
RESERVED_PACKAGE_NAMES = {
    "jsonargparse",
    "lightning",
    "lightning_fabric",
    "matplotlib",
    "mlflow",
    "numpy",
    "predict",
    "pytorch_lightning",
    "rich",
    "sklearn",
    "tensorboard",
    "tests",
    "torch",
    "torchmetrics",
    "tqdm",
    "train",
    "wandb",
}

# Generated code is laid out to stay within ruff's line length for names this long.
MAX_NAME_LENGTH = 40
SLUG_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
PACKAGE_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
CLASS_PATTERN = re.compile(r"[A-Z][A-Za-z0-9]*")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")


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
        return "that name would shadow a module the project imports; choose another"
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
        return "use an address of the form name@example.com"
    return None


def problems(answers):
    """Yield (field, value, what is allowed) for every answer that is refused."""
    checks = [("project_slug", check_slug), ("package_name", check_package_name)]
    checks += [(field, check_class_name) for field in CLASS_FIELDS]
    checks += [(field, check_text) for field in ("project_name", "description", "author_name")]
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


def main():
    for field, value, allowed in problems(ANSWERS):
        print(f"error: {field} {value!r} is not allowed: {allowed}.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
