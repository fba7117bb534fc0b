"""Nothing left after a hard kill: a private folder (0700, prefix bp-runbook-) names its owner's pid and
start time; one whose owner is gone is removed by the next run, a fleet, `make lab` and `forget`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from helpers.run.fleet import run_fleet
from helpers.run.runner import RunOptions
from helpers.safety.private import OWNER, PREFIX, make_private, start_time, sweep
from tests.support import CANARY_ADMIN, ROOT, cli, go, private, write_params

HOLDER = """
import sys, time
from helpers.safety.private import make_private
from helpers.safety.secrets import write_private_json
folder = make_private(sys.argv[1])
write_private_json(folder / "handoff.json", {"admin": sys.argv[2]})
print(folder, flush=True)
time.sleep(120)
"""


def killed_holder(root) -> os.PathLike:
    """A real process makes a private folder with a secret in it, then is killed by SIGKILL."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), CANARY_ADMIN], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(root)})
    folder = proc.stdout.readline().strip()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert os.path.isdir(folder) and CANARY_ADMIN in open(os.path.join(folder, "handoff.json")).read()
    return folder


def test_a_folder_whose_owner_was_killed_is_swept_and_a_live_ones_is_not(tmp_path):
    root = private(tmp_path)
    dead = killed_holder(root)
    mine = make_private(root)
    assert json.loads((mine / OWNER).read_text()) == {"pid": os.getpid(), "start": start_time(os.getpid())}
    assert oct(mine.stat().st_mode & 0o777) == "0o700"
    assert [str(p) for p in sweep(root)] == [dead]
    assert not os.path.exists(dead) and mine.is_dir()


def test_a_reused_pid_does_not_keep_a_folder(tmp_path):
    root = private(tmp_path)
    folder = root / f"{PREFIX}reused"
    folder.mkdir(mode=0o700)
    (folder / OWNER).write_text(json.dumps({"pid": os.getpid(), "start": "1"}))  # this pid, another process's start
    assert sweep(root) == [folder]


def test_a_folder_without_owner_is_left_while_young_then_swept(tmp_path):
    root = private(tmp_path)
    folder = root / f"{PREFIX}young"
    folder.mkdir(mode=0o700)
    made = folder.stat().st_mtime
    assert sweep(root, clock=lambda: made + 1) == [] and folder.is_dir()
    assert sweep(root, clock=lambda: made + 3600) == [folder]


def test_the_next_run_removes_what_a_kill_left(tmp_path):
    dead = killed_holder(private(tmp_path))
    outcome, _ = go(tmp_path, write_params(tmp_path), only=["99"])  # refused (exit 3): it sweeps all the same
    assert outcome.exit_code == 3 and not os.path.exists(dead)


def test_a_fleet_removes_what_a_kill_left(tmp_path):
    import io
    dead = killed_holder(private(tmp_path))
    outcome = run_fleet(RunOptions(params_path="", out_dir=tmp_path / "o", private_root=private(tmp_path)),
                        [write_params(tmp_path)], 99, io.StringIO())  # refused (--jobs): it sweeps first
    assert outcome.exit_code == 3 and not os.path.exists(dead)


def test_forget_removes_what_a_kill_left(tmp_path):
    dead = killed_holder(private(tmp_path))
    done = cli(tmp_path, "forget", env={"BP_RUNBOOK_HANDOFF": str(tmp_path / "none.json")})
    assert done.returncode == 0 and not os.path.exists(dead)
    assert f"Deleted {dead}" in done.stdout and CANARY_ADMIN not in done.stdout


def test_make_lab_sweeps_first():
    source = (ROOT / "helpers" / "tools" / "lab.py").read_text()
    assert "for folder in sweep():" in source.split("def main", 1)[1]
