"""The last stage of a run: the record, however the steps ended.

Every file is scrubbed and scanned (a file where a secret survived is withheld), each step's notebook
is rendered as an HTML page beside it (helpers.run.step_page), then summary.json and summary.html, the
manifest and the tenant's history row are written. A part that cannot be written (a
full disk, a folder removed) is noted and the others are still written. The exit code is decided by
helpers.run.exit_codes from the steps' statuses, the interruption, the scan's leaks and the record's
problems: the history row carries the exit code the run ends with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from helpers.run import drift
from helpers.run.execute import Executed, entry
from helpers.run.exit_codes import EXIT_MEANINGS, exit_code, exit_meaning
from helpers.run.logs import Printer, describe_os_error
from helpers.run.options import RunOutcome
from helpers.run.prepare import Prepared
from helpers.run.record import HISTORY
from helpers.run.step_page import Where, page_name
from helpers.run.summary import HISTORY_FIELDS, history_row, versions, who
from helpers.safety.gate import Gate
from helpers.safety.scrub import Scrubber
from helpers.steps import findings, sends
from helpers.steps.results import FAILED


class Problems(list):
    """What could not be written, one line each."""

    def guarded(self, what: str, write):
        """Write one part of the record; a storage failure is noted and the other parts still written."""
        try:
            return write()
        except OSError as exc:
            self.append(f"{what}: {describe_os_error(exc)}")
        except ValueError as exc:  # e.g. a notebook cut short by a full disk is not JSON
            self.append(f"{what}: unreadable ({type(exc).__name__})")
        return None


def every_step(run: Prepared, done: Executed) -> list[dict]:
    """An entry for every chosen step: a run never looks ok by having none."""
    entries = list(done.entries)
    ran = {e["result"]["step"] for e in entries}
    missing = [step_id for step_id in run.steps if step_id not in ran]
    if missing and done.interrupted:
        entries += [entry(step_id, f"not run: the run was interrupted by {done.interrupted}") for step_id in missing]
    elif missing:
        why = done.unexpected or "the run ended before this step"
        entries.append(entry(missing[0], f"not run: {Scrubber(done.secrets).text(why)[:300]}", FAILED))
        entries += [entry(step_id, f"not run: {missing[0]} could not run") for step_id in missing[1:]]
    return entries


def step_pages(run: Prepared, entries: list[dict], leaks: dict, gate: Gate, problems: Problems,
               render) -> list[dict]:
    """Each step's notebook as an HTML page beside it, made from the sealed notebook and written through the
    gate; the entry names its page (`page`), or None when there is none (not run, withheld, not rendered)."""
    ready = {e["result"]["step"]: page_name(e["result"]["step"]) for e in entries
             if e.get("notebook") and e["notebook"] not in leaks and (run.run_dir / e["notebook"]).is_file()}
    done = []
    for e in entries:
        step, page = e["result"]["step"], None
        if step in ready:
            where = Where(step, e["result"]["status"], e["result"]["summary"], run.params.effective_scope,
                          run.run_dir.name, ready)
            page = _step_page(run.run_dir / e["notebook"], run.run_dir / ready[step], where, gate, problems, render)
        done.append({**e, "page": page})
    return done


def _step_page(notebook: Path, target: Path, where: Where, gate: Gate, problems: Problems, render) -> str | None:
    try:
        text = render(notebook, where)
    except Exception as exc:  # noqa: BLE001 (nbconvert, jinja2, nbformat: a page not made is a gap in the record)
        problems.append(f"{target.name}: not rendered ({type(exc).__name__})")
        return None
    survived = problems.guarded(target.name, lambda: gate.write_text(target, text))
    return target.name if survived == [] else None  # None: not written, or withheld (the leak fails the run)


def record(run: Prepared, done: Executed, printer: Printer) -> RunOutcome:
    using, run_dir, secrets = run.options.collaborators, run.run_dir, done.secrets
    entries = findings.mark_verified_later(every_step(run, done))
    gate = printer.gate  # every file of the record passes it: sealed, written through it, or noted with a reason
    gate.know(secrets)
    problems = Problems()
    if done.log_failure is not None:
        problems.append(f"run.log: {describe_os_error(done.log_failure)}")
    leaks = problems.guarded("scrub", lambda: gate.seal(
        sorted(run_dir.glob("*.ipynb")) + [p for p in [run_dir / "run.log"] if p.exists()], using.scrub_and_scan))
    if leaks is None:  # the scrub itself could not run: nothing may be called clean
        leaks = {"(the run's files)": ["not scrubbed"]}
    entries = step_pages(run, entries, leaks, gate, problems, using.render_step_page)
    statuses = [e["result"]["status"] for e in entries]

    def verdict() -> dict:
        code = exit_code(statuses, done.interrupted, leaks, problems)
        return {"exit_code": code, "exit_meaning": exit_meaning(code, leaks), "secret_scan": dict(leaks) or "clean"}

    pending = sends.read(run.ledger) if run.ledger.exists() else None
    summary = {
        "run_id": run_dir.name, "tenant": run.params.effective_scope,
        "target": {"address": run.params.base_url, "emulator": run.emulator},
        "started_at": datetime.fromtimestamp(run.started, UTC).isoformat(timespec="seconds"),
        "duration_s": round(using.clock() - run.started, 2), "exit_code": None, "exit_meaning": None,
        "interrupted": done.interrupted, "parameters": run.params.public(), "steps": entries, "versions": versions(),
        "run_by": who(), "pending_send": sends.describe(pending) if pending else None,
        "report": run.where(run_dir / "summary.html"), "secret_scan": None, "record_problems": list(problems),
        "drift": drift.since_last_run(run.tenant_dir, run_dir, entries),  # before this run's history row
    }
    # The summary is built from what the notebooks recorded before they were scrubbed: scrub it too.
    summary = gate.data(summary) | verdict()
    problems.guarded("summary.json", lambda: using.write_summary_json(run_dir / "summary.json", summary))
    problems.guarded("summary.html", lambda: using.write_summary_html(run_dir / "summary.html", summary))
    leaks.update(problems.guarded("scan of the summaries", lambda: gate.seal(
        [p for p in (run_dir / "summary.json", run_dir / "summary.html") if p.exists()], using.scrub_and_scan)) or {})
    leaks.update({name: kinds for name, kinds in gate.leaks.items() if name not in leaks})  # lines withheld too
    manifest = problems.guarded("manifest.json", lambda: using.write_manifest(run_dir))
    gate.noted(run_dir / "manifest.json", "file names and SHA-256 digests only")
    summary.update(verdict())  # the history row says what the run exits with
    row = gate.row(history_row(summary)) | {"manifest_sha256": manifest or ""}
    chained = problems.guarded(HISTORY, lambda: using.append_history(run.tenant_dir / HISTORY, row, HISTORY_FIELDS))
    gate.noted(run.tenant_dir / HISTORY, "rows through the gate; hashes and digests only besides")
    if run.records is not None and run.records.remote:  # the record made here goes to S3, through the gate
        problems.extend(run.records.publish(run_dir, gate, chained is not None))
        leaks.update({name: kinds for name, kinds in gate.leaks.items() if name not in leaks})
    summary.update(verdict())

    for name, kinds in leaks.items():
        printer.say(f"error: secret scan: {', '.join(kinds)} survived in {run.where(run_dir / name)}; the file was withheld")
    if done.unexpected:
        printer.say(f"error: {done.unexpected[:300]} (recorded as a failed step)")
    if done.interrupted:
        printer.say(f"Interrupted by {done.interrupted}: the steps not run are recorded as skipped.")
    if problems:
        printer.say(f"error: the run record in {run.where(run_dir)} is incomplete: {'; '.join(problems)}")
    printer.say(f"Exit {summary['exit_code']}: {EXIT_MEANINGS[summary['exit_code']]}")
    printer.say(f"Report: {run.where(run_dir / 'summary.html')}")
    if chained:  # the first 16 of 64 hex digits: enough to compare with a copy kept elsewhere
        printer.say(f"History chain head: {chained[:16]} (python -m helpers verify {run.where(run.tenant_dir)})")
    return RunOutcome(summary["exit_code"], run_dir, summary, gate=gate)
