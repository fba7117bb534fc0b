"""Writes notebooks/NN_*.ipynb from one template so the seven notebooks stay alike.

Run it after changing a notebook's text or parameters, then `python -m tests.tools.refresh_notebooks`
to record the reference outputs that nbval checks. Hand edits to the notebooks are fine too; this
script is the quickest way to keep them consistent.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.params import RunbookParams
from helpers.runbook import STEP_PARAMETERS
from helpers.steps import STEPS

ROOT = Path(__file__).resolve().parents[2]

COMMENTS = {
    "tenant_url": "emulator: the local emulator ($BP_EMULATOR_URL, else http://127.0.0.1:8765); or https://<tenant host>",
    "scope": "tenant host name for the token request; empty: derived from tenant_url",
    "role": "role that must hold the 'Use SMS/MMS API' privilege",
    "api_user": "login ID of the API user (the OAuth client_id)",
    "api_user_first_name": "first name, if the runbook creates the user",
    "api_user_last_name": "last name, if the runbook creates the user",
    "api_user_team": "team, if the runbook creates the user",
    "admin_user": "login ID with Manage users + Manage phones (its secret: $BP_ADMIN_SECRET); empty: none",
    "access_number": "the tenant's SMS access number, E.164 (quoted: it is text)",
    "chat_service": "chat service whose Outbound chat accounts must hold the number",
    "smoke_test": "true sends ONE real text message; off by default",
    "test_destination": "E.164 handset that receives the smoke test",
    "smoke_message": "text of the smoke-test message",
    "smoke_timeout": "seconds to wait for delivered/failed",
    "poll_interval": "seconds between Get Message polls",
    "practice_mode": "emulator only: do the admin-UI steps through the emulator console",
    "dry_run": "observe and report; change nothing",
    "ca_bundle": "PEM CA bundle for a tenant behind a private CA; empty: system trust",
    "connect_timeout": "seconds to establish a connection",
    "read_timeout": "seconds to wait for an answer",
}

INTRO = {
    "00_preflight": """Validates the parameters (tenant URL is https unless loopback, scope, E.164 phone numbers,
names), reports which secrets are available **and from which source, never their values**, checks that
the tenant answers (TLS and the token endpoint), and prints the plan: which steps act, which are
guided, what is verified.""",
    "01_grant_privilege": """**Why:** the SMS/MMS API accepts a token only if its user holds a role with the privilege
*Use SMS/MMS API* (group *Service and Campaign Administration*).

**Admin UI only:** no public API reads or writes roles or privileges. This notebook prints the exact
instructions with your role filled in, then verifies with the API user's token: an SMS/MMS API probe
(Get Message of an id that cannot exist) answers 404 when the privilege is there and 403 when it is
missing. Nothing is sent. Before step 03 has handed over the API secret the check is deferred, and
step 04 verifies it.""",
    "02_define_user": """**Why:** the API secret and the token belong to a user; that user needs the role from step 01.

With admin credentials (a user holding *Manage users*, secret in `$BP_ADMIN_SECRET`) the notebook looks
the user up and creates it with the role if it is missing (`POST /configapi/v2/user`), unless
`dry_run`. If the user exists without the role, a person must add it in the admin UI: the
Configuration API cannot change roles. Without admin credentials the step is guided and verified
with the API user's own token when possible.""",
    "03_api_secret": """**Why:** the user's API secret is the OAuth `client_secret`.

**Admin UI only:** Users & Teams > Users > the user's Properties > API secret > **Generate**. Hand the
secret over through the form's **API secret** field (it is kept in the private handoff file, mode
0600, outside `outputs/`, and the field is cleared at once) or the environment variable
`BP_API_SECRET`. It is never a parameter. The notebook proves the secret works by requesting a token,
and never prints it, keeps it in widget state, or returns it.""",
    "04_access_token": """**Why:** this is what the external application will do: `POST /configapi/v2/oauth/token` with
`grant_type=client_credentials`, `client_id` = the user's login ID, `client_secret` = the API secret,
`scope` = the tenant host. The notebook shows the token's type, lifetime and a masked fingerprint,
never the token, then calls the SMS/MMS API to prove the token carries the privilege: this verifies
steps 01 to 03 together.""",
    "05_chat_service": """**Why:** a service sending SMS must list the number under *Outbound chat accounts*, and replies
reach the chat service tied to the number. The tenant needs an SMS-capable access number and an
SMS/MMS account from the service provider first.

**Admin UI only:** the notebook prints the instructions with the service and number filled in and
verifies through `GET /configapi/v2/phone/ext` (the number's type and `textOutService`) with admin
credentials (*Manage phones*).""",
    "06_smoke_test": """**Off unless asked** (`smoke_test = True`), because it sends a real text: one message from the
access number to `test_destination`, then Get Message is polled until *delivered*, *failed* or the
timeout, and the status timeline is shown. Send Message is never retried once it may have reached
the tenant, so a network failure cannot send a second text.""",
}

SOURCES = """Procedure: Bright Pattern *SMS/MMS API Admin Configuration* (shared/reference/seed-sms-mms-admin-configuration.txt);
endpoints and quirks: shared/reference/bright-pattern-api.md. Against the emulator, `practice_mode = True`
performs the admin-UI steps through the emulator's console, labelled as such; it is refused for any
other target."""


def literal(value) -> str:
    return repr(value) if not isinstance(value, str) else '"' + value.replace('"', '\\"') + '"'


def build(step_id: str) -> nbformat.NotebookNode:
    step = STEPS[step_id]
    defaults = RunbookParams()
    names = STEP_PARAMETERS[step_id]
    kinds = {n: RunbookParams.__dataclass_fields__[n].type for n in names}
    lines = [f"{n}: {kinds[n]} = {literal(getattr(defaults, n))}" for n in names]
    width = max(len(line) for line in lines)
    params_src = "# Parameters (papermill injects overrides after this cell). No secret is ever a parameter.\n" + "\n".join(
        line.ljust(width) + f"  # {COMMENTS[n]}" for line, n in zip(lines, names, strict=True))
    cells = [
        new_markdown_cell(f"# {step_id.replace('_', ' ', 1)}: {step.title}\n\n{INTRO[step_id]}\n\n{SOURCES}"),
        new_code_cell(params_src, metadata={"tags": ["parameters"]}),
        new_code_cell(f'from helpers.runbook import StepNotebook\n\nnb = StepNotebook("{step_id}", globals())'),
        new_markdown_cell("## Interactive form (optional)\n\nEdit the values and press the button to re-run the step "
                          "with them; they are copied into the parameters above. Headless runs skip the form."),
        new_code_cell("form = nb.form()"),
        new_markdown_cell("## Check, act, verify"),
        new_code_cell("result = nb.run()\nnb.show(result)"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(result.headline())"),
        new_code_cell("nb.raise_if_failed(result)"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main() -> None:
    for step_id, step in STEPS.items():
        path = ROOT / "notebooks" / step.notebook
        nbformat.write(build(step_id), path)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
