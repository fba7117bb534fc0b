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
    "resend_unconfirmed": "True sends although an earlier text may have gone out",
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
instructions with your role filled in, then checks what can be observed: with the API user's token,
Get Message of an id that cannot exist (nothing is sent). 403 means none of the user's roles holds the
privilege; 401 means the SMS/MMS API rejects the token; any other 4xx, or a readable 2xx, means the API
accepted the token, so *one of the user's roles* holds the privilege (which role cannot be observed);
5xx, timeouts and unreadable answers prove nothing and are reported as such. Before step 03 has handed
over the API secret nothing can be verified yet.""",
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
never the token, then uses it on the SMS/MMS API (the probe of step 01). In a runbook run it names the
earlier steps this verifies end to end, never one that ended action-required or failed.""",
    "05_chat_service": """**Why:** a service sending SMS must list the number under *Outbound chat accounts*, and replies
reach the chat service tied to the number. The tenant needs an SMS-capable access number and an
SMS/MMS account from the service provider first.

**Admin UI only:** the notebook prints the instructions with the service and number filled in and
verifies through `GET /configapi/v2/phone/ext` with admin credentials (*Manage phones*): the number's
`textOutService` must name the chat service. The number's `type` is recorded but not relied on (the
documentation shows both "text-out" and "unassigned" for such numbers).""",
    "06_smoke_test": """**Off unless asked** (`smoke_test = True`), because it sends a real text: one message from the
access number to `test_destination`, then Get Message is polled until *delivered*, *failed* or the
timeout, and the status timeline is shown. Send Message is never retried once it may have reached
the tenant, so a network failure cannot send a second text.""",
}

HELP = "https://help.brightpattern.com"
ADMIN_CONFIGURATION = f"[SMS/MMS API Specification: Admin Configuration]({HELP}/5.2:Sms-mms-api-specification/AdminConfiguration) (Bright Pattern documentation 5.2; older revision 5.19)"
SMS_POSTMAN = "[BPCC SMS/MMS API](https://documenter.getpostman.com/view/6711197/S1ETRbny) (Bright Pattern's Postman documentation)"
CONFIG_POSTMAN = "[BPCC Configuration API](https://documenter.getpostman.com/view/6711197/S1EUtanN) (Bright Pattern's Postman documentation)"
TOKEN = f"[User Management API Specification: Request Access Token]({HELP}/5.2:User-management-api-specification/RequestAccessToken) (5.2)"
PRIVILEGES = f"[Contact Center Administrator Guide: Privileges]({HELP}/5.19:Contact-center-administrator-guide/UsersandTeams/Privileges) (5.19)"
ACCESS_NUMBERS = f"[Contact Center Administrator Guide: Access Numbers]({HELP}/5.8:Contact-center-administrator-guide/Directory/AccessNumbers) (5.8)"

# Bright Pattern's public documentation, by title and version, for each notebook.
SOURCES = {
    "00_preflight": [ADMIN_CONFIGURATION, TOKEN],
    "01_grant_privilege": [ADMIN_CONFIGURATION, PRIVILEGES, SMS_POSTMAN],
    "02_define_user": [ADMIN_CONFIGURATION, CONFIG_POSTMAN],
    "03_api_secret": [ADMIN_CONFIGURATION, TOKEN],
    "04_access_token": [TOKEN, SMS_POSTMAN],
    "05_chat_service": [ADMIN_CONFIGURATION, ACCESS_NUMBERS, CONFIG_POSTMAN],
    "06_smoke_test": [SMS_POSTMAN],
}
PRACTICE = """Against the emulator, `practice_mode = True` performs the admin-UI steps through the emulator's
console, labelled as such in every record; it is refused for any other target."""


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
        new_markdown_cell(f"# {step_id.replace('_', ' ', 1)}: {step.title}\n\n{INTRO[step_id]}\n\n**Documentation:** "
                          + "; ".join(SOURCES[step_id]) + f".\n\n{PRACTICE}"),
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
