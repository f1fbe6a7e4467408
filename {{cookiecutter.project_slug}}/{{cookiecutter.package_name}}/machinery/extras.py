"""The optional dependencies of export.py and serve.py, and what to install when one is missing."""

import importlib.util

# The modules of each extra in pyproject.toml's [project.optional-dependencies].
EXTRAS = {
    "export": ("onnx", "onnxruntime", "onnxscript"),
    "serve": ("litserve", "fastapi"),
}


def missing_extra(extra: str) -> str | None:
    """Which modules of `extra` are not installed, and the command that installs them, if any."""
    missing = [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return f"{', '.join(missing)} not installed: pip install -e '.[{extra}]'"
