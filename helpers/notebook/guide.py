"""What to do first, shown under step 00's result when the page is practised on the local emulator:
generate the admin's API secret in the practice admin UI, paste it into the form, go on. Each item
is ticked from what step 00 observed (never from what a person says), with links that use the
emulator's real address."""

from __future__ import annotations

import html

from helpers.steps.context import SECRET_ACCEPTED
from helpers.steps.results import StepResult

EMULATOR_ANSWER = "the local emulator"


def on_emulator(result: StepResult) -> bool:
    target = result.observed.get("target")
    return isinstance(target, dict) and target.get("answers as") == EMULATOR_ANSWER


def first_steps(result: StepResult, params, next_page: str) -> str:
    """The list as HTML; empty when the target is not the emulator (a real tenant has its own admin UI)."""
    if not on_emulator(result):
        return ""
    ui = f"{params.base_url}/_emulator/ui/"
    admin = params.admin_user
    accepted = result.observed.get(SECRET_ACCEPTED["admin"])
    have_admin = accepted is True or params.practice_mode or not admin
    link = f"<a href='{html.escape(ui)}' target='_blank'>{html.escape(ui)}</a>"
    items = [
        (have_admin, f"Open the practice admin UI at {link}, go to Users &amp; Teams &gt; Users &gt; "
                     f"<b>{html.escape(admin or 'admin')}</b> and press <b>Generate</b> under <i>API secret</i>; "
                     "copy the value it shows (once)."),
        (have_admin, "Paste it into the <b>admin API secret</b> field of the form above and press <i>Run step 00 "
                     "with these values</i>. The runbook keeps it for the next pages; "
                     "<code>python -m helpers forget</code> deletes it."),
        (False, f"Then go on: <a href='{html.escape(next_page)}'>the next page</a>, and follow each page's "
                "instructions in the practice admin UI."),
    ]
    if accepted is False:
        items[0] = (False, items[0][1] + " <b>The admin secret handed over is refused by this emulator</b> "
                                         "(see the result above): generate a new one.")
    if params.practice_mode:
        items = items[2:]  # practice mode: the runbook acts through the emulator's console, no secret to paste
    done = "".join(f"<li>{'✅ ' if ok else ''}{text}</li>" for ok, text in items)
    return (f"<div class='bp-first-steps' style='border-left:4px solid #0969da;padding:2px 10px;margin-top:8px'>"
            f"<p style='margin:4px 0'><b>Practising on the local emulator: what to do first</b></p><ol>{done}</ol></div>")
