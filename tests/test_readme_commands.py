"""The generated README works line by line: its CPU commands run, in order, in a bake of its own.

Commands are read from the rendered README's ```bash and ```python blocks and run through
bash in the project folder, with small limits appended so that the whole sequence is quick.
A few claims in its prose that a test can check cheaply are checked here too.
"""

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BLOCK = re.compile(r"^ *```(bash|python)\n(.*?)^ *```", re.MULTILINE | re.DOTALL)
# Lines that start with `python ` but need what a CPU test machine lacks, and why.
SKIPPED = {
    "--accelerator gpu": "needs GPUs",
    "python -m venv": "sets up an environment; the test runs in the template's",
    # tests/test_distributed.py runs two-process DDP on the CPU, with both launchers.
    "--devices 2 --strategy ddp": "covered by tests/test_distributed.py",
    "postgresql://": "needs a database server",
}
VARIANTS = {
    "argparse": {},
    "lightningcli": {"cli": "lightningcli"},
    "argparse-no-logger": {"logger": "none"},
}


def readme_blocks(readme):
    """The README's code blocks in order, as (language, dedented text)."""
    return [(language, textwrap.dedent(text)) for language, text in BLOCK.findall(readme)]


def command_lines(script):
    """The lines of a bash block, continuations joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", "", script)
    lines = (re.sub(r"(^|\s+)#.*", "", line).strip() for line in joined.splitlines())
    return [line for line in lines if line]


def runnable(line):
    """Whether the test runs `line`: a python command a CPU can run."""
    plain = line.replace("--trainer.", "--")  # LightningCLI's flags, named as argparse's
    return line.startswith("python ") and not any(key in plain for key in SKIPPED)


LIMITS = {"train": 2, "val": 1, "test": 1, "predict": 1}


def limits(line, lightningcli):
    """Flags that keep `line` short; appended last, so they win over the README's own."""
    if re.search(r"--help|--print_config|--fast_dev_run|^python predict\.py", line):
        return []
    trainer = "--trainer." if lightningcli else "--"
    training = "python train.py fit" if lightningcli else "python train.py"
    # Every checkpoint is from epoch 0; a resumed run must train past it.
    resumes = line.startswith(training) and "--ckpt_path" in line
    flags = [f"{trainer}limit_{kind}_batches {count}" for kind, count in LIMITS.items()]
    flags.append(f"{trainer}max_epochs {2 if resumes else 1}")
    if line.startswith("python tune.py"):
        flags.append("--n_trials 2")
    return flags


def steps(readme, lightningcli):
    """What the test runs, in README order: bash command lines and python scripts."""
    found = []
    for language, text in readme_blocks(readme):
        if language == "python":
            found.append(("python", text))
            continue
        for line in command_lines(text):
            if runnable(line):
                found.append(("bash", " ".join([line, *limits(line, lightningcli)])))
    return with_own_data_runs(found)


def with_own_data_runs(found):
    """After each README script that converts data, train on what it wrote."""
    own_data = next(step for kind, step in found if kind == "bash" and "data/mine" in step)
    result = []
    for kind, step in found:
        result.append((kind, step))
        written = re.search(r'np\.save\("(data/\w+)/inputs\.npy"', step)
        if kind == "python" and written:
            result.append(("bash", own_data.replace("data/mine", written.group(1))))
    return result


def skipped_lines(readme):
    """The README's python command lines that the test leaves out."""
    lines = [
        line
        for language, text in readme_blocks(readme)
        if language == "bash"
        for line in command_lines(text)
    ]
    return [line for line in lines if line.startswith("python ") and not runnable(line)]


def write_own_data(project):
    """The data the "Use your own data" section starts from: images, a table, and data/mine."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(["cat", "dog", "fox"]):
        folder = project / "photos" / name
        folder.mkdir(parents=True)
        for index in range(10):
            pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8) // (label + 1)
            Image.fromarray(pixels).save(folder / f"{index}.png")
    features = rng.normal(size=(60, 4))
    labels = np.arange(60) % 3
    rows = [
        ",".join(f"{value:.4f}" for value in row) + f",{label}"
        for row, label in zip(features, labels, strict=True)
    ]
    (project / "measurements.csv").write_text("a,b,c,d,class\n" + "\n".join(rows) + "\n")
    (project / "data" / "mine").mkdir(parents=True)
    np.save(project / "data" / "mine" / "inputs.npy", rng.random((40, 8, 8), dtype=np.float32))
    np.save(project / "data" / "mine" / "labels.npy", np.arange(40) % 4)


def run_step(project, kind, step, number):
    """Run one step in the project through bash; return (exit status, output)."""
    if kind == "python":
        script = f"readme_script_{number}.py"
        (project / script).write_text(step)
        step = f"python {script}"
    # `python` is this interpreter, which has the project's requirements.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "PYTHONDONTWRITEBYTECODE": "1", "WANDB_SILENT": "true"}
    finished = subprocess.run(
        ["bash", "-c", f"set -e\n{step}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return finished.returncode, finished.stdout + finished.stderr


# The commands differ by command line only; without a logger, only the prose differs.
@pytest.mark.parametrize("variant", ["argparse", "lightningcli"])
def test_readme_commands_run_in_order(baked_copy, variant):
    project = baked_copy(**VARIANTS[variant])
    readme = (project / "README.md").read_text()
    lightningcli = VARIANTS[variant].get("cli") == "lightningcli"
    write_own_data(project)
    for number, (kind, step) in enumerate(steps(readme, lightningcli)):
        started = time.monotonic()
        status, output = run_step(project, kind, step, number)
        print(f"{time.monotonic() - started:5.1f} s  {step.splitlines()[0][:90]}")
        assert status == 0, f"README step failed: {step}\n{output[-3000:]}"
    run_dir = project / "outputs" / "version_0"
    assert {"best.ckpt", "last.ckpt"} <= {path.name for path in (run_dir / "checkpoints").iterdir()}
    assert (run_dir / "learning_curves.png").is_file()
    header = (project / "predictions.csv").read_text().splitlines()[0]
    assert header == "index,label,prediction,confidence"
    assert (project / "outputs" / "study_digits.png").is_file()
    if lightningcli:
        assert "trainer:" in (project / "my_experiment.yaml").read_text()


@pytest.mark.parametrize("variant", VARIANTS)
def test_readme_leaves_out_only_lines_a_cpu_cannot_run(baked, variant):
    readme = (baked(**VARIANTS[variant]) / "README.md").read_text()
    skipped = skipped_lines(readme)
    assert skipped, "the README shows GPU and DDP commands"
    assert all(any(key in line.replace("--trainer.", "--") for key in SKIPPED) for line in skipped)


@pytest.mark.parametrize("variant", VARIANTS)
def test_readme_table_names_files_of_the_bake(baked, variant):
    project = baked(**VARIANTS[variant])
    section = (project / "README.md").read_text().split("## Where things are")[1].split("\n## ")[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    rows = [line.split("|")[2] for line in table[2:]]  # below the header and its rule
    files = [name for row in rows for name in re.findall(r"`([^`]+)`", row)]
    assert len(files) >= 9
    assert [name for name in files if not (project / name).is_file()] == []


def test_readme_describes_the_groups_of_help(baked):
    project = baked()
    readme = (project / "README.md").read_text()
    listed = re.findall(r"`(--\w+)`", re.search(r"\*\*Program\*\*:(.*?)\n\n", readme, re.S)[1])
    status, output = run_step(project, "bash", "python train.py --help", 0)
    assert status == 0, output
    program = output.split("\nProgram:\n")[1]
    assert re.findall(r"^  (--\w+)", program, re.MULTILINE) == listed
    # The Trainer defaults the README says the project sets are the ones --help shows.
    help_text = " ".join(output.split())
    project_sets = re.search(r"the few this project sets(.*?)\)\.", readme, re.S)[1]
    pairs = re.findall(r"`(--\w+) (\S+)`", project_sets)
    assert len(pairs) == 4, project_sets
    for flag, value in pairs:
        shown = re.search(rf" {flag} \S+ .*?\(default: (\S+)\)", help_text)[1]
        assert shown.lower() == value, flag
