"""06: one real text, followed with Get Message. Off unless smoke_test is true.

Never a second text by accident: Send Message is never repeated automatically, and when its
answer is lost the step records that the text may have gone out (helpers.steps.sends). The next run
resolves that entry first and sends nothing while its fate is unknown, unless the operator says
so with resend_unconfirmed (`--resend-unconfirmed`)."""

from __future__ import annotations

from datetime import UTC, datetime

from helpers.errors import ApiError
from helpers.steps import findings, instructions, sends
from helpers.steps.checks import asked
from helpers.steps.context import StepContext
from helpers.steps.declaration import COMMON, SMS_POSTMAN, Page, Row, Step
from helpers.steps.privilege import earlier_refusal, refusal_words
from helpers.steps.results import ACTION_REQUIRED, FAILED, OK, SKIPPED, StepResult
from helpers.tenant.api.sms import StatusChange
from helpers.tenant.auth import TOKEN_PATH
from helpers.tenant.transport import RequestBudgetExhausted

CARRIER_USAGE = "the tenant's Carrier Usage report (Bright Pattern's only record of API-sent messages)"


def smoke_test(ctx: StepContext) -> StepResult:
    r, p = ctx.result(), ctx.params
    if not p.smoke_test:
        return r.finish(SKIPPED, "smoke test off (smoke_test: false): it sends a real text message")
    if p.dry_run:
        return r.finish(SKIPPED, f"dry run: would send one text from {p.access_number} to {p.test_destination}")
    client = ctx.api_client()
    if client is None:
        r.actions = ["Complete step 03 (hand over the API secret) first."]
        return r.finish(ACTION_REQUIRED, "no API secret: the smoke test cannot send")
    refused = earlier_refusal(ctx)
    if refused is not None:  # a text sent with that token would contradict it, or fail: not sent
        step, found = refused
        r.evidence[f"step {step[:2]}'s probe"] = found["answer"]
        r.actions = [f"Fix what step {step[:2]} asks for, re-run steps 01 to 04 until step 04 is ok, then this one.",
                     "If step 04 is ok and this still says so, re-run the runbook: its record holds the earlier answer."]
        return r.finish(ACTION_REQUIRED, f"not sent: {refusal_words(step, found)}; a text sent with that token "
                                         "would prove nothing until it is fixed")
    ledger = sends.ledger_path(p.effective_scope, p.base_url, ctx.environ)
    blocked = _resolve_pending(ctx, r, client, ledger)
    if blocked is not None:
        return blocked

    try:  # the token first: a refused or failing token request is no doubt about a text
        client.tokens.token()
    except ApiError as exc:
        r.evidence["token request"] = f"{exc.answer}: {exc.detail}"
        return instructions.finish_unverified(r, f"the token request answered {exc.answer}",
                                              f"no token for '{p.api_user}' ({exc.answer}: {exc.detail}); nothing was sent")
    at = datetime.now(UTC).isoformat(timespec="seconds")
    entry = {"to": p.test_destination, "from": p.access_number, "at": at}
    try:  # recorded BEFORE the send: a run stopped while it is under way leaves the doubt on record
        sends.write(ledger, {**entry, "sid": None, "answer": "sending: the run stopped before the answer arrived"})
    except OSError as exc:
        return r.finish(FAILED, f"the send could not be recorded in {ledger} ({exc.strerror}), so nothing was sent")
    try:
        sent = client.sms.send(p.test_destination, p.access_number, p.smoke_message)
    except ApiError as exc:
        return _send_failed(ctx, r, ledger, entry, exc)
    # Known to be at the tenant from here on: kept in the ledger until Get Message has answered for it.
    sends.write(ledger, {**entry, "sid": sent.sid, "answer": f"sent, status {sent.status}"})
    r.changed.append(f"sent one test message to {p.test_destination}")
    r.evidence["sid"] = sent.sid
    message, timeline, last_error = poll(client, sent.sid, timeout=p.smoke_timeout, interval=p.poll_interval,
                                         sleep=ctx.sleep, clock=ctx.clock)
    if message is None:
        exc = last_error
        r.actions = [f"Nothing more is sent: the next run looks the message up (sid {sent.sid}) first."]
        return r.finish(FAILED, f"the test message was sent (sid {sent.sid}), but {asked(exc, 'Get Message')} answered "
                                f"{exc.answer} ({exc.detail}) until the timeout: its outcome is unknown")
    if last_error is not None:
        r.notes.append(f"{asked(last_error, 'Get Message')} answered {last_error.answer} ({last_error.detail}) at "
                       "times; those answers were read again, not counted.")
    sends.clear(ledger)
    if timeline and timeline[0].status == sent.status:
        timeline = timeline[1:]  # the first read found it where the send left it
    changes = [StatusChange(0.0, sent.status)] + timeline
    r.evidence["timeline"] = [{"after (s)": c.elapsed, "status": c.status} for c in changes]
    path = " -> ".join(c.status for c in changes)
    r.evidence.update({"date_sent": message.date_sent, "segments": message.num_segments})
    findings.observe(r, "test message status", message.status)
    if message.status == "delivered":
        return r.finish(OK, f"test message delivered to {p.test_destination} ({path})")
    if message.status == "failed":
        return r.finish(FAILED, f"test message failed: {message.error_code} {message.error_message} ({path})")
    # "sent" is handed to the carrier, not delivered: never counted as delivery.
    seen = f"last status: {message.status}" + (f"; {path}" if path != message.status else "")
    return r.finish(FAILED, f"no delivery confirmation within {p.smoke_timeout:g} s ({seen})")


def poll(client, sid: str, *, timeout: float, interval: float, sleep, clock):
    """Get Message until delivered/failed or `timeout`: (last message or None, timeline, last error).

    An answer that is not a message (malformed, a 5xx, a timeout) is read again within the timeout; it
    ends the polling only when no message was read at all by then. The step's request budget
    (helpers.tenant.transport.REQUEST_BUDGET) caps the reads whatever the timeout and interval: when it
    is spent, the polling ends and the step says so."""
    start = clock()
    message, timeline, error = None, [], None
    while True:
        try:
            got = client.sms.get(sid)
        except RequestBudgetExhausted:
            raise  # the cap no parameter raises: the step fails naming it
        except ApiError as exc:
            if exc.status in (401, 403, 404) and exc.path != TOKEN_PATH:  # an answer about the message: no retry
                return message, timeline, exc
            error = exc
        else:
            message = got
            if not timeline or timeline[-1].status != got.status:
                timeline.append(StatusChange(round(clock() - start, 3), got.status))
            if got.is_final:
                break
        if clock() - start >= timeout:
            break
        sleep(interval)
    return message, timeline, error



def _resolve_pending(ctx: StepContext, r: StepResult, client, ledger) -> StepResult | None:
    """Settle the text an earlier run may have sent; a verdict when this run must not send."""
    p = ctx.params
    pending = sends.read(ledger)
    if pending is None:
        return None
    r.observed["earlier text"] = sends.describe(pending)
    if pending.get("sid"):
        try:
            message = client.sms.get(pending["sid"])
        except ApiError as exc:
            if not p.resend_unconfirmed:
                r.actions = [f"Check {CARRIER_USAGE} or the handset {pending.get('to')}.",
                             "Then re-run with --resend-unconfirmed (resend_unconfirmed = True) to send a new text."]
                return r.finish(FAILED, f"an earlier text (sid {pending['sid']}) could not be looked up: "
                                        f"{asked(exc, 'Get Message')} "
                                        f"answered {exc.answer}; nothing new was sent")
            r.notes.append(f"The earlier text (sid {pending['sid']}) could not be looked up ({exc.answer}); "
                           "sending again as resend_unconfirmed asks.")
        else:
            r.evidence["earlier text"] = f"sid {pending['sid']}: {message.status} (Get Message)"
        sends.clear(ledger)
        return None
    if not p.resend_unconfirmed:
        r.actions = [f"Check {CARRIER_USAGE} or the handset {pending.get('to')} for a text sent at {pending.get('at')}.",
                     "If it did not arrive (or you accept a second one), re-run with --resend-unconfirmed "
                     "(in the notebook: resend_unconfirmed = True)."]
        return r.finish(ACTION_REQUIRED, f"an earlier run's text may have been sent ({sends.describe(pending)}): its "
                                         "fate is unknown, so no new text was sent")
    r.notes.append(f"The operator chose to send again although an earlier text may have gone out: "
                   f"{sends.describe(pending)}.")
    sends.clear(ledger)
    return None


def _send_failed(ctx: StepContext, r: StepResult, ledger, entry: dict, exc: ApiError) -> StepResult:
    p = ctx.params
    if exc.path == TOKEN_PATH:  # the token request (after a 401 to Send Message) got this answer: nothing was sent
        sends.clear(ledger)
        r.evidence["token request"] = f"{exc.answer}: {exc.detail}"
        return instructions.finish_unverified(r, f"the token request answered {exc.answer}",
                                              f"no token for '{p.api_user}': the token request answered {exc.answer} "
                                              f"({exc.detail}); Send Message was not processed, nothing was sent")
    refused = exc.status is not None and 400 <= exc.status < 500
    if refused:  # the tenant answered that it did not take the message (429 was retried already)
        sends.clear(ledger)
        r.evidence["Send Message"] = f"refused: {exc.answer}: {exc.detail}"
        if exc.status in (401, 403):
            r.actions = instructions.grant_privilege(p) if exc.status == 403 else instructions.sms_api_refuses_token(p)
        elif exc.status == 400:
            r.actions = [f"Check that {p.access_number} is the outbound chat account of a chat service (step 05) and "
                         f"that {p.test_destination} is a valid destination."]
        return r.finish(FAILED if not r.actions else ACTION_REQUIRED,
                        f"the tenant refused the test message ({exc.answer}: {exc.detail}); nothing was sent")
    # No answer, a timeout, a 5xx or an unreadable 200: it may have been sent. Never sent again here.
    sends.write(ledger, {**entry, "sid": None, "answer": f"{exc.answer}: {exc.detail}"})
    r.evidence["Send Message"] = f"no verdict: {exc.answer}: {exc.detail}"
    r.evidence["may have been sent"] = sends.describe({**entry, "sid": None, "answer": exc.answer})
    r.actions = [f"Do not simply re-run: the text may have been sent. Check {CARRIER_USAGE} or the handset "
                 f"{p.test_destination}.",
                 "The next run will not send another text until you re-run with --resend-unconfirmed."]
    return r.finish(FAILED, f"the test message may have been sent: Send Message answered {exc.answer} ({exc.detail}); "
                            "it was not sent again")


def _plan(p, admin: bool) -> str:
    if not p.smoke_test:
        return "skipped: smoke_test is false (it sends a real text)"
    return "skipped: dry run" if p.dry_run else f"automated: sends one text to {p.test_destination}"


STEP = Step(
    id="06_smoke_test",
    title="Smoke test: send one message and follow it",
    run=smoke_test,
    parameters=COMMON + ("api_user", "access_number", "test_destination", "smoke_test", "smoke_message",
                         "smoke_timeout", "poll_interval", "resend_unconfirmed"),
    page=Page(
        why="One real text proves the whole chain, from token to handset.",
        admin=None,
        checks="Off unless `smoke_test = True`, because it sends a real text: one message from the access number to "
               "`test_destination`, then Get Message until *delivered*, *failed* or the timeout; the status timeline "
               "is shown. Send Message is never repeated: if its answer is lost, the text may have gone out, so the "
               "next run sends nothing until that text is resolved (or you set `resend_unconfirmed = True`). Nothing is "
               "sent either when an earlier step of this run (or lab session) found the SMS/MMS API refusing the API "
               "user's token: fix that first (steps 01 to 04).",
        good="`ok`: delivered. `sent` is handed to the carrier, not delivered, and is never counted as such.",
        docs=(SMS_POSTMAN,),
    ),
    who_acts="automated",
    row=Row(
        step="one real message",
        acts="**off unless `smoke_test: true`**: sends one text, polls Get Message",
        verified="the timeline ends `delivered` (`sent` is never counted as delivered); a text that may have gone out "
                 "is recorded and never sent again by accident; nothing is sent with a token the run found refused",
        reads="the API user's token request; Get Message of the text (and of an earlier run's text)",
        writes="**Send Message**: one text, only with `smoke_test: true`, never with `dry_run`",
    ),
    plan=_plan,
)
