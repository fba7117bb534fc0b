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
from tests.support import CANARY_ADMIN, ROOT

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
    late = "late-secret/with+special=chars!"  # not token-shaped: only knowing it redacts it
    gate, out = Gate(), io.StringIO()
    gate.know([late])
    gate.print(f"generated {late}", out)
    assert late not in out.getvalue() and Scanner([late]).text_leaks(out.getvalue()) == []


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
THROUGH_THE_GATE = re.compile(r"\bgate\.(?:print|write_text|write_json|handler)\(")
ALLOWED = {  # (module, what the line writes with): why it may write itself
    ("helpers/run/logs.py", "lg.addHandler(handler)"): "run.log's handler: its format() passes each record through the gate",
    ("helpers/run/logs.py", "noise.addHandler(logging.NullHandler())"): "a NullHandler writes nothing",
    ("helpers/run/execute.py", "notebook.write_text("): "mark_interrupted: the notebook is sealed by the record stage",
    ("helpers/run/execute.py", "self.context.write_text("): "run-context.json in the private 0700 folder: step "
                                                              "statuses only, never leaves the machine's folder",
    ("helpers/run/record.py", "path.write_text(json.dumps({\"run_id\""): "manifest.json: file names and SHA-256 "
                                                                         "digests; noted in the ledger",
    ("helpers/run/record.py", "with path.open(\"a\""): "the history's csv writer: rows come from Gate.row",
    ("helpers/run/summary.py", "path.write_text(json.dumps(summary"): "summary.json: scrubbed by Gate.data, "
                                                                       "sealed by Gate.seal right after",
    ("helpers/run/summary.py", "path.write_text(render_html(summary)"): "summary.html: the same",
    ("helpers/cli.py", "print("): "the commands that are not a run (help, history, verify, forget): paths, counts, "
                                  "digests, no run's text; a run prints only through its gate",
}


def test_no_module_under_helpers_run_or_the_cli_writes_around_the_gate():
    offenders = []
    for path in sorted([*(ROOT / "helpers" / "run").rglob("*.py"), ROOT / "helpers" / "cli.py"]):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith("helpers/run/kernels/"):
            continue  # the other side of the handover: the kernels' own processes, never the run's record
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.strip()
            if not WRITES.search(code) or code.startswith("#") or THROUGH_THE_GATE.search(code):
                continue
            if not any(module == name and start in code for module, start in ALLOWED):
                offenders.append(f"{name}:{number}: {code}")
    assert offenders == []


def test_the_allow_list_names_lines_that_exist():
    for module, start in ALLOWED:
        assert start in (ROOT / module).read_text(encoding="utf-8"), (module, start)


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


def test_the_fleet_summary_is_written_through_the_gate_and_withheld_when_a_secret_survived(tmp_path):
    """fleet-summary.json and .html were never scanned: a piece the scrub cannot decide (next to an
    escape no decoder can read) reached them whole although the tenant's own summary was withheld."""
    from helpers.run.fleet import _write_summary
    from helpers.run.logs import Printer
    from helpers.run.options import RunOutcome

    step = {"result": {"step": "04_access_token", "status": "failed", "actions": [],
                       "summary": f"refused: {CANARY_ADMIN[:10]}\\ud800"}, "notebook": None}
    out, gate = io.StringIO(), Gate([CANARY_ADMIN])
    folder = _write_summary(tmp_path, {"acme": RunOutcome(1, tmp_path / "acme", {"steps": [step]})}, 1, 0.0, 1,
                            Printer(out, gate))
    assert json.loads((folder / "fleet-summary.json").read_text()) == {"withheld": WITHHELD}
    assert (folder / "fleet-summary.html").read_text() == WITHHELD + "\n"
    assert {str((folder / n).resolve()) for n in ("fleet-summary.json", "fleet-summary.html")} <= set(gate.ledger)
