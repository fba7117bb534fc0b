"""05: a chat service has the tenant's SMS access number under "Outbound chat accounts". Admin UI
only; verified through `GET /configapi/v2/phone/ext` (admin credentials, "Manage phones"), whose
`textOutService` names the services using the number (the documented field). Which `type` the number
shows then is not documented ("text-out" per the admin guide's wording, "unassigned" in a sample):
it is recorded, never relied on."""

from __future__ import annotations

from helpers.safety.secrets import SECRET_ENV
from helpers.steps import findings, instructions
from helpers.steps.checks import ABSENT, ADMIN_REFUSED, FORBIDDEN, FOUND, find_number
from helpers.steps.context import StepContext
from helpers.steps.declaration import (
    ACCESS_NUMBERS,
    ADMIN_CONFIGURATION,
    COMMON,
    CONFIG_POSTMAN,
    Page,
    Row,
    Step,
    admin_ui,
)
from helpers.steps.instructions import CCA
from helpers.steps.results import ACTION_REQUIRED, CHANGED, FAILED, OK, StepResult
from helpers.tenant.practice import LABEL

VOICE_ONLY = ("voice",)  # the other documented values, text and voice_text, carry SMS (AccessNumber.sms_capable)


def chat_service(ctx: StepContext) -> StepResult:
    r, p = ctx.result(), ctx.params
    r.observed.update({"chat service": p.chat_service, "access number": p.access_number})
    access = ctx.admin()
    if access.client is None:
        if access.state == "unverified":
            return instructions.finish_unverified(r, f"the admin's token request answered {access.check.said}",
                                                  f"could not verify: {access.why}")
        r.actions = instructions.chat_service(p)
        r.notes.append(f"Verification needs admin credentials with 'Manage phones' ({SECRET_ENV['admin']}): {access.why}.")
        return r.finish(ACTION_REQUIRED, f"set {p.access_number} as outbound chat account of '{p.chat_service}' in the "
                                         "admin UI; without admin credentials it cannot be verified")
    lookup = find_number(access.client, p.access_number)
    if lookup.verdict in (FORBIDDEN, ADMIN_REFUSED, ABSENT):
        r.evidence["access numbers (/phone/ext)"] = lookup.said
    if lookup.verdict == FORBIDDEN:
        r.actions = [f"In {CCA}, give the admin user '{p.admin_user}' a role with the privilege 'Manage phones'."]
        return r.finish(ACTION_REQUIRED, f"the admin user '{p.admin_user}' may not list access numbers: it lacks "
                                         "'Manage phones'")
    if lookup.verdict == ADMIN_REFUSED:
        r.actions = [f"Check in {CCA} that the admin user '{p.admin_user}' is enabled and its API secret current."]
        return r.finish(ACTION_REQUIRED, "the tenant rejects the admin's token, issued a moment ago, when it lists the "
                                         "access numbers")
    if lookup.verdict == ABSENT:
        r.actions = [f"Ask your service provider to assign {p.access_number} to the tenant with an SMS/MMS account."]
        return r.finish(ACTION_REQUIRED, f"{p.access_number} is not one of this tenant's access numbers")
    if lookup.verdict != FOUND:
        return instructions.finish_unverified(r, f"/phone/ext answered {lookup.said}")
    number = lookup.number
    services = list(number.text_out_services)
    r.observed.update({"media": number.media or "(none)", "type": number.type or "(none)",
                       "textOutService": services or "(none)"})
    _observe(r, number)
    if number.media in VOICE_ONLY:
        r.actions = [f"Ask your service provider to enable SMS on {p.access_number} and link an SMS/MMS account."]
        return r.finish(ACTION_REQUIRED, f"{p.access_number} cannot send texts: the tenant lists it for voice only")
    if not number.sms_capable:
        r.notes.append(f"The number's media {number.media!r} is not a documented value (voice, text, voice_text): "
                       "its SMS capability is not known.")
    if p.chat_service in services:
        r.evidence.update({"textOutService": ", ".join(services), "type": number.type or "(none)"})
        return r.finish(OK, f"{p.access_number} is an outbound chat account of '{p.chat_service}' (the tenant's list "
                            "of access numbers says so)")
    if services:
        r.notes.append(f"/phone/ext reports the number as configured for another service: {', '.join(services)}.")
    if p.practice_mode and p.dry_run:
        r.actions = instructions.chat_service(p)
        return r.finish(ACTION_REQUIRED, f"dry run: would set {p.access_number} as an outbound chat account of "
                                         f"'{p.chat_service}' through the emulator's console (practice)")
    if not p.practice_mode:
        r.actions = instructions.chat_service(p)
        if services:
            return r.finish(ACTION_REQUIRED, f"{p.access_number} is the outbound chat account of "
                                             f"{', '.join(repr(s) for s in services)}, not of '{p.chat_service}'")
        if number.type == "text-out":
            return r.finish(ACTION_REQUIRED, f"{p.access_number} is set up for outgoing texts, but the tenant names no "
                                             f"chat service using it: check in the admin UI that '{p.chat_service}' "
                                             "lists it")
        return r.finish(ACTION_REQUIRED, f"{p.access_number} is not an outbound chat account of "
                                         f"'{p.chat_service}': no chat service uses it yet")
    ctx.console().add_outbound_account(p.chat_service, p.access_number)
    r.changed.append(f"{LABEL} set {p.access_number} as an outbound chat account of '{p.chat_service}'")
    after = find_number(access.client, p.access_number)
    if after.verdict == FOUND:
        _observe(r, after.number)
    if after.verdict != FOUND or p.chat_service not in after.number.text_out_services:
        r.evidence["after the change (/phone/ext)"] = (after.said if after.verdict != FOUND else
                                                       f"textOutService {after.number.text_out_services or '(none)'}")
        return r.finish(FAILED, "the change made through the emulator's console does not show in the tenant's "
                                "list of access numbers")
    r.evidence.update({"textOutService": ", ".join(after.number.text_out_services),
                       "type": f"{number.type} -> {after.number.type}"})
    return r.finish(CHANGED, f"{p.access_number} is now an outbound chat account of '{p.chat_service}' "
                             "(practice: set through the emulator's console) and verified")


def _observe(r: StepResult, number) -> None:
    """What /phone/ext showed of the number, for the comparison with the previous run."""
    findings.observe(r, "text-out services", list(number.text_out_services))
    for name, value in (("media", number.media), ("type", number.type)):
        if value is not None:
            findings.observe(r, name, value)


STEP = Step(
    id="05_chat_service",
    title="Chat service with the SMS access number as outbound chat account",
    run=chat_service,
    parameters=COMMON + ("admin_user", "access_number", "chat_service"),
    form_secrets=("admin",),
    page=Page(
        why="A service sending SMS must list the number under *Outbound chat accounts*, and replies reach the chat "
            "service tied to the number. The SMS-capable access number and its SMS/MMS account come from your "
            "service provider.",
        admin="Services & Campaigns > the chat service (parameter `chat_service`) > Properties: set **Outbound chat "
              "accounts** to the access number (parameter `access_number`) and save.",
        checks="`GET /configapi/v2/phone/ext` with admin credentials (*Manage phones*): the number must be "
               "SMS-capable and its `textOutService` must name the chat service. Its `type` is recorded but not "
               "relied on (Bright Pattern's documents show both `text-out` and `unassigned`).",
        good="`ok`: the number is an outbound chat account of the service.",
        docs=(ADMIN_CONFIGURATION, ACCESS_NUMBERS, CONFIG_POSTMAN),
    ),
    who_acts="admin UI, then verified",
    row=Row(
        step="number as *Outbound chat account*",
        acts="**admin UI only**: instructions with service and number filled in",
        verified="`GET /configapi/v2/phone/ext` (admin, *Manage phones*): the number is not voice-only (an "
                 "undocumented `media` value is noted) and its `textOutService` names the service; its `type` is "
                 "recorded, not relied on",
        reads="the admin's token request; Get Access Numbers (`/phone/ext`)",
        writes="nothing (practice mode: sets the outbound chat account through the emulator's console)",
    ),
    plan=lambda p, admin: (f"{admin_ui(p)}; verified through /phone/ext" if admin
                           else "guided: no usable admin credentials, so it cannot be verified"),
)
