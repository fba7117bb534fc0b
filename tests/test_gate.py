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

import pytest

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


# ------------------------------------------------------------------ to a storage (records on S3)
class Objects(dict):
    """What a storage received (tests/test_records_s3.py has the real S3 API; here only the gate's part)."""

    def put(self, name, data, **condition):
        self[name] = (data, condition)
        return '"etag"'

    def url(self, name):
        return f"s3://bucket/{name}"


def test_publish_scans_what_leaves_withholds_a_file_and_never_publishes_a_history_with_a_secret(tmp_path):
    gate, store = Gate([CANARY_ADMIN]), Objects()
    clean, leaky, history = tmp_path / "summary.html", tmp_path / "run.log", tmp_path / "history.csv"
    clean.write_text("<p>ok</p>")
    leaky.write_text(f"the secret is {CANARY_ADMIN}\n")
    history.write_text(f"run_id,note\n1,{CANARY_ADMIN}\n")
    assert gate.publish(clean, store, "t/r/summary.html", create=True) == '"etag"'
    assert store["t/r/summary.html"] == (b"<p>ok</p>", {"create": True})
    gate.publish(leaky, store, "t/r/run.log", create=True)
    assert store["t/r/run.log"][0] == (WITHHELD + "\n").encode()  # the notice leaves, never the secret
    with pytest.raises(ValueError, match="a secret survived in history.csv: not published"):
        gate.publish(history, store, "t/history.csv", etag='"e1"', withhold=False)
    assert "t/history.csv" not in store and history.read_text().endswith(f"{CANARY_ADMIN}\n")
    assert set(gate.leaks) == {"run.log", "history.csv"}
    assert gate.ledger == {"s3://bucket/t/r/summary.html": "published", "s3://bucket/t/r/run.log": "published"}


def test_publish_lets_through_the_digests_it_is_told_and_no_other_token_shaped_string(tmp_path):
    digest = "0123456789abcdef" * 4
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"files": {"summary.json": {"sha256": digest}}}))
    store = Objects()
    Gate().publish(manifest, store, "t/r/manifest.json", digests={digest})
    assert json.loads(store["t/r/manifest.json"][0])["files"]["summary.json"]["sha256"] == digest
    gate = Gate()
    gate.publish(manifest, store, "t/r/manifest.json")  # not told: a token-shaped string, withheld
    assert gate.leaks == {"manifest.json": ["token-shaped string"]}


# ------------------------------------------------------------------ no writer around the gate
WRITES = re.compile(r"\.write_text\(|\.write_bytes\(|json\.dump\(|open\([^)]*['\"][wa]b?['\"]|\.open\(['\"][wa]"
                    r"|sys\.(?:stdout|stderr)\.write|(?<![\w.])print\(|StreamHandler\(|FileHandler\(|addHandler\("
                    r"|put_object|\.pipe(?:_file)?\(|\bstore\.put\(|\.put_file\(|\.upload\(")  # and to a storage (S3)
THROUGH_THE_GATE = re.compile(r"\bgate\.(?:print|write_text|write_json|handler|publish)\(")
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
    ("helpers/run/storage.py", "(self.tenant_dir / HISTORY_KEY).write_bytes("): "the tenant's history read from S3, "
                                                                                "into the private working folder",
    ("helpers/run/storage.py", "target.write_bytes("): "verify's and history's private copy of the objects on S3",
    ("helpers/run/storage.py", "target.write_bytes(found[0])  # a private copy, read by drift"): "the previous runs "
        "drift reads, copied into the run's private 0700 working folder, removed with it",
    ("helpers/run/storage.py", 'return self._call("put_object"'): "S3Store.put: called by Gate.publish (scanned) "
                                                                   "and the lock (its content through Gate.handed)",
    ("helpers/run/storage.py", "self.etag = self.store.put(self.name, self._body()"): "the lock: _body passes Gate.handed",
    ("helpers/cli.py", "print("): "the commands that are not a run (help, history, verify, forget): paths, counts, "
                                  "digests, no run's text; a run prints only through its gate",
}


# Whole modules that write themselves, each with why: the gate's own parts (it has to write somewhere),
# and developer tools that write the project's tracked files or print figures, never a tenant's answer.
# Every other module of helpers/ writes through the gate: a new writer anywhere fails the check below.
OWN_WRITERS = {
    "helpers/safety/gate.py": "the gate: scrub, then write, then scan",
    "helpers/safety/scrub.py": "the scrubber and the scan the gate calls (seals and withholds files in place)",
    "helpers/safety/secrets.py": "the private handoff file (0600): secrets the forms handed over, never a record",
    "helpers/safety/private.py": "owner.json of a private 0700 folder: a pid and a start time",
    "helpers/run/kernels/": "the other side of the handover: the kernels' own processes, never the run's record",
    "helpers/notebook/": "prints inside a notebook's kernel: the output notebook is sealed by the record stage",
    "helpers/steps/sends.py": "the pending-send ledger in the run's private folder: a message id and a status",
    "helpers/tools/build.py": "writes the tracked notebooks and pages from the step declarations",
    "helpers/tools/refresh.py": "writes the tracked nbval references",
    "helpers/tools/documented.py": "writes the tracked documented-samples recording",
    "helpers/tools/nbval.py": "prints the notebooks' paths",
    "helpers/tools/bench.py": "prints timing figures of runs against the emulator",
    "helpers/tools/lab.py": "make lab's own status lines",
    "helpers/tools/workspace.py": "the practice workspace's record of which copies it made (file names, digests)",
}


def modules_to_check():
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if not any(name == own or (own.endswith("/") and name.startswith(own)) for own in OWN_WRITERS):
            yield name, path


def test_no_module_of_helpers_writes_around_the_gate():
    offenders = []
    for name, path in modules_to_check():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.strip()
            if not WRITES.search(code) or code.startswith("#") or THROUGH_THE_GATE.search(code):
                continue
            if not any(module == name and start in code for module, start in ALLOWED):
                offenders.append(f"{name}:{number}: {code}")
    assert offenders == []


def test_a_new_writer_anywhere_in_helpers_is_checked():
    """Every module but the listed own writers is read, the tenant, steps and tools ones included."""
    checked = {name for name, _ in modules_to_check()}
    assert {"helpers/tools/contract.py", "helpers/tools/snapshot.py", "helpers/tenant/client.py",
            "helpers/steps/findings.py", "helpers/cli.py", "helpers/run/storage.py"} <= checked
    assert all((ROOT / own).exists() for own in OWN_WRITERS), "an own writer that no longer exists"


def test_the_allow_list_names_lines_that_exist():
    for module, start in ALLOWED:
        assert start in (ROOT / module).read_text(encoding="utf-8"), (module, start)


def test_the_static_check_sees_a_bypass(tmp_path):
    """The pattern catches each way of writing around the gate (so removing the gate from a writer fails)."""
    for line in ['folder.write_text(text)', 'json.dump(data, handle)', 'open(path, "w")', 'path.open("a")',
                 'sys.stderr.write(x)', 'print(line)', 'logging.StreamHandler(sys.stderr)',
                 'logging.getLogger().addHandler(h)', 'client.put_object(Bucket=b)', 'fs.pipe_file(url, data)',
                 'store.put(name, data)']:
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
