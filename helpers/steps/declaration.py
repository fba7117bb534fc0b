"""What a step declares about itself, once, in its own module: `STEP = Step(...)`.

The registry (helpers.steps.STEPS) finds every module of this package with a `STEP` and orders them
by id; the notebook builder (helpers.tools.build) makes the step's notebook, its row on the landing
page (notebooks/README.md) and its row in the README's runbook table from it; preflight asks every
step for its plan line. Adding a step is adding one module (and its test).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from helpers.steps.params import PARAMETERS, RunbookParams

# The parameters every step's notebook declares, before its own.
COMMON = ("tenant_url", "scope", "practice_mode", "dry_run", "ca_bundle", "connect_timeout", "read_timeout")
SECRET_ROLES = ("api", "admin")  # the secrets a form can take over: the API user's, the administrator's
STEP_ID = re.compile(r"^\d\d_[a-z][a-z0-9_]*$")  # its number (the order), then its name

# Bright Pattern's public documentation, cited by the pages.
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


@dataclass(frozen=True)
class Page:
    """The notebook's first cell: why the step exists, what a person does in the admin UI (None when
    nobody needs to), what the notebook checks, what a good result looks like, and documentation."""

    why: str
    admin: str | None
    checks: str
    good: str
    docs: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """The step's row in the README's runbook table: the step in a few words, how it acts, how it is verified;
    and its row in the README's table of what the runbook reads and writes on the tenant."""

    step: str
    acts: str
    verified: str
    reads: str = ""  # the requests that change nothing on the tenant (token requests issue a token, nothing else)
    writes: str = ""  # what it may change on the tenant, and when; "nothing" when it never does


@dataclass(frozen=True, kw_only=True)
class Step:
    id: str  # "NN_name": the notebook is NN_name.ipynb; the registry orders steps by it
    title: str
    run: Callable  # (StepContext) -> StepResult
    parameters: tuple[str, ...]  # its notebook's parameters cell, in order; the runner passes only these
    form_secrets: tuple[str, ...] = ()  # the secrets its form can take over ("api", "admin")
    page: Page
    who_acts: str  # the landing page's "Who acts" column
    row: Row  # the README's runbook table
    # Preflight's plan line for the step: f(parameters, whether usable admin credentials exist); None: not planned.
    plan: Callable[[RunbookParams, bool], str] | None = field(default=None, compare=False)

    def __post_init__(self):
        problems = []
        if not STEP_ID.match(self.id):
            problems.append("its id is not NN_name")
        unknown = [p for p in self.parameters if p not in PARAMETERS]
        if unknown or len(set(self.parameters)) != len(self.parameters):
            problems.append(f"its parameters name unknown or repeated ones ({', '.join(unknown) or 'repeated'})")
        if not set(self.form_secrets) <= set(SECRET_ROLES):
            problems.append(f"its form secrets are not among {SECRET_ROLES}")
        if problems:
            raise ValueError(f"step {self.id!r}: {'; '.join(problems)}")

    @property
    def number(self) -> str:
        return self.id[:2]

    @property
    def notebook(self) -> str:
        return f"{self.id}.ipynb"

    @property
    def form_fields(self) -> tuple[str, ...]:
        """The parameters its notebook's form shows: those the schema puts in forms."""
        return tuple(p for p in self.parameters if PARAMETERS[p].in_form)


def admin_ui(p: RunbookParams) -> str:
    """The plan's words for a step only the admin UI can do (in practice mode, the emulator's console)."""
    return "practice: through the emulator console" if p.practice_mode else "guided: admin UI only"
