"""What the steps of one run (or one lab session) observed, shared with the steps after them.

A step puts its observations that later steps must not contradict in `result.observed["findings"]`:
{name: {"verdict": ..., "answer": "HTTP 403 (application/json) to Get Message of a made-up id"}}.
Nothing in them is secret (answers, statuses, verdicts; never a token or a secret), and only the
names below are shared. The runner writes them, with each step's status, into the run-context file
(RUN_CONTEXT_ENV, in the run's private 0700 folder); in the lab (notebooks run by hand, the forms)
each page records them in a lab file beside the private handoff file, per tenant.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from helpers.safety.secrets import handoff_path, read_handoff, write_private_json

KEY = "findings"  # result.observed[KEY]
# The token endpoint's answer to a token request without credentials (step 00, or the step itself).
ANONYMOUS = "token endpoint, without credentials"  # refused | issues tokens | no token endpoint | unknown
# The API user's token at the SMS/MMS API (steps 01, 02 without admin, 04).
PROBE = "the API user's token at the SMS/MMS API"  # accepted | no-privilege | token-refused | unverified | deferred
SHARED = (ANONYMOUS, PROBE)

LAB_FILE = "lab-findings.json"
LAB_HOURS = 12  # a lab session's findings older than this are forgotten (the tenant may have changed)


# What a step observed of the tenant, compared with the tenant's previous run (helpers.run.drift):
# result.observed[OBSERVATIONS] = {name: {"found": value, "left": value}}. A small, named set per step
# (a role list, a state, a verdict; never a secret or a token): str, int, float, bool or a list of str.
OBSERVATIONS = "observations"
DIGEST = "sha256:"  # a value the scrub would redact is kept as this prefix and 12 hex digits, never itself


def observe(result, name: str, value) -> None:
    """One observation of the tenant. What the step saw before it changed anything (result.changed
    still empty) is what it `found`; its last observation is what it `left`."""
    if isinstance(value, (list, tuple, set)):
        value = sorted(str(v) for v in value)  # roles, services: sets, whatever order the tenant lists them in
    elif not isinstance(value, (str, int, float, bool)):
        raise TypeError(f"observation {name!r}: {type(value).__name__} is not str, int, float, bool or a list")
    entry = result.observed.setdefault(OBSERVATIONS, {}).setdefault(name, {})
    if not result.changed and "found" not in entry:
        entry["found"] = value
    entry["left"] = value


def digested(result, redacts) -> None:
    """Before the result is scrubbed: each observed value the scrub would change (`redacts(text)`)
    becomes its digest, so the next run can still tell that it changed, and never what it was."""
    for entry in (result.observed.get(OBSERVATIONS) or {}).values():
        for when, value in entry.items():
            text = json.dumps(value, ensure_ascii=False)
            if redacts(text):
                entry[when] = DIGEST + hashlib.sha256(text.encode()).hexdigest()[:12]


def note(result, name: str, verdict: str, answer: str = "") -> None:
    """Record one shared finding of this step (the latest of the same name wins)."""
    result.observed.setdefault(KEY, {})[name] = {"verdict": verdict, "answer": answer}


def shared(result: dict) -> dict:
    """What a later step may read of a finished step's result (a dict): its status and findings only."""
    found = (result.get("observed") or {}).get(KEY) or {}
    return {"status": str(result.get("status")),
            "findings": {k: {"verdict": str(v.get("verdict")), "answer": str(v.get("answer", ""))}
                         for k, v in found.items() if k in SHARED and isinstance(v, dict)}}


def run_context(steps: list[dict]) -> dict:
    """The run-context file's content, from the results (dicts) of the steps run so far, in order."""
    return {"steps": {r["step"]: shared(r) for r in steps}}


# ------------------------------------------------------------------------------ the lab's record
def lab_path(environ=None) -> Path:
    return handoff_path(environ).parent / LAB_FILE


def lab_key(params) -> str:
    return f"{params.effective_scope} {params.base_url}"


def record_in_lab(result, params, environ=None, *, now=None) -> None:
    """A page run by hand (or its form) records what it found for the pages after it."""
    path = lab_path(environ)
    data = read_handoff(path)
    tenant = data.setdefault(lab_key(params), {})
    entry = shared(result.to_dict())
    # For the closing page (helpers/notebook/closing.py): the headline, and the steps this one verified.
    entry["summary"] = result.summary
    entry["verifies"] = sorted((result.observed.get("verifies") or {}).keys())
    entry["at"] = time.time() if now is None else now
    tenant[result.step] = entry
    try:
        write_private_json(path, data)
    except OSError:  # the lab record is a help, never a reason for a page to fail
        pass


def read_lab(params, environ=None, *, now=None) -> dict[str, dict]:
    """{step id: entry} recorded in the lab for this tenant, oldest first, without stale entries."""
    tenant = read_handoff(lab_path(environ)).get(lab_key(params))
    if not isinstance(tenant, dict):
        return {}
    now = time.time() if now is None else now
    fresh = [(step, e) for step, e in tenant.items()
             if isinstance(e, dict) and isinstance(e.get("at"), (int, float)) and now - e["at"] < LAB_HOURS * 3600]
    return dict(sorted(fresh, key=lambda item: item[1]["at"]))


def read_run(path: str) -> dict[str, dict] | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    steps = data.get("steps") if isinstance(data, dict) else None
    return {k: v for k, v in steps.items() if isinstance(v, dict)} if isinstance(steps, dict) else None


def mark_verified_later(entries: list[dict]) -> list[dict]:
    """The run's record: a step a later step verified (its result's observed["verifies"]: {step id:
    evidence}) and that ended neither ok nor changed gets entry["verified_later"] = {"by", "evidence"}:
    step 01 that could not verify before step 03 had the secret, proven by step 04's token."""
    by_step = {e["result"]["step"]: e for e in entries}
    for entry in entries:
        verifies = (entry["result"].get("observed") or {}).get("verifies") or {}
        for step, evidence in verifies.items():
            target = by_step.get(step)
            if target is not None and target["result"]["status"] not in ("ok", "changed"):
                target["verified_later"] = {"by": entry["result"]["step"], "evidence": str(evidence)}
    return entries
