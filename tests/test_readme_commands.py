"""The generated README works line by line: its CPU commands run, in order, in a bake of its own.

Commands are read from the rendered README's ```bash and ```python blocks and run through
bash in the project folder, with small limits appended so that the whole sequence is quick.
Each command line either runs (once, if the README repeats it) or matches SKIPPED, which says
why not; any other line fails.
Each command line's README runs whole; each other logger's runs the lines that read a run
folder or that it words differently, with `<run id>` and the like filled in from the paths
the runs print. Right after each README's first training run, the test checks what its
logger wrote. A few claims in its prose that a test can check cheaply are checked here too.
"""

import json
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CHOICE_DEFAULTS, printed_path, run_within
from PIL import Image
from sklearn.datasets import load_digits

BLOCK = re.compile(r"^ *```(bash|python)\n(.*?)^ *```", re.MULTILINE | re.DOTALL)
# The command lines the test runs: the project's own scripts and the linters.
RUN = re.compile(r"^(python (train|tune|predict|export)\.py\b|ruff )")
# Every other command line of a README, as (a pattern it matches, why it is not run here);
# the first match names the reason. A line that neither runs nor matches fails the test.
SKIPPED = [
    (r"--accelerator gpu", "needs GPUs"),
    (r"^python -m venv ", "makes an environment; the test runs in the template's .venv"),
    (
        r"^pip install -e ",
        "installs from the network; scripts/setup.sh gives .venv the project's requirements, "
        "tests/test_bake.py builds the project's wheel, scripts/floor.sh installs its floors",
    ),
    (
        r"--accelerator cpu --devices 2 --strategy ddp$",
        "two processes on the CPU: tests/test_distributed.py runs this line of each CLI's README",
    ),
    (r"postgresql://", "needs a database server"),
    (
        r"^python serve\.py ",
        "a server runs until it is stopped: tests/test_serve.py in the generated suites starts "
        "serve.py, sends it real requests and stops it",
    ),
    (r"^curl ", "needs serve.py running; test_readme_curl_sends_the_first_digit checks its body"),
    (
        r"^pytest( |$)",
        "the generated suites run in tests/test_generated_projects.py: the default bake's whole "
        "suite, and the quick tests of what each other variant changes",
    ),
]
# The bakes whose READMEs run every line: one per command line, with the default logger.
VARIANTS = {
    "argparse": {},
    "lightningcli": {"cli": "lightningcli"},
}
# A logger changes where runs write: each other logger's README runs its first training run,
# the lines that name a run folder (`--ckpt_path outputs/...`) and any line it words otherwise
# than its command line's README. `--ckpt_path last` and `best` search the whole root folder
# (rglob), whatever the layout, so they run once, in VARIANTS.
LOGGER_VARIANTS = {
    f"{cli}-{logger}": ({"cli": cli, "logger": logger}, cli)
    for cli in VARIANTS
    for logger in ["csv", "wandb", "mlflow", "none"]
}
ALL_VARIANTS = {**VARIANTS, **{name: answers for name, (answers, _) in LOGGER_VARIANTS.items()}}
# What each logger must leave under outputs/, and a file that must hold the hyperparameters.
LOGGER_FILES = {
    "tensorboard": ("version_0/events.out.tfevents.*", "version_0/hparams.yaml"),
    "csv": ("version_0/metrics.csv", "version_0/hparams.yaml"),
    "wandb": ("wandb/offline-run-*/run-*.wandb", "wandb/offline-run-*/run-*.wandb"),
    "mlflow": ("mlruns/*/*/metrics/val_acc", "mlruns/*/*/params/learning_rate"),
}
PLACEHOLDER = re.compile(r"<[^<>]+>")
# A word with placeholders, which may hold spaces: outputs/mlruns/<experiment id>/<run id>/...
PLACEHOLDER_PATH = re.compile(r"(?:[^\s<]|<[^<>]+>)*<[^<>]+>(?:[^\s<]|<[^<>]+>)*")


def readme_blocks(readme):
    """The README's code blocks in order, as (language, dedented text)."""
    return [(language, textwrap.dedent(text)) for language, text in BLOCK.findall(readme)]


def command_lines(script):
    """The lines of a bash block, continuations joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", "", script)
    lines = (re.sub(r"(^|\s+)#.*", "", line).strip() for line in joined.splitlines())
    return [line for line in lines if line]


def plain(line):
    """`line` with LightningCLI's flags named as argparse's."""
    return line.replace("--trainer.", "--")


def skip_reason(line):
    """Why the test leaves `line` out: None for a line it runs, KeyError for one it lacks."""
    for pattern, reason in SKIPPED:
        if re.search(pattern, plain(line)):
            return reason
    if RUN.match(line):
        return None
    raise KeyError(f"a README command the test neither runs nor skips: {line}")


LIMITS = {"train": 2, "val": 1, "test": 1, "predict": 1}
# The first training run trains two epochs, so that its logger writes twice and its last.ckpt
# is replaced, not added to (check_logger_files); every other run, one.
FIRST_RUN_EPOCHS = 2


def limits(line, lightningcli, first_run=False):
    """Flags that keep `line` short; appended last, so they win over the README's own."""
    if re.search(r"--help|--print_config|--fast_dev_run|^python (predict|export)\.py|^ruff ", line):
        return []
    trainer = "--trainer." if lightningcli else "--"
    training = "python train.py fit" if lightningcli else "python train.py"
    # A resumed run must train past its checkpoint, whichever run wrote it.
    epochs = FIRST_RUN_EPOCHS if first_run else 1
    if line.startswith(training) and "--ckpt_path" in line:
        epochs = FIRST_RUN_EPOCHS + 1
    flags = [f"{trainer}limit_{kind}_batches {count}" for kind, count in LIMITS.items()]
    flags.append(f"{trainer}max_epochs {epochs}")
    if line.startswith("python tune.py"):
        flags.append("--n_trials 2")
    return flags


def steps(readme, lightningcli):
    """What the test runs, in README order: bash command lines, limited, and python scripts."""
    found = []
    for language, text in readme_blocks(readme):
        if language == "python":
            found.append(("python", text))
        else:
            found += [("bash", line) for line in command_lines(text) if skip_reason(line) is None]
    # A line the README repeats (LightningCLI's quickstart `python train.py fit`, again among
    # the subcommands) runs once, where it first stands: the same run again checks nothing new.
    found = list(dict.fromkeys(found))
    first = first_training_run(found)
    for n, (kind, step) in enumerate(found):
        if kind == "bash":
            found[n] = (kind, " ".join([step, *limits(step, lightningcli, n == first)]))
    return with_own_data_runs(found)


def first_training_run(found):
    """The index of the first step that runs train.py."""
    return next(n for n, (kind, step) in enumerate(found) if step.startswith("python train.py"))


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


def bash_lines(readme):
    """Every command line of the README's bash blocks."""
    return [
        line
        for language, text in readme_blocks(readme)
        if language == "bash"
        for line in command_lines(text)
    ]


def logger_steps(found, reference):
    """The steps a logger variant runs: the first training run, then the lines that name a run
    folder and those its README words otherwise than the reference's, in order."""
    first = first_training_run(found)
    return [found[first]] + [
        (kind, step)
        for kind, step in found[first + 1 :]
        if "--ckpt_path outputs/" in step or (kind, step) not in reference
    ]


def with_run_ids(step, outputs):
    """`step` with each path that holds placeholders (`<run id>`) filled in from the first
    run folder of that shape an earlier step printed, as the "Best checkpoint:" line does."""
    for path in set(PLACEHOLDER_PATH.findall(step)):
        # Up to the last placeholder: the run folder, whichever of its files the step names.
        folder = path[: list(PLACEHOLDER.finditer(path))[-1].end()]
        shape = r"[^/\s]+".join(re.escape(part) for part in PLACEHOLDER.split(folder))
        found = [match for output in outputs for match in re.findall(shape, output)]
        assert found, f"no earlier step printed a run folder like {folder}"
        step = step.replace(folder, found[0])
    return step


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
        # Beside the project, not in it: the README's ruff line checks the project alone.
        script = project.parent / f"readme_script_{number}.py"
        script.write_text(step)
        step = f"python {script}"
    # `python` is this interpreter, which has the project's requirements.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "PYTHONDONTWRITEBYTECODE": "1", "WANDB_SILENT": "true"}
    env.pop("WANDB_MODE", None)  # the project's own default: wandb offline
    finished = run_within(["bash", "-c", f"set -e\n{step}"], 600, cwd=project, env=env)
    return finished.returncode, finished.stdout + finished.stderr


def run_steps(project, found, earlier=()):
    """Run the steps in order, placeholders filled from their outputs and the `earlier`
    steps' outputs; fail on the first that fails. All outputs, the earlier ones first."""
    outputs = list(earlier)
    for number, (kind, step) in enumerate(found, start=len(outputs)):
        step = with_run_ids(step, outputs)
        started = time.monotonic()
        status, output = run_step(project, kind, step, number)
        print(f"{time.monotonic() - started:5.1f} s  {step.splitlines()[0][:90]}")
        assert status == 0, f"README step failed: {step}\n{output[-3000:]}"
        outputs.append(output)
    return outputs


def run_checking_the_logger(project, found, answers):
    """Run the steps; right after the first training run, check what the logger wrote."""
    first = first_training_run(found)
    outputs = run_steps(project, found[: first + 1])
    check_logger_files(project, answers, outputs[first])
    return run_steps(project, found[first + 1 :], outputs)


def check_logger_files(project, answers, output):
    """What a fresh two-epoch run left under outputs/: the logger's metrics and the
    hyperparameters (or, without a logger, the run folder alone), one last.ckpt, replaced at
    the second epoch rather than added to, and the learning curves where the run says."""
    answers = {**CHOICE_DEFAULTS, **answers}
    outputs = project / "outputs"
    if answers["logger"] == "none":
        expected = {"version_0"}
        if answers["cli"] == "lightningcli":
            expected.add("config.yaml")  # LightningCLI saves the resolved config of each run
        assert {path.name for path in outputs.iterdir()} == expected
        run_files = {path.name for path in (outputs / "version_0").iterdir()}
        assert run_files == {"checkpoints", "learning_curves.png"}
    else:
        metrics_pattern, hparams_pattern = LOGGER_FILES[answers["logger"]]
        assert list(outputs.glob(metrics_pattern)), f"no {metrics_pattern}"
        (hparams_file,) = outputs.glob(hparams_pattern)
        assert b"learning_rate" in hparams_file.read_bytes() or hparams_file.name == "learning_rate"
    (curves,) = outputs.rglob("learning_curves.png")
    assert curves == project / printed_path(output, "Learning curves")
    assert len(list(outputs.rglob("last.ckpt"))) == 1


def check_run_folder(project, readme, outputs):
    """The first run's folder is where the README says, with what it says it holds."""
    best = Path(re.search(r"^Best checkpoint: (\S+)$", outputs[0], re.MULTILINE)[1])
    run_dir = (project / best).parent.parent  # an absolute `best` stays itself
    named = re.search(r"Each run writes to .*?`(outputs/[^`]+)/`", readme, re.DOTALL)[1]
    shape = r"[^/]+".join(re.escape(part) for part in PLACEHOLDER.split(named))
    shape = shape.replace("version_N", r"version_\d+")
    assert re.fullmatch(shape, run_dir.relative_to(project).as_posix()), (named, run_dir)
    assert {"best.ckpt", "last.ckpt"} <= {path.name for path in (run_dir / "checkpoints").iterdir()}
    assert (run_dir / "learning_curves.png").is_file()
    header = (project / "predictions.csv").read_text().splitlines()[0]
    assert header == "index,label,prediction,confidence"


@pytest.mark.parametrize("variant", VARIANTS)
def test_readme_commands_run_in_order(baked_copy, variant):
    project = baked_copy(**VARIANTS[variant])
    readme = (project / "README.md").read_text()
    lightningcli = VARIANTS[variant].get("cli") == "lightningcli"
    write_own_data(project)
    outputs = run_checking_the_logger(project, steps(readme, lightningcli), VARIANTS[variant])
    check_run_folder(project, readme, outputs)
    assert (project / "outputs" / "study_digits.png").is_file()
    if lightningcli:
        assert "trainer:" in (project / "my_experiment.yaml").read_text()


@pytest.mark.parametrize("variant", LOGGER_VARIANTS)
def test_readme_commands_of_each_logger_run(baked, baked_copy, variant):
    answers, reference = LOGGER_VARIANTS[variant]
    lightningcli = answers["cli"] == "lightningcli"
    project = baked_copy(**answers)
    readme = (project / "README.md").read_text()
    reference_readme = (baked(**VARIANTS[reference]) / "README.md").read_text()
    found = logger_steps(steps(readme, lightningcli), steps(reference_readme, lightningcli))
    # Resume and predict.py; LightningCLI's validate too.
    assert sum("--ckpt_path outputs/" in step for _, step in found) == (3 if lightningcli else 2)
    outputs = run_checking_the_logger(project, found, answers)
    check_run_folder(project, readme, outputs)


def test_readme_runs_or_gives_a_reason_for_every_command_line(baked):
    used = set()
    for answers in ALL_VARIANTS.values():
        lines = bash_lines((baked(**answers) / "README.md").read_text())
        reasons = [skip_reason(line) for line in lines]  # KeyError for an unknown line
        used.update(reason for reason in reasons if reason)
        assert None in reasons
    assert used == {reason for _, reason in SKIPPED}, "a reason no README line needs"


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_readme_table_names_files_of_the_bake(baked, variant):
    project = baked(**ALL_VARIANTS[variant])
    section = (project / "README.md").read_text().split("## Where things are")[1].split("\n## ")[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    rows = [line.split("|")[2] for line in table[2:]]  # below the header and its rule
    files = [name for row in rows for name in re.findall(r"`([^`]+)`", row)]
    assert len(files) >= 9
    assert [name for name in files if not (project / name).is_file()] == []


def test_readme_curl_sends_the_first_digit(baked):
    """The curl example, which the test cannot run, sends the first bundled digit as stored,
    to the port of the README's serve.py line."""
    lines = bash_lines((baked() / "README.md").read_text())
    (curl,) = [line for line in lines if line.startswith("curl ")]
    body = json.loads(re.search(r"-d '(.*)'$", curl)[1])
    assert np.array_equal(np.array(body["inputs"]), load_digits().images[0])
    port = re.search(r"127\.0\.0\.1:(\d+)/predict", curl)[1]
    assert f"python serve.py --ckpt_path best --port {port}" in lines


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
