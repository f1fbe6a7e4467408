"""Two processes on the CPU, with Lightning's own DDP: launched by Lightning and by torchrun.

Each run is the README's own line for that launcher ("Two processes on a CPU"), in the bake
of each command line, with a few batches appended. Rank zero alone writes: one run folder,
one set of checkpoints, each line printed once.
"""

import re

import pytest
from test_readme_commands import SKIPPED, bash_lines, plain, run_step

DDP_ON_CPU = next(pattern for pattern, reason in SKIPPED if "test_distributed.py" in reason)
# A few batches a rank: what is checked is who writes and prints, not what is learnt.
LIMITS = {
    "max_epochs": 2,
    "limit_train_batches": 3,
    "limit_val_batches": 2,
    "limit_test_batches": 2,
}
CLIS = {"argparse": {}, "lightningcli": {"cli": "lightningcli"}}
LAUNCHERS = {"lightning": "python ", "torchrun": "torchrun "}


def readme_ddp_line(readme, launcher):
    """The README's CPU DDP command that starts with the launcher."""
    lines = [line for line in bash_lines(readme) if re.search(DDP_ON_CPU, plain(line))]
    assert len(lines) == len(LAUNCHERS), lines
    (line,) = [line for line in lines if line.startswith(LAUNCHERS[launcher])]
    return line


@pytest.mark.parametrize("launcher", LAUNCHERS)
@pytest.mark.parametrize("cli", CLIS)
def test_readme_ddp_line_writes_and_prints_once(baked_copy, cli, launcher):
    project = baked_copy(**CLIS[cli])
    line = readme_ddp_line((project / "README.md").read_text(), launcher)
    prefix = "--trainer." if cli == "lightningcli" else "--"
    line += "".join(f" {prefix}{name} {value}" for name, value in LIMITS.items())
    status, output = run_step(project, "bash", line, 0)
    assert status == 0, output[-6000:]
    assert "All distributed processes registered. Starting with 2 processes" in output
    lines = output.splitlines()
    # LightningCLI's fit subcommand fits alone; argparse's train.py then tests the best weights.
    once = ["Best checkpoint:", "Learning curves:"]
    if cli == "argparse":
        once += [" test_acc ", "Loaded model weights"]
    for text in once:
        assert sum(text in line for line in lines) == 1, text
    assert "DistributedSampler" not in output  # test examples counted exactly once
    (run_dir,) = (project / "outputs").iterdir()
    assert sorted(path.name for path in (run_dir / "checkpoints").iterdir()) == [
        "best.ckpt",
        "last.ckpt",
    ]
