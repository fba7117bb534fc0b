"""The README's table of what each command and each step reads and writes on the tenant.

The steps' rows come from their declarations (Row.reads, Row.writes); the commands' rows are here,
beside the commands they describe (helpers/cli.py). `python -m helpers.tools.build` writes the table
between the README's markers; `--check` fails when it differs.
"""

from __future__ import annotations

from helpers.steps import STEPS

START = "<!-- access-table:start (built from the step declarations and helpers/tools/access.py: python -m helpers.tools.build) -->"
END = "<!-- access-table:end -->"
HEAD = ("| Command or step | Reads on the tenant | Writes on the tenant |", "|---|---|---|")

# (command, reads, writes): a command that runs steps reads and writes what its steps do.
COMMANDS = (
    ("`run`", "what each step below reads", "what each step below writes, and nothing else"),
    ("`run --dry-run`", "what each step below reads", "nothing: neither Create User nor Send Message is sent, nor a "
                                                      "change through the emulator's console"),
    ("`plan`", "what each step below reads (every step's checks, with `dry_run` on)", "nothing, and no run record"),
    ("`snapshot`", "the admin's token request; Get Teams, Get Directory (`/phone/user`), Get User and Get User Lock "
                   "State of each user it lists, Get Access Numbers (`/phone/ext`)", "nothing"),
    ("`contract`", "token requests; Get Message of a made-up id; Get User and its lock state; Get Teams; `/phone/user`; "
                   "`/phone/ext`", "nothing"),
    ("`history`, `verify`, `forget`", "nothing (local files only)", "nothing"),
)


def access_table() -> str:
    steps = [f"| step `{step.id}` | {step.row.reads} | {step.row.writes} |" for step in STEPS.values()]
    commands = [f"| {name} | {reads} | {writes} |" for name, reads, writes in COMMANDS]
    return "\n".join([*HEAD, *commands, *steps])


def missing() -> list[str]:
    """The steps that do not declare what they read and write."""
    return [step.id for step in STEPS.values() if not step.row.reads.strip() or not step.row.writes.strip()]


__all__ = ["COMMANDS", "END", "START", "access_table", "missing"]
