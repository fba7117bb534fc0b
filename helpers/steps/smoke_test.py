"""06: one real text, followed with Get Message. Off unless smoke_test is true."""

from __future__ import annotations

from ..api.sms import StatusChange
from ..results import ACTION_REQUIRED, FAILED, OK, SKIPPED, StepResult
from .context import StepContext


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
    sent = client.sms.send(p.test_destination, p.access_number, p.smoke_message)
    r.changed.append(f"sent one test message to {p.test_destination}")
    r.evidence["sid"] = sent.sid
    message, timeline = client.sms.wait_for_final(sent.sid, timeout=p.smoke_timeout, interval=p.poll_interval,
                                                  sleep=ctx.sleep)
    if timeline and timeline[0].status == sent.status:
        timeline = timeline[1:]  # the first read found it where the send left it
    changes = [StatusChange(0.0, sent.status)] + timeline
    r.evidence["timeline"] = [{"after (s)": c.elapsed, "status": c.status} for c in changes]
    path = " -> ".join(c.status for c in changes)
    r.evidence.update({"date_sent": message.date_sent, "segments": message.num_segments})
    if message.status == "delivered":
        return r.finish(OK, f"test message delivered to {p.test_destination} ({path})")
    if message.status == "failed":
        return r.finish(FAILED, f"test message failed: {message.error_code} {message.error_message} ({path})")
    return r.finish(FAILED, f"no delivery confirmation within {p.smoke_timeout:g} s (last status: {message.status}; {path})")
