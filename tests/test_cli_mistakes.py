"""Every mistake on the command line, of every subcommand, is exit 3 with one line naming the option and
the fix: never argparse's 2, which means "a person must act" and counts as success for systemd."""

from __future__ import annotations

import pytest

from helpers.cli import main

MISTAKES = {
    "run: unknown log level": (["run", "--params", "params/demo.yaml", "--log-level", "bogus"], "--log-level"),
    "run: --jobs not a number": (["run", "--params", "params/demo.yaml", "--jobs", "abc"], "--jobs"),
    "run: an unknown option": (["run", "--params", "params/demo.yaml", "--bogus"], "--bogus"),
    "run: --params missing": (["run", "--emulator"], "--params"),
    "an unknown subcommand": (["bogus"], "bogus"),
    "no subcommand": ([], "command"),
    "forget: an extra argument": (["forget", "extra"], "extra"),
    "verify: no folder": (["verify"], "DIR"),
    "verify: an unknown option": (["verify", "outputs", "--bogus"], "--bogus"),
    "contract: --out missing": (["contract", "--params", "params/demo.yaml"], "--out"),
    "plan: --params missing": (["plan", "--emulator"], "--params"),
    "plan: an unknown option": (["plan", "--params", "params/demo.yaml", "--bogus"], "--bogus"),
    "snapshot: --admin-user missing": (["snapshot", "--tenant-url", "emulator", "--out", "x"], "--admin-user"),
    "snapshot: --out missing": (["snapshot", "--tenant-url", "emulator", "--admin-user", "admin"], "--out"),
    "snapshot: an unknown option": (["snapshot", "--tenant-url", "emulator", "--admin-user", "a", "--out", "x", "--bogus"],
                                    "--bogus"),
    "history: --limit not a number": (["history", "--limit", "x"], "--limit"),
}


@pytest.mark.parametrize("argv, option", MISTAKES.values(), ids=list(MISTAKES))
def test_a_command_line_mistake_is_exit_3_naming_the_option_and_the_fix(argv, option, capsys):
    assert main(argv) == 3
    printed = capsys.readouterr()
    first = printed.err.splitlines()[0]
    assert first.startswith("error: ") and option in first and "Fix: " in first, printed.err
    assert printed.out == ""


def test_help_is_still_exit_0(capsys):
    assert main(["run", "--help"]) == 0
    assert "--params" in capsys.readouterr().out
