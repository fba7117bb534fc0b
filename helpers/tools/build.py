"""Writes notebooks/NN_*.ipynb and the landing page notebooks/README.md from one template, so the
seven runbook pages stay alike.

Run it after changing a page's text or a step's parameters, then `python -m helpers.tools.refresh`
to re-record the verdict lines nbval checks (tests/notebook_references.json). The committed notebooks
carry no outputs: a freshly opened page shows nothing stale.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.steps import STEPS
from helpers.steps.params import RunbookParams

ROOT = Path(__file__).resolve().parents[2]
CHECKED = "nbval-check-output"  # nbval compares this cell's output (the verdict line) with the reference

# Inline comments are what `papermill --help-notebook` shows: short, so no line runs off the page, and
# without quotes (papermill's parser stops at a quote in a comment and drops the parameter).
COMMENTS = {
    "tenant_url": "emulator (the local one), or https://<tenant host>",
    "scope": "tenant host for the token request; empty: from tenant_url",
    "role": "role that must hold 'Use SMS/MMS API'",
    "api_user": "login ID of the API user (the OAuth client_id)",
    "api_user_first_name": "if the runbook creates the user",
    "api_user_last_name": "if the runbook creates the user",
    "api_user_team": "team, if the runbook creates the user",
    "admin_user": "holds Manage users + Manage phones; empty: none",
    "access_number": "the tenant's SMS access number, E.164",
    "chat_service": "its Outbound chat accounts must hold the number",
    "smoke_test": "True sends ONE real text message",
    "test_destination": "E.164 handset that receives it",
    "smoke_message": "text of the test message",
    "smoke_timeout": "seconds to wait for delivered / failed",
    "poll_interval": "seconds between Get Message calls",
    "resend_unconfirmed": "True: send although an earlier text may have gone",
    "practice_mode": "emulator only: act through its console",
    "dry_run": "observe and report; change nothing",
    "ca_bundle": "PEM bundle of a private CA; empty: system trust",
    "connect_timeout": "seconds to connect",
    "read_timeout": "seconds to wait for an answer",
}

HELP = "https://help.brightpattern.com"
ADMIN_CONFIGURATION = (f"[SMS/MMS API Specification: Admin Configuration]({HELP}/5.2:Sms-mms-api-specification/"
                       "AdminConfiguration) (Bright Pattern documentation 5.2; an older revision in 5.19)")
SMS_POSTMAN = ("[BPCC SMS/MMS API](https://documenter.getpostman.com/view/6711197/S1ETRbny) (Bright Pattern's "
               "Postman documentation)")
CONFIG_POSTMAN = ("[BPCC Configuration API](https://documenter.getpostman.com/view/6711197/S1EUtanN) (Bright "
                  "Pattern's Postman documentation)")
TOKEN = (f"[User Management API Specification: Request Access Token]({HELP}/5.2:User-management-api-specification/"
         "RequestAccessToken) (5.2)")
PRIVILEGES = (f"[Contact Center Administrator Guide: Privileges]({HELP}/5.19:Contact-center-administrator-guide/"
              "UsersandTeams/Privileges) (5.19)")
ACCESS_NUMBERS = (f"[Contact Center Administrator Guide: Access Numbers]({HELP}/5.8:Contact-center-administrator-guide/"
                  "Directory/AccessNumbers) (5.8)")

PRACTICE_UI = ("the practice admin UI (the emulator's `/_emulator/` page; `make lab` prints its address, by "
               "default `http://127.0.0.1:8765/_emulator/`)")

# Each page: why the step exists, what a person does in the admin UI, what the notebook checks, and
# what a good result looks like. Plain words; the menu paths are the ones the instructions print.
PAGES = {
    "00_preflight": {
        "why": "Before anything changes, make sure the runbook can reach the tenant with what you gave it.",
        "admin": None,
        "checks": "The parameters (https unless the target is a local emulator, phone numbers in E.164 form, "
                  "names), which secrets are available and from where (never their values), whether the tenant "
                  "answers (its token endpoint refuses a request without credentials), whether each available "
                  "secret gets a token, and the plan: which steps act, which are guided, what is verified.",
        "good": "`ok`: the tenant answers, and the plan says what will happen next.",
        "docs": [ADMIN_CONFIGURATION, TOKEN],
    },
    "01_grant_privilege": {
        "why": "The SMS/MMS API accepts a token only if its user holds a role with the privilege *Use SMS/MMS "
               "API* (group *Service and Campaign Administration*).",
        "admin": "Users & Teams > Roles > the role (parameter `role`) > Properties: in the group *Service and "
                 "Campaign Administration*, enable **Use SMS/MMS API** and save.",
        "checks": "No API reads or writes privileges, so the notebook checks what can be observed: with the "
                  "API user's token, Get Message of an id that cannot exist (nothing is sent). 403 means none "
                  "of the user's roles holds the privilege; 401 means the SMS/MMS API rejects the token; another "
                  "4xx, or a readable 2xx, means the API accepted the token, so *one of the user's roles* holds "
                  "the privilege (which one cannot be observed). A server error or a timeout proves nothing and is "
                  "reported as such. Until step 03 has handed over the API secret, nothing can be checked.",
        "good": "`ok`: the SMS/MMS API accepts the API user's token. `action-required` lists what to do.",
        "docs": [ADMIN_CONFIGURATION, PRIVILEGES, SMS_POSTMAN],
    },
    "02_define_user": {
        "why": "The API secret and the token belong to a user, and that user needs the role from step 01.",
        "admin": "Users & Teams > Users > the user (parameter `api_user`): give it the role (parameter `role`) "
                 "and save. With admin credentials the runbook creates a missing user itself; only the roles of "
                 "an existing user need the admin UI (the Configuration API cannot change them).",
        "checks": "With admin credentials (*Manage users*), Get User and its lock state: the user exists, holds "
                  "the role, is neither disabled nor locked out. A missing user is created with the role "
                  "(`POST /configapi/v2/user`) unless `dry_run`. Without admin credentials, the API user's own "
                  "token shows what it can.",
        "good": "`ok` (the user was already right) or `changed` (the runbook created it and read it back).",
        "docs": [ADMIN_CONFIGURATION, CONFIG_POSTMAN],
    },
    "03_api_secret": {
        "why": "The user's API secret is the OAuth `client_secret`: the external application's credential.",
        "admin": "Users & Teams > Users > the user > Properties > API secret > **Generate**, then copy the "
                 "value: it is shown once. Paste it into this notebook's form (**API secret** field) or set "
                 "`BP_API_SECRET`. It is never a parameter.",
        "checks": "A token request with the secret. The form keeps the secret in a private file (mode 0600, "
                  "outside `outputs/`) so the next notebooks find it, and clears the field at once; a secret the "
                  "tenant refuses is not kept. If it is refused, the notebook looks at why: a user that does not "
                  "exist, is disabled or locked out (step 02), or a secret that is wrong or was replaced.",
        "good": "`ok`: a token was issued with the secret.",
        "docs": [ADMIN_CONFIGURATION, TOKEN],
    },
    "04_access_token": {
        "why": "This is what the external application will do: request a token, then use it on the SMS/MMS API.",
        "admin": None,
        "checks": "`POST /configapi/v2/oauth/token` with `grant_type=client_credentials`, `client_id` = the "
                  "user's login ID, `client_secret` = the API secret, `scope` = the tenant host; the token's "
                  "type, lifetime and a masked fingerprint are shown, never the token. Then the token is used on "
                  "the SMS/MMS API (the probe of step 01). In a runbook run, the result names the earlier steps "
                  "this verifies end to end, never one that ended `action-required` or `failed`.",
        "good": "`ok`: a Bearer token was issued and the SMS/MMS API accepts it.",
        "docs": [TOKEN, SMS_POSTMAN],
    },
    "05_chat_service": {
        "why": "A service sending SMS must list the number under *Outbound chat accounts*, and replies reach the "
               "chat service tied to the number. The SMS-capable access number and its SMS/MMS account come "
               "from your service provider.",
        "admin": "Services & Campaigns > the chat service (parameter `chat_service`) > Properties: set "
                 "**Outbound chat accounts** to the access number (parameter `access_number`) and save.",
        "checks": "`GET /configapi/v2/phone/ext` with admin credentials (*Manage phones*): the number must be "
                  "SMS-capable and its `textOutService` must name the chat service. Its `type` is recorded but "
                  "not relied on (Bright Pattern's documents show both `text-out` and `unassigned`).",
        "good": "`ok`: the number is an outbound chat account of the service.",
        "docs": [ADMIN_CONFIGURATION, ACCESS_NUMBERS, CONFIG_POSTMAN],
    },
    "06_smoke_test": {
        "why": "One real text proves the whole chain, from token to handset.",
        "admin": None,
        "checks": "Off unless `smoke_test = True`, because it sends a real text: one message from the access "
                  "number to `test_destination`, then Get Message until *delivered*, *failed* or the timeout; "
                  "the status timeline is shown. Send Message is never repeated: if its answer is lost, the "
                  "text may have gone out, so the next run sends nothing until that text is resolved (or you "
                  "set `resend_unconfirmed = True`).",
        "good": "`ok`: delivered. `sent` is handed to the carrier, not delivered, and is never counted as such.",
        "docs": [SMS_POSTMAN],
    },
}


def heading(step_id: str) -> str:
    return f"Step {step_id[:2]} · {STEPS[step_id].title}"


def page(step_id: str) -> str:
    text = PAGES[step_id]
    parts = [f"# {heading(step_id)}", f"**Why.** {text['why']}"]
    if text["admin"]:
        parts.append(f"**In the admin UI** (Contact Center Administrator). {text['admin']} On the emulator, do it "
                     f"in {PRACTICE_UI}, or set `practice_mode = True` and the runbook acts through the emulator's "
                     "console, labelled as such in every record (refused for any other target).")
    parts += [f"**What this notebook checks.** {text['checks']}", f"**A good result.** {text['good']}",
              "**Documentation:** " + "; ".join(text["docs"]) + "."]
    return "\n\n".join(parts)


def literal(value) -> str:
    return repr(value) if not isinstance(value, str) else '"' + value.replace('"', '\\"') + '"'


def parameters_cell(step_id: str) -> str:
    defaults = RunbookParams()
    names = list(STEPS[step_id].parameters)
    kinds = {n: RunbookParams.__dataclass_fields__[n].type for n in names}
    lines = [f"{n}: {kinds[n]} = {literal(getattr(defaults, n))}" for n in names]
    width = max(len(line) for line in lines if len(line) <= 44)  # comments aligned, unless a value is long
    body = "\n".join(line.ljust(width) + f"  # {COMMENTS[n]}" for line, n in zip(lines, names, strict=True))
    return ("# Parameters: papermill puts its values after this cell. Secrets are never parameters.\n" + body)


def build(step_id: str) -> nbformat.NotebookNode:
    number = step_id[:2]
    cells = [
        new_markdown_cell(page(step_id)),
        new_code_cell(parameters_cell(step_id), metadata={"tags": ["parameters"]}),
        new_code_cell(f'from helpers.notebook import StepNotebook\n\nnb = StepNotebook("{step_id}", globals())'),
        new_markdown_cell("## Form (optional)\n\nEdit the values and press the button: they are copied into the "
                          "parameters above and the step runs again; its result replaces the one below."),
        new_code_cell("form = nb.form()"),
        new_markdown_cell(f"## Check, act, verify (step {number})"),
        new_code_cell("result = nb.run()"),
        new_code_cell("nb.verdict(result)", metadata={"tags": [CHECKED]}),
        new_code_cell("nb.raise_if_failed(result)"),
    ]
    for i, cell in enumerate(cells):  # fixed ids: rebuilding an unchanged page changes nothing
        cell.id = f"step{number}-cell{i}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def landing_page() -> str:
    rows = []
    for step_id, step in STEPS.items():
        kind = "admin UI, then verified" if PAGES[step_id]["admin"] else "automated"
        if step_id == "02_define_user":
            kind = "automated with admin credentials; roles of an existing user in the admin UI"
        rows.append(f"| [{step_id}]({step.notebook}) | {step.title} | {kind} |")
    return f"""# SMS/MMS API onboarding runbook

Before an external application can send texts through a Bright Pattern tenant's SMS/MMS API, an
administrator grants a privilege, defines a user, generates its API secret, checks that a token works,
and makes sure a chat service uses the SMS access number. These notebooks walk you through it, one
step per page: each checks first, acts where an API allows, tells you exactly what to do where only
the admin UI can act, and then verifies.

| Notebook | Step | Who acts |
|---|---|---|
{chr(10).join(rows)}

**Open them in order and run all cells** (Run > Run All Cells). Each page ends with one verdict line:
`ok`, `changed` (the runbook changed something and verified it), `action-required` (do what the
result lists, then run the page again), `failed` or `skipped`.

**Practising here.** `make lab` started a local emulator of a Bright Pattern tenant. Where a page says
*In the admin UI*, open {PRACTICE_UI}: it stands in for Contact Center Administrator (Users & Teams >
Roles, Users & Teams > Users, Services & Campaigns, Directory > Access numbers), and you follow the
page's instructions there exactly as written. For a quick pass without clicking, set
`practice_mode = True` in a page's form: the runbook then acts through the emulator's console, and
says so. For the admin steps (02, 05) paste the emulator admin's API secret into the **admin API
secret** field of page 00, 02 or 05 (generate it in the practice admin UI: Users & Teams > Users >
admin > Generate).

**A real tenant.** Set `tenant_url` to `https://<your tenant host>`; secrets come from the forms'
secret fields, `BP_API_SECRET` / `BP_ADMIN_SECRET`, or the keyring, never from parameters. To run
all steps headless and keep a record: `python -m helpers run --params params/<tenant>.yaml`.

**The last run's report.** Each headless run writes `outputs/<tenant>/<UTC time>/summary.html`
(`make demo` prints its path); `python -m helpers history` lists the latest runs.
"""


def main() -> None:
    for step_id, step in STEPS.items():
        path = ROOT / "notebooks" / step.notebook
        nbformat.write(build(step_id), path)
        print(f"wrote {path.relative_to(ROOT)}")
    (ROOT / "notebooks" / "README.md").write_text(landing_page(), encoding="utf-8")
    print("wrote notebooks/README.md")


if __name__ == "__main__":
    main()
