"""01: the role holds "Use SMS/MMS API". Admin UI only: no API reads or writes privileges, so the
step proves what it can (the API user's token accepted by the SMS/MMS API) and says so."""

from __future__ import annotations

from helpers.steps import findings, instructions
from helpers.steps.checks import FOUND, ISSUED, NO_PRIVILEGE
from helpers.steps.context import StepContext
from helpers.steps.declaration import ADMIN_CONFIGURATION, COMMON, PRIVILEGES, SMS_POSTMAN, Page, Row, Step, admin_ui
from helpers.steps.diagnosis import api_user_lookup
from helpers.steps.instructions import CCA, PRIVILEGE
from helpers.steps.privilege import finish_not_accepted, probe_with_api_token, record_accepted
from helpers.steps.results import ACTION_REQUIRED, CHANGED, FAILED, OK, StepResult
from helpers.tenant.practice import LABEL

DEFERRED = ("Then go on to step 02: the privilege cannot be verified before step 03 has the API secret; step 04 "
            "verifies it then, and says so.")


def grant_privilege(ctx: StepContext) -> StepResult:
    r, p = ctx.result(), ctx.params
    r.observed["role"] = p.role
    tp = probe_with_api_token(ctx)
    if tp.accepted:
        contradiction = record_accepted(ctx, r, tp)
        if contradiction:
            return r.finish(ACTION_REQUIRED, f"the SMS/MMS API accepts the API user's token, but {contradiction}")
        return r.finish(OK, f"the API user gets a token and the SMS/MMS API accepts it, so one of the user's roles "
                            f"must hold '{PRIVILEGE}' (an inference: no API shows a role's privileges)")
    if p.practice_mode:
        return _practice(ctx, r, tp)
    if tp.check is None:  # nothing can verify the grant yet: say so once, and send the engineer on
        r.actions = instructions.grant_privilege(p)[:2] + [DEFERRED]
        r.notes.append("Verification deferred: no API secret yet. Step 03 hands it over, then step 04 proves the "
                       "privilege with the API user's token and names this step as verified.")
        return r.finish(ACTION_REQUIRED, "done for now: step 04 verifies this once step 03 has the secret; go on to "
                                         "step 02")
    r.actions = instructions.grant_privilege(p)
    return finish_not_accepted(ctx, r, tp, deferred="")


def _practice(ctx: StepContext, r: StepResult, tp) -> StepResult:
    p = ctx.params
    before = ctx.console().roles()
    if p.role not in before:
        r.actions = [f"Create the role '{p.role}' (Users & Teams > Roles), or set role to an existing one: "
                     f"{', '.join(before)}."]
        return r.finish(ACTION_REQUIRED, f"the role '{p.role}' does not exist (practice: the emulator's console lists "
                                         "no such role)")
    findings.observe(r, "privileges of the role (emulator console)", before[p.role])
    if PRIVILEGE in before[p.role]:
        r.evidence["role privileges (emulator console)"] = before[p.role]
        if tp.probe is not None and tp.probe.verdict == NO_PRIVILEGE:  # granting again would change nothing
            return _role_granted_token_refused(ctx, r, tp)
        r.notes.append("Verified through the console only: step 04 proves the privilege with the API user's token.")
        return r.finish(OK, f"role '{p.role}' already holds '{PRIVILEGE}' (practice: seen through the emulator's console)")
    if p.dry_run:
        r.actions = instructions.grant_privilege(p)
        return r.finish(ACTION_REQUIRED, f"dry run: would grant '{PRIVILEGE}' to role '{p.role}' through the console")
    ctx.console().grant_privilege(p.role)
    r.changed.append(f"{LABEL} granted '{PRIVILEGE}' to role '{p.role}'")
    r.notes.append(f"{LABEL} on a real tenant this is done in the admin UI")
    if tp.check is not None and tp.check.verdict == ISSUED:
        again = probe_with_api_token(ctx)
        if not again.accepted:
            r.evidence["SMS/MMS API probe"] = f"after the grant: {again.probe.said if again.probe else again.check.said}"
            return r.finish(FAILED, "granted through the emulator's console, but the SMS/MMS API still refuses the "
                                    "API user's token")
        r.evidence["SMS/MMS API probe"] = f"accepted after the grant: {again.probe.evidence}"
    else:
        privileges = ctx.console().roles().get(p.role, [])
        if PRIVILEGE not in privileges:
            return r.finish(FAILED, f"the console did not record '{PRIVILEGE}' on role '{p.role}'")
        r.evidence["role privileges (emulator console)"] = privileges
        findings.observe(r, "privileges of the role (emulator console)", privileges)
        r.notes.append("Verified through the console only: step 04 proves the privilege with the API user's token.")
    return r.finish(CHANGED, f"granted '{PRIVILEGE}' to role '{p.role}' (practice) and verified")


def _role_granted_token_refused(ctx: StepContext, r: StepResult, tp) -> StepResult:
    """The role holds the privilege, yet the SMS/MMS API refuses the API user's token: the cause is
    the user's roles (step 02), which Get User shows when there is admin access."""
    p = ctx.params
    r.evidence["SMS/MMS API probe"] = f"refused: {tp.probe.said}"
    head = (f"role '{p.role}' holds '{PRIVILEGE}' (practice: seen through the emulator's console), but the SMS/MMS API "
            "refuses the API user's token")
    lookup = api_user_lookup(ctx)
    if lookup is not None and lookup.verdict == FOUND:
        r.evidence["roles (Get User)"] = list(lookup.user.roles) or "(none)"
        if p.role not in lookup.user.roles:
            r.actions = instructions.define_user(p, exists=True)
            return r.finish(ACTION_REQUIRED, f"{head}: the user '{p.api_user}' lacks the role '{p.role}' (step 02)")
    r.actions = [f"In {CCA}, open Users & Teams > Users and check that '{p.api_user}' has the role '{p.role}' "
                 "(step 02 checks it with admin credentials).", "Re-run this notebook to verify."]
    return r.finish(ACTION_REQUIRED, f"{head}; check the roles of '{p.api_user}' (step 02)")


STEP = Step(
    id="01_grant_privilege",
    title="Grant the 'Use SMS/MMS API' privilege to a role",
    run=grant_privilege,
    parameters=COMMON + ("role", "api_user", "admin_user"),
    page=Page(
        why="The SMS/MMS API accepts a token only if its user holds a role with the privilege *Use SMS/MMS API* "
            "(group *Service and Campaign Administration*).",
        admin="Users & Teams > Roles > the role (parameter `role`) > Properties: in the group *Service and Campaign "
              "Administration*, enable **Use SMS/MMS API** and save.",
        checks="No API reads or writes privileges, so the notebook checks what can be observed: with the API user's "
               "token, Get Message of an id that cannot exist (nothing is sent). 403 means none of the user's roles "
               "holds the privilege; 401 means the SMS/MMS API rejects the token; another 4xx, or a readable 2xx, "
               "means the API accepted the token, so *one of the user's roles* holds the privilege (which one cannot "
               "be observed). A server error or a timeout proves nothing and is reported as such. Until step 03 has "
               "handed over the API secret nothing can be checked: the page then says *done for now* and sends you on "
               "to step 02; step 04 verifies this step once it has the token, and says so.",
        good="`ok`: the SMS/MMS API accepts the API user's token. `action-required` lists what to do.",
        docs=(ADMIN_CONFIGURATION, PRIVILEGES, SMS_POSTMAN),
    ),
    who_acts="admin UI, then verified",
    row=Row(
        step="*Use SMS/MMS API* on the role",
        acts="**admin UI only**: instructions with the role filled in",
        verified="the SMS/MMS API with the API user's token (Get Message of a made-up id; nothing is sent): see "
                 "[What each answer means](docs/verdicts.md#what-each-answer-means)",
        reads="the API user's token request; Get Message of a made-up id; with admin credentials, Get User of the API "
              "user",
        writes="nothing (practice mode: grants the privilege through the emulator's console)",
    ),
    plan=lambda p, admin: f"{admin_ui(p)}; verified with the API user's token",
)
