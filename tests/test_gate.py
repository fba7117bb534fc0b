"""One gate for everything that leaves the process (helpers/safety/gate.py): it scrubs, then scans,
withholds what survived and says so; it knows secrets added later and keeps parameter values; its
ledger names every file and stream it let through, and no writer under helpers/run or helpers/cli
goes around it."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

from helpers.safety.gate import LINE_WITHHELD, Gate
from helpers.safety.scrub import REDACTED, WITHHELD, Scanner, Scrubber
from tests.support import CANARY_ADMIN, CANARY_API, ROOT

ESCAPED = "".join(f"\\u{ord(c):04x}" for c in CANARY_ADMIN)


def blind(gate: Gate) -> Gate:
    """A gate whose scrubber misses everything: only its scan stands between a secret and the outside."""
    gate.scrubber = Scrubber([])
    return gate


def test_a_file_written_through_the_gate_is_scrubbed(tmp_path):
    gate = Gate([CANARY_ADMIN])
    assert gate.write_text(tmp_path / "a.html", f"<p>{CANARY_ADMIN}</p>") == []
    assert (tmp_path / "a.html").read_text() == f"<p>{REDACTED}</p>"
    assert str((tmp_path / "a.html").resolve()) in gate.ledger


def test_a_secret_the_scrub_missed_is_withheld_by_the_scan(tmp_path):
    gate = blind(Gate([CANARY_ADMIN]))
    leaks = gate.write_json(tmp_path / "fleet-summary.json", {"summary": f"refused: {ESCAPED}"})
    assert leaks and json.loads((tmp_path / "fleet-summary.json").read_text()) == {"withheld": WITHHELD}
    assert gate.leaks["fleet-summary.json"] == leaks


def test_a_line_where_a_secret_survived_is_replaced_by_one_line(tmp_path):
    gate, out = blind(Gate([CANARY_ADMIN])), io.StringIO()
    gate.print(f"INFO helpers: token refused: {ESCAPED}", out)
    assert out.getvalue() == LINE_WITHHELD + "\n" and gate.leaks


def test_the_gate_knows_secrets_added_later(tmp_path):
    gate, out = Gate(), io.StringIO()
    gate.know([CANARY_API])
    gate.print(f"generated {CANARY_API}", out)
    assert CANARY_API not in out.getvalue() and Scanner([CANARY_API]).text_leaks(out.getvalue()) == []


def test_the_terminal_log_handler_scrubs_and_scans(tmp_path):
    gate, out = blind(Gate([CANARY_ADMIN])), io.StringIO()
    logger = logging.getLogger("tests.gate.terminal")
    logger.addHandler(gate.handler(out, logging.INFO, logging.Formatter("%(levelname)s %(message)s")))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.info("answer: %s", ESCAPED)
    assert out.getvalue() == LINE_WITHHELD + "\n"


def test_a_parameter_value_is_never_redacted_as_token_shaped(tmp_path):
    login = "apiuser" + "Q7" * 16 + "x"  # a valid 40-character login ID: token-shaped
    assert len(login) >= 32
    gate = Gate([CANARY_ADMIN], keep=[login])
    gate.write_json(tmp_path / "summary.json", {"parameters": {"api_user": login}, "other": "z" * 40})
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written == {"parameters": {"api_user": login}, "other": REDACTED}
    assert gate.leaks == {}
    # a kept value that is a known secret is still a secret
    assert REDACTED in Gate([CANARY_ADMIN], keep=[CANARY_ADMIN]).line(CANARY_ADMIN)


# ------------------------------------------------------------------ no writer around the gate
WRITES = re.compile(r"\.write_text\(|\.write_bytes\(|json\.dump\(|open\([^)]*['\"][wa]b?['\"]|\.open\(['\"][wa]"
                    r"|sys\.(?:stdout|stderr)\.write|print\(|StreamHandler\(|FileHandler\(|addHandler\(")
ALLOWED = {  # module: the writes it may make itself, with the reason
    "helpers/run/logs.py": "RunLogHandler (a FileHandler whose format() passes each record through the gate); "
                           "quiet_event_loop_noise adds a NullHandler (nothing is written)",
    "helpers/run/execute.py": "run-context.json in the private folder (step statuses only, never leaves the "
                              "machine's 0700 folder); mark_interrupted's notebook, sealed by the record stage",
    "helpers/run/record.py": "manifest.json (file names and SHA-256 digests) and the history's csv writer, whose "
                             "rows come from Gate.row; both noted in the gate's ledger by recording.py",
    "helpers/run/fleet.py": "the worker's event pipe to the fleet (JSON events: lines the fleet prints through its "
                            "gate, summaries through Gate.handed) and the task pipe to a worker",
    "helpers/run/summary.py": "write_json / write_html: the record stage seals both files through the gate "
                              "right after (Gate.seal), and the summary was scrubbed by Gate.data before",
    "helpers/cli.py": "print() of the commands that are not a run (help, history, verify, forget, contract): paths, "
                      "counts and digests, no run's text; the run's terminal log handler is the gate's",
}


def test_no_module_under_helpers_run_or_the_cli_writes_around_the_gate():
    offenders = []
    for path in sorted([*(ROOT / "helpers" / "run").rglob("*.py"), ROOT / "helpers" / "cli.py"]):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith("helpers/run/kernels/") or name in ALLOWED:
            continue  # kernels: the other side of the handover (their own process); ALLOWED: reasons above
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if WRITES.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == []


def test_the_allow_list_names_modules_that_exist():
    for name in ALLOWED:
        assert (ROOT / name).is_file(), name


def test_the_static_check_sees_a_bypass(tmp_path):
    """The pattern catches each way of writing around the gate (so removing the gate from a writer fails)."""
    for line in ['folder.write_text(text)', 'json.dump(data, handle)', 'open(path, "w")', 'path.open("a")',
                 'sys.stderr.write(x)', 'print(line)', 'logging.StreamHandler(sys.stderr)',
                 'logging.getLogger().addHandler(h)']:
        assert WRITES.search(line), line


def ledger_covers(gate: Gate, out_dir: Path) -> list[str]:
    """Files under out_dir the gate did not let through (empty lock files hold nothing)."""
    return [str(p) for p in out_dir.rglob("*") if p.is_file() and str(p.resolve()) not in gate.ledger
            and not (p.name == ".run.lock" and p.stat().st_size == 0)]
