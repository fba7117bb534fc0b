"""What a person does in Contact Center Administrator (CCA), filled in with the parameters, and the
verdict that hands an unanswerable question to people (`finish_unverified`).

The menu paths are the ones Bright Pattern's "SMS/MMS API Admin Configuration" page names; the
practice admin UI of the emulator uses the same words.
"""

from __future__ import annotations

from helpers.safety.secrets import SECRET_ENV
from helpers.steps.params import RunbookParams
from helpers.steps.results import FAILED, StepResult

PRIVILEGE = "Use SMS/MMS API"
CCA = "Contact Center Administrator"


def grant_privilege(p: RunbookParams) -> list[str]:
    return [f"In {CCA}, open Users & Teams > Roles and select the role '{p.role}'.",
            f"On its Properties, in the group 'Service and Campaign Administration', enable '{PRIVILEGE}' and save.",
            "Re-run this notebook (or the runbook) to verify."]


def define_user(p: RunbookParams, *, exists: bool) -> list[str]:
    if exists:
        return [f"In {CCA}, open Users & Teams > Users and select '{p.api_user}'.",
                f"Add the role '{p.role}' to the user and save (the Configuration API cannot change roles).",
                "Re-run this notebook to verify."]
    return [f"In {CCA}, open Users & Teams > Users and add a user with login ID '{p.api_user}' "
            f"(team '{p.api_user_team}').",
            f"Give the user the role '{p.role}' and save.",
            f"Or provide the admin user's API secret ({SECRET_ENV['admin']}) so the runbook can create it."]


def user_state(p: RunbookParams, what: str) -> list[str]:
    return [f"In {CCA}, open Users & Teams > Users and select '{p.api_user}'.",
            f"Clear '{what}' on its Properties and save: a {what} user gets no token.",
            "Re-run this notebook to verify."]


def api_secret(p: RunbookParams) -> list[str]:
    return [f"In {CCA}, open Users & Teams > Users, select '{p.api_user}' and open its Properties.",
            "Next to 'API secret' click Generate and copy the value: it is shown once and it is the client_secret.",
            f"Hand it to the runbook through notebook 03's form ('API secret' field) or the environment "
            f"variable {SECRET_ENV['api']}; never as a parameter.",
            "Re-run notebook 03: it proves the secret by requesting a token."]


def chat_service(p: RunbookParams) -> list[str]:
    return [f"In {CCA}, open Services & Campaigns and select the chat service '{p.chat_service}' "
            "(create it as a Chat service if it does not exist).",
            f"On its Properties tab set 'Outbound chat accounts' to the access number {p.access_number}, and save.",
            "Re-run this notebook to verify."]


def check_token_contradiction(p: RunbookParams, what: str) -> list[str]:
    return [f"In {CCA}, open Users & Teams > Users and select '{p.api_user}': check whether it is {what}.",
            "If it is, a token was issued to it anyway: report this to your service provider; if it is not, "
            "the Configuration API reported it wrongly. Either way, re-run the runbook afterwards."]


def sms_api_refuses_token(p: RunbookParams) -> list[str]:
    return ["Ask your service provider whether the SMS/MMS API is enabled for your contact center "
            "(Bright Pattern: 'The SMS/MMS API needs to be enabled for your contact center before it can be used').",
            f"Check that scope '{p.effective_scope}' is your tenant's host name.",
            f"Check in {CCA}, Users & Teams > Users > '{p.api_user}', that the user is neither disabled nor locked out.",
            "Re-run the runbook."]


def kept_secret_refused(source: str, on_emulator: bool) -> list[str]:
    """A refused secret that came from a handoff file: the file to delete and the command that does it
    (`source` is the Secret's, e.g. "handoff file /home/x/.cache/bp-sms-runbook/handoff.json")."""
    if not source.startswith("handoff file "):
        return []
    path = source.removeprefix("handoff file ")
    why = ("This emulator does not know that secret: an emulator forgets the secrets it generated when it stops, so "
           "one kept from an earlier session is refused. " if on_emulator else "")
    return [f"{why}Delete the kept secret: `python -m helpers forget` deletes the handoff file {path} (or delete that "
            "file yourself); then generate a new secret and hand it over."]


def could_not_verify(what: str) -> list[str]:
    return [f"Nothing was concluded: {what}. Re-run the runbook later.",
            "If it persists, send the run's report (summary.html) to your service provider."]


def finish_unverified(r: StepResult, what: str, summary: str | None = None) -> StepResult:
    """The one verdict for an answer that proves nothing (5xx, timeout, unreadable): failed, never ok,
    with what the tenant answered and what to do. `summary` defaults to "could not verify: <what>"."""
    r.actions = could_not_verify(what)
    return r.finish(FAILED, summary or f"could not verify: {what}")
