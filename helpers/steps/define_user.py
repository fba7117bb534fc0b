"""02: the API user exists, with the role, enabled and not locked out.

With admin credentials ("Manage users") the user is looked up and created with the role when it is
missing. Roles of an existing user can only be changed in the admin UI (Update User cannot)."""

from __future__ import annotations

from helpers.errors import ApiError
from helpers.steps import findings, instructions
from helpers.steps.checks import (
    ABSENT,
    ADMIN_REFUSED,
    FORBIDDEN,
    FOUND,
    ISSUED,
    MISMATCH,
    NO_PRIVILEGE,
    UNVERIFIED,
    UserLookup,
    look_up_user,
)
from helpers.steps.context import StepContext
from helpers.steps.declaration import ADMIN_CONFIGURATION, COMMON, CONFIG_POSTMAN, Page, Row, Step
from helpers.steps.instructions import CCA, PRIVILEGE
from helpers.steps.privilege import probe_with_api_token
from helpers.steps.results import ACTION_REQUIRED, CHANGED, FAILED, OK, StepResult
from helpers.tenant.auth import TOKEN_PATH
from helpers.tenant.practice import LABEL


def define_user(ctx: StepContext) -> StepResult:
    r, p = ctx.result(), ctx.params
    access = ctx.admin()
    if access.client is None:
        if access.state == "unverified":
            return instructions.finish_unverified(r, f"the admin's token request answered {access.check.said}",
                                                  f"could not verify: {access.why}")
        return _guided(ctx, r, access.why)
    admin = access.client
    lookup = look_up_user(admin, p.api_user)
    r.observed["Get User"] = lookup.said if lookup.request == "Get User" else f"not answered: {lookup.by} got {lookup.said}"
    _observe(r, lookup)
    created = False
    if lookup.verdict == ABSENT:
        if p.dry_run:
            r.actions = instructions.define_user(p, exists=False)
            return r.finish(ACTION_REQUIRED, f"dry run: would create user '{p.api_user}' with role '{p.role}'")
        outcome = _create(ctx, r, admin)
        if isinstance(outcome, StepResult):
            return outcome
        lookup, created = outcome, bool(r.changed)
    verdict = _lookup_problem(ctx, r, lookup)
    if verdict is not None:
        return verdict
    user = lookup.user
    status = CHANGED if created else OK
    if p.role not in user.roles:
        if p.practice_mode and not p.dry_run:
            ctx.console().add_user_role(p.api_user, p.role, list(user.roles))
            r.changed.append(f"{LABEL} added role '{p.role}' to user '{p.api_user}'")
            lookup = look_up_user(admin, p.api_user)
            _observe(r, lookup)
            if lookup.verdict != FOUND or p.role not in lookup.user.roles:
                return r.finish(FAILED, f"user '{p.api_user}' still lacks the role '{p.role}' after the change "
                                        f"({lookup.by}: {lookup.said})")
            user, status = lookup.user, CHANGED
        else:
            r.actions = instructions.define_user(p, exists=True)
            r.evidence["roles (Get User)"] = list(user.roles) or "(none)"
            if p.practice_mode:  # a dry run in practice mode: what the run would do through the console
                return r.finish(ACTION_REQUIRED, f"dry run: would add the role '{p.role}' to user '{p.api_user}' "
                                                 "through the emulator's console (practice)")
            return r.finish(ACTION_REQUIRED, f"user '{p.api_user}' exists without the role '{p.role}'; "
                                             "the API cannot change roles, add it in the admin UI")
    r.evidence.update({"roles (Get User)": list(user.roles), "team": user.team, "state": lookup.state_words()})
    if user.disabled or lookup.locked:
        what = "disabled" if user.disabled else "locked out"
        r.actions = instructions.user_state(p, what)
        return r.finish(ACTION_REQUIRED, f"user '{p.api_user}' has the role '{p.role}' but is {what}")
    verb = "was created with" if created else ("was given" if status == CHANGED else "has")
    if lookup.locked is None:  # a user locked out cannot use its token: unknown is not "fine"
        return instructions.finish_unverified(
            r, f"Get User Lock State answered {lookup.lock_answer}",
            f"could not verify: user '{p.api_user}' {verb} the role '{p.role}' and is enabled, but Get User Lock "
            f"State answered {lookup.lock_answer}")
    return r.finish(status, f"user '{p.api_user}' {verb} the role '{p.role}' and is enabled and not locked out "
                            "(the tenant's user record says so)")


def _observe(r: StepResult, lookup: UserLookup) -> None:
    """What Get User (and its lock state) showed, for the comparison with the previous run."""
    if lookup.verdict == ABSENT:
        findings.observe(r, "user exists", False)
    if lookup.verdict != FOUND:
        return
    findings.observe(r, "user exists", True)
    user = lookup.user
    for name, value in (("roles", list(user.roles)), ("team", user.team), ("disabled", user.disabled),
                        ("locked out", lookup.locked)):
        if value is not None:  # not answered is not observed
            findings.observe(r, name, value)


def _lookup_problem(ctx: StepContext, r: StepResult, lookup: UserLookup) -> StepResult | None:
    """The step's verdict when Get User did not show the user; None when it did."""
    p = ctx.params
    if lookup.verdict == FOUND:
        return None
    if lookup.verdict in (FORBIDDEN, ADMIN_REFUSED):
        r.evidence["Get User"] = lookup.said
    if lookup.verdict == FORBIDDEN:
        r.actions = [f"In {CCA}, give the admin user '{p.admin_user}' a role with the privilege 'Manage users'."]
        return r.finish(ACTION_REQUIRED, f"the admin user '{p.admin_user}' may not read users: it lacks 'Manage users'")
    if lookup.verdict == ADMIN_REFUSED:
        r.actions = [f"Check in {CCA} that the admin user '{p.admin_user}' is enabled and its API secret current.",
                     "Re-run this notebook."]
        return r.finish(ACTION_REQUIRED, "the tenant rejects the admin's token, issued a moment ago, when it reads the "
                                         "user")
    if lookup.verdict == MISMATCH:
        r.actions = [f"In {CCA}, open Users & Teams > Users and check the user '{p.api_user}'.",
                     "Report the mismatch to your service provider; re-run afterwards."]
        return r.finish(ACTION_REQUIRED, f"contradiction: Get User for '{p.api_user}' answered about someone else "
                                         f"({lookup.detail})")
    return instructions.finish_unverified(r, f"{lookup.by} answered {lookup.said}",
                                          f"could not verify: {lookup.by} answered {lookup.said}")


def _create(ctx: StepContext, r: StepResult, admin) -> UserLookup | StepResult:
    """Create the user, then read it back. A create whose answer was lost is never sent again:
    Get User says whether it took effect."""
    p = ctx.params
    try:
        admin.users.create(p.api_user, p.api_user_first_name, p.api_user_last_name, p.api_user_team, roles=[p.role])
    except ApiError as exc:
        if exc.path == TOKEN_PATH:  # the token request failed: Create User was never sent
            return instructions.finish_unverified(
                r, f"the admin's token request answered {exc.answer}",
                f"could not verify: the admin's token request (made for Create User) answered {exc.answer}: "
                f"{exc.detail}; Create User was not sent")
        refused = _refused_create(ctx, r, admin, exc)
        if refused is not None:
            return refused
        after = look_up_user(admin, p.api_user)
        if after.verdict == FOUND and exc.status == 409:
            r.notes.append(f"Create User answered {exc.answer} ({exc.detail}): the user was created by someone else "
                           "meanwhile.")
        elif after.verdict == FOUND:
            r.changed.append(f"created user '{p.api_user}' (inferred: Create User answered {exc.answer}, and Get User "
                             "now finds the user; the request was not sent again)")
        elif after.verdict == ABSENT:
            r.actions = ["Re-run this notebook: nothing was created."]
            return r.finish(FAILED, f"user creation failed: Create User answered {exc.answer} ({exc.detail}) and Get "
                                    f"User still answers {after.answer}, so nothing was created")
        else:
            r.actions = [f"Check in {CCA}, Users & Teams > Users, whether '{p.api_user}' exists, then re-run."]
            return r.finish(FAILED, f"the outcome of Create User is unknown: it answered {exc.answer} and "
                                    f"{after.by} answered {after.said}")
        lookup = after
    else:
        r.changed.append(f"created user '{p.api_user}' in team '{p.api_user_team}' with role '{p.role}' "
                         "(Configuration API)")
        lookup = look_up_user(admin, p.api_user)
    _observe(r, lookup)
    if lookup.verdict != FOUND:
        problem = _lookup_problem(ctx, r, lookup)
        return problem if problem is not None else lookup
    return lookup


def _refused_create(ctx: StepContext, r: StepResult, admin, exc: ApiError) -> StepResult | None:
    """The verdict when the tenant answered the create with a refusal (nothing was created);
    None when the answer leaves open whether the user was created (5xx, no answer, 409)."""
    p = ctx.params
    detail = exc.detail.lower()
    r.evidence["Create User"] = f"{exc.answer}: {exc.detail}"
    if exc.status == 404 and "team" in detail:
        try:
            teams = ", ".join(admin.teams.names())
        except ApiError as teams_error:
            teams = f"the team list could not be read: {teams_error.answer}"
        r.actions = [f"Set api_user_team to an existing team ({teams}), or create the team "
                     f"'{p.api_user_team}' in {CCA}."]
        return r.finish(ACTION_REQUIRED, f"the team '{p.api_user_team}' does not exist (the tenant said so when asked "
                                         "to create the user)")
    if exc.status == 404 and "role" in detail:  # named only when the tenant names it
        r.actions = [f"In {CCA}, Users & Teams > Roles: create the role '{p.role}' (then step 01 grants its privilege)."]
        return r.finish(ACTION_REQUIRED, f"the role '{p.role}' does not exist (the tenant said so when asked to create "
                                         "the user)")
    if exc.status == 401:  # the admin's token, freshly issued, refused: nothing about the user's fields
        r.actions = [f"Check in {CCA} that the admin user '{p.admin_user}' is enabled and its API secret current.",
                     "Re-run this notebook."]
        return r.finish(ACTION_REQUIRED, "the tenant rejects the admin's token, issued a moment ago, when it creates the "
                                         "user")
    if exc.status == 403:
        r.actions = [f"In {CCA}, give the admin user '{p.admin_user}' a role with the privilege 'Manage users'."]
        return r.finish(ACTION_REQUIRED, f"the admin user '{p.admin_user}' may not create users")
    if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 409, 429):
        r.actions = [f"Check api_user, api_user_first_name, api_user_last_name and api_user_team against the "
                     f"tenant's rules ({exc.detail}), or create the user in {CCA}."]
        return r.finish(ACTION_REQUIRED, f"the tenant refused to create user '{p.api_user}': {exc.answer}: {exc.detail}")
    return None


def _guided(ctx: StepContext, r: StepResult, why: str) -> StepResult:
    p = ctx.params
    r.notes.append(f"Without admin credentials ({why}) the user cannot be looked up or created through the API.")
    tp = probe_with_api_token(ctx)
    if tp.accepted:
        r.evidence["SMS/MMS API probe"] = f"accepted: {tp.probe.evidence}"
        r.inferred.append(f"'{p.api_user}' exists, is enabled and holds a role with '{PRIVILEGE}'; whether that role is "
                          f"'{p.role}' cannot be observed without admin credentials")
        return r.finish(OK, f"'{p.api_user}' gets a token that the SMS/MMS API accepts, so the user must exist, be "
                            "enabled and hold a role with the privilege (an inference)")
    if tp.check is not None and tp.check.verdict == ISSUED and tp.probe.verdict == NO_PRIVILEGE:
        r.actions = instructions.define_user(p, exists=True)
        return r.finish(ACTION_REQUIRED, f"'{p.api_user}' gets a token, but the SMS/MMS API refuses it for lack of the "
                                         f"privilege: add role '{p.role}', or grant the privilege (step 01)")
    if tp.check is not None:
        what = tp.probe.said if tp.probe is not None else tp.check.said
        r.evidence["API user's token"] = what
        if tp.check.verdict == UNVERIFIED or (tp.probe is not None and tp.probe.verdict == UNVERIFIED):
            return instructions.finish_unverified(r, f"the tenant answered {what}")
    r.actions = instructions.define_user(p, exists=False)
    return r.finish(ACTION_REQUIRED, f"make sure user '{p.api_user}' exists with the role '{p.role}' (admin UI, or "
                                     "admin credentials so the runbook can create it)")


def _plan(p, admin: bool) -> str:
    if not admin:
        return "guided: no usable admin credentials; verified with the API user's token when possible"
    return "dry run: observe only" if p.dry_run else "automated: creates the user if missing"


STEP = Step(
    id="02_define_user",
    title="Define the API user with that role",
    run=define_user,
    parameters=COMMON + ("role", "api_user", "api_user_first_name", "api_user_last_name", "api_user_team",
                         "admin_user"),
    form_secrets=("admin",),
    page=Page(
        why="The API secret and the token belong to a user, and that user needs the role from step 01.",
        admin="Users & Teams > Users > the user (parameter `api_user`): give it the role (parameter `role`) and save. "
              "With admin credentials the runbook creates a missing user itself; only the roles of an existing user "
              "need the admin UI (the Configuration API cannot change them).",
        checks="With admin credentials (*Manage users*), Get User and its lock state: the user exists, holds the role, "
               "is neither disabled nor locked out. A missing user is created with the role "
               "(`POST /configapi/v2/user`) unless `dry_run`. Without admin credentials, the API user's own token "
               "shows what it can.",
        good="`ok` (the user was already right) or `changed` (the runbook created it and read it back).",
        docs=(ADMIN_CONFIGURATION, CONFIG_POSTMAN),
    ),
    who_acts="automated with admin credentials; roles of an existing user in the admin UI",
    row=Row(
        step="the API user with the role",
        acts="with admin credentials (*Manage users*): looks the user up, creates it with the role if missing "
             "(`POST /configapi/v2/user`), unless `dry_run`; a create whose answer is lost is never sent again (Get "
             "User says whether it took effect). The roles of an existing user need the admin UI",
        verified="Get User (the same login ID, roles, disabled) and its lock state; without admin credentials, the "
                 "user's own token",
        reads="the admin's token request; Get User and Get User Lock State of the API user; Get Teams when the team is "
              "refused; without admin credentials, the API user's token and Get Message of a made-up id",
        writes="**Create User**, only when the user is missing, never with `dry_run` (practice mode: adds the role "
               "through the emulator's console)",
    ),
    plan=_plan,
)
