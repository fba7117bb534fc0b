"""What a step needs: parameters, secrets, tenant clients, (practice mode) the console, and what
earlier steps of the same run recorded."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from helpers.safety.secrets import Secret, SecretStore
from helpers.steps import findings
from helpers.steps.checks import ISSUED, REJECTED, UNVERIFIED, TokenCheck, anonymous_token_request, request_token
from helpers.steps.params import RunbookParams
from helpers.steps.results import StepResult
from helpers.tenant.client import BrightPatternClient
from helpers.tenant.practice import LABEL, PracticeConsole
from helpers.tenant.transport import RequestBudget

# The runner writes the statuses and shared findings of the steps it already ran here (no secret in
# it: helpers.steps.findings), so that a later step can say which earlier steps its evidence
# confirms, and never claims what an earlier observation put in doubt. In the lab, the pages keep
# the same record in a lab file (findings.record_in_lab).
RUN_CONTEXT_ENV = "BP_RUNBOOK_RUN_CONTEXT"

# The observation that says whether the tenant took a secret: the form forgets a refused one.
SECRET_ACCEPTED = {"api": "secret accepted", "admin": "admin secret accepted"}


@dataclass
class AdminAccess:
    """The administrator's client, or why there is none: 'none' (no admin_user), 'no secret',
    'rejected' or 'unverified' (with the token check that says how the tenant answered)."""

    client: BrightPatternClient | None
    state: str
    check: TokenCheck | None = None

    @property
    def why(self) -> str:
        if self.state == "none":
            return "no admin user is configured (admin_user is empty)"
        if self.state == "no secret":
            return "the admin user's secret is not available"
        if self.state == UNVERIFIED:
            return f"the admin user's token request answered {self.check.said}, which proves nothing"
        return f"the admin user's token request was refused ({self.check.said})"


class StepContext:
    def __init__(self, step_id: str, title: str, params: RunbookParams, *, environ=None, sleep=time.sleep,
                 clock=time.monotonic):
        self.step_id, self.title, self.params = step_id, title, params
        self.environ = os.environ if environ is None else environ
        self.sleep, self.clock = sleep, clock  # injected together: a test's sleep advances its clock
        self.secrets = SecretStore.for_params(params, self.environ)
        self._console: PracticeConsole | None = None
        self._admin: AdminAccess | None = None
        self.notes: list[str] = []
        self.memo: dict = {}  # observations made once per step and used by several checks
        self.secrets_accepted: dict[str, bool] = {}  # role -> the tenant's verdict on its secret, this step
        self.budget = RequestBudget()  # the tenant's requests of this step, all clients together (a hard cap)

    def result(self) -> StepResult:
        return StepResult(self.step_id, self.title)

    def client(self, login_id: str, secret: Secret) -> BrightPatternClient:
        p = self.params
        return BrightPatternClient(p.base_url, p.effective_scope, login_id, secret, ca_bundle=p.ca_bundle or None,
                                   connect_timeout=p.connect_timeout, read_timeout=p.read_timeout, sleep=self.sleep,
                                   budget=self.budget)

    def console(self) -> PracticeConsole:
        if self._console is None:
            self._console = PracticeConsole.connect(self.params.base_url, self.params.effective_scope)
        return self._console

    def api_client(self) -> BrightPatternClient | None:
        secret = self.secrets.get("api")
        return self.client(self.params.api_user, secret) if secret else None

    def admin(self) -> AdminAccess:
        """The administrator's access, its credentials proven by a token request (once per step).
        In practice mode a missing or rejected admin secret is generated through the console, as an
        administrator would in the admin UI."""
        if self._admin is None:
            self._admin = self._admin_access()
        return self._admin

    def _admin_access(self) -> AdminAccess:
        login = self.params.admin_user
        if not login:
            return AdminAccess(None, "none")
        secret = self.secrets.get("admin")
        check = self.check_secret("admin", login, secret) if secret is not None else None
        if check is not None and check.verdict == ISSUED:
            return AdminAccess(check.client, "ok", check)
        if self.params.practice_mode and self.params.dry_run and (check is None or check.verdict == REJECTED):
            # A new secret replaces the admin's current one: a change, which a dry run never makes.
            self.notes.append(f"dry run: {LABEL} a run would generate the API secret of the admin user '{login}' "
                              "through the console; without it, this step looks no further")
        elif self.params.practice_mode and (check is None or check.verdict == REJECTED):
            generated = self.console().generate_api_secret(login)
            secret = self.secrets.remember("admin", generated.reveal())
            self.notes.append(f"{LABEL} generated the API secret of the admin user '{login}' through the console")
            return AdminAccess(self.client(login, secret), "ok")
        if check is None:
            return AdminAccess(None, "no secret")
        access = AdminAccess(None, check.verdict, check)
        if check.verdict == REJECTED:
            forget = (" `python -m helpers forget` deletes that file." if secret.source.startswith("handoff file ")
                      else "")
            self.notes.append(f"The admin user's secret ({secret.source}) was rejected: {check.said}.{forget}")
        return access

    def check_secret(self, role: str, login: str, secret: Secret) -> TokenCheck:
        """A token request with `role`'s secret; its verdict (issued or refused) is kept for the step's
        result even when the step later ends in an error."""
        check = self.token_check(self.client(login, secret))
        if check.verdict in (ISSUED, REJECTED):
            self.secrets_accepted[role] = check.verdict == ISSUED
        return check

    def token_check(self, client: BrightPatternClient) -> TokenCheck:
        """A token request whose "issued" proves the credentials only when the token endpoint refuses a
        request without any: otherwise the issued token is no verdict about the secret."""
        check = request_token(client)
        if check.verdict == ISSUED and self.anonymous()["verdict"] == "issues tokens":
            where = self.anonymous()["seen"]
            return TokenCheck(UNVERIFIED, check.login, check.answer,
                              f"a token was issued, but the token endpoint issues tokens without credentials too "
                              f"({where}), so it proves nothing about the secret", client=client)
        return check

    def anonymous(self) -> dict:
        """The token endpoint's answer to a request without credentials: step 00's of this run (or lab
        session), else asked once by this step. {"verdict", "answer", "seen"}."""
        if "anonymous" not in self.memo:
            earlier = self.findings(findings.ANONYMOUS)
            if earlier:
                step, found = earlier[-1]
                self.memo["anonymous"] = {**found, "seen": f"step {step[:2]}: {found['answer']}"}
            else:
                p = self.params
                anon = anonymous_token_request(p.base_url, p.connect_timeout, p.read_timeout, p.ca_bundle or None,
                                               self.sleep)
                self.memo["anonymous"] = {"verdict": anon.verdict, "answer": anon.answer,
                                          "seen": f"{anon.answer} to a token request without credentials"}
        return self.memo["anonymous"]

    def session(self) -> tuple[str | None, dict[str, dict]]:
        """("run" | "lab" | None, {step id: {"status", "findings"}}) of the OTHER steps this run (the
        runner's context file) or lab session recorded, oldest first."""
        if "session" not in self.memo:
            path = self.environ.get(RUN_CONTEXT_ENV)
            kind, steps = ("run", findings.read_run(path)) if path else ("lab", findings.read_lab(self.params,
                                                                                                 self.environ))
            steps = {k: v for k, v in (steps or {}).items() if k != self.step_id}
            self.memo["session"] = (kind if path or steps else None, steps)
        return self.memo["session"]

    def findings(self, name: str) -> list[tuple[str, dict]]:
        """[(step id, {"verdict", "answer"})] of the other steps' findings called `name`, oldest first."""
        return [(step, entry["findings"][name]) for step, entry in self.session()[1].items()
                if isinstance(entry.get("findings"), dict) and isinstance(entry["findings"].get(name), dict)]

    def earlier(self) -> dict[str, str] | None:
        """{step id: status} of the steps this run (or lab session) already recorded; None when there is
        no record (a step run on its own)."""
        kind, steps = self.session()
        if kind is None:
            return None
        return {step: str(entry.get("status")) for step, entry in steps.items()}
