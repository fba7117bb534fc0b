"""Contract recordings: the shapes of a tenant's answers to the runbook's read-only calls.

`python -m helpers contract --params FILE --out FILE.json` asks a tenant what the runbook asks it
(token requests, the SMS/MMS privilege probe, Get User and lock state of the API user, Get Teams,
Get Directory, Get Access Numbers) and writes, per call: method, path template, status, content
type and the answer's shape (field names and JSON types, recursively; an array as the union of its
items). Never a value, a secret or tenant data: login IDs, names and numbers stay out, and the file
is scanned for them before it is written. Never a send, never a write.

tests/test_contract.py replays every recording under tests/contract/ against the emulator and fails
on any difference, so one recording of a real tenant tightens the emulator for good.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests

from helpers import __version__
from helpers.errors import ApiError, ParameterError, RunbookError
from helpers.safety.gate import Gate
from helpers.safety.secrets import SECRET_ENV, Secret
from helpers.tenant.auth import TOKEN_PATH, TokenProvider
from helpers.tenant.transport import RetryPolicy, Transport

FORMAT = "bp-sms-runbook contract recording, version 1"
API_USER, ADMIN_USER = "api_user", "admin_user"  # who makes a call: named by the parameter, never the login


@dataclass(frozen=True)
class Call:
    id: str
    method: str
    template: str   # the path, with {loginId} and {sid} where values would go
    as_: str        # who makes it: API_USER, or ADMIN_USER (the API user when there is no admin)


CALLS = (
    Call("token.api_user", "POST", TOKEN_PATH, API_USER),
    Call("token.admin_user", "POST", TOKEN_PATH, ADMIN_USER),
    Call("sms.probe", "GET", "/clientweb/smsapi/v1/Messages/{sid}", API_USER),  # Get Message of a made-up id
    Call("user.get", "GET", "/configapi/v2/user/{loginId}", ADMIN_USER),         # the API user's
    Call("user.lock", "GET", "/configapi/v2/user/lock/{loginId}", ADMIN_USER),   # the API user's
    Call("team.list", "GET", "/configapi/v2/team", ADMIN_USER),
    Call("phone.user", "GET", "/configapi/v2/phone/user", ADMIN_USER),
    Call("phone.ext", "GET", "/configapi/v2/phone/ext", ADMIN_USER),
)
CALLS_BY_ID = {call.id: call for call in CALLS}
# Objects keyed by tenant data (a user's skills: skill name -> level): their keys are never recorded.
MAP_FIELDS = frozenset({"skills"})


class ContractLeakError(RunbookError):
    """A tenant value or secret would have reached the recording: nothing is written."""


# ---------------------------------------------------------------------------- shapes
def json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string", type(None): "null"}[type(value)]


def shape_of(value, key: str | None = None) -> dict:
    """Field names and JSON types, recursively; never a value."""
    if isinstance(value, dict):
        if key in MAP_FIELDS:
            return {"type": "object", "map_of": merge_all(shape_of(v) for v in value.values())}
        return {"type": "object", "fields": {k: shape_of(v, k) for k, v in sorted(value.items())}}
    if isinstance(value, list):
        return {"type": "array", "items": merge_all(shape_of(v) for v in value)}
    return {"type": json_type(value)}


def types(shape: dict) -> list[str]:
    kind = shape["type"]
    return [kind] if isinstance(kind, str) else list(kind)


def merge(a: dict | None, b: dict | None) -> dict | None:
    """The union of two shapes: a field missing from one object of an array is "optional"."""
    if a is None or b is None:
        return a if b is None else b
    kinds = sorted(set(types(a)) | set(types(b)))
    out: dict = {"type": kinds[0] if len(kinds) == 1 else kinds}
    if "fields" in a or "fields" in b:
        fa, fb = a.get("fields"), b.get("fields")
        if fa is not None and fb is not None:
            optional = set(a.get("optional", [])) | set(b.get("optional", [])) | (set(fa) ^ set(fb))
            out["fields"] = {k: merge(fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb))}
            if optional:
                out["optional"] = sorted(optional)
        else:
            source = a if fa is not None else b
            out["fields"] = source["fields"]
            if source.get("optional"):
                out["optional"] = source["optional"]
    if "map_of" in a or "map_of" in b:
        out["map_of"] = merge(a.get("map_of"), b.get("map_of"))
    if "items" in a or "items" in b:
        out["items"] = merge(a.get("items"), b.get("items"))
        if a.get("open") or b.get("open"):
            out["open"] = True
    return out


def merge_all(shapes) -> dict | None:
    result = None
    for shape in shapes:
        result = merge(result, shape)
    return result


def shape_differences(recorded: dict | None, replayed: dict | None, where: str = "body") -> list[str]:
    """Readable differences between two shapes. Which fields are optional is not compared (it
    depends on the data); an empty array's items are unknown and match anything; an array marked
    "open" (published items are examples among others) only needs its fields to be present."""
    if recorded is None or replayed is None:
        return []
    if set(types(recorded)) != set(types(replayed)):
        return [f"{where}: recorded {'|'.join(types(recorded))}, emulator {'|'.join(types(replayed))}"]
    out = []
    fr, fe = recorded.get("fields"), replayed.get("fields")
    if fr is not None and fe is not None:
        missing = sorted(set(fr) - set(fe))
        extra = [] if recorded.get("open_fields") else sorted(set(fe) - set(fr))
        out += [f"{where}.{k}: recorded, the emulator never answers it" for k in missing]
        out += [f"{where}.{k}: the emulator answers it, the recording never shows it" for k in extra]
        for k in sorted(set(fr) & set(fe)):
            out += shape_differences(fr[k], fe[k], f"{where}.{k}")
    out += shape_differences(recorded.get("map_of"), replayed.get("map_of"), f"{where}{{*}}")
    items = recorded.get("items")
    if items is not None and recorded.get("open"):
        items = {**items, "open_fields": True}
    out += shape_differences(items, replayed.get("items"), f"{where}[]")
    return out


def recording_differences(recorded: dict, replayed: dict) -> list[str]:
    """Call by call: status, content type and shape (and who made the call)."""
    out = []
    answers = {c["call"]: c for c in replayed["calls"]}
    for call in recorded["calls"]:
        name, other = call["call"], answers.get(call["call"])
        if other is None:
            out.append(f"{name}: not replayed")
            continue
        for key in ("method", "path", "as", "status", "outcome", "content_type", "body", "skipped"):
            if call.get(key) != other.get(key):
                out.append(f"{name}: {key} recorded {call.get(key)!r}, emulator {other.get(key)!r}")
        out += [f"{name}: {d}" for d in shape_differences(call.get("shape"), other.get("shape"))]
    return out


# ---------------------------------------------------------------------------- recording
class Recorder:
    """Makes the read-only calls as the given users and records what came back (shapes only).

    `users` maps API_USER / ADMIN_USER to (login ID, Secret or None). HTTP goes through Transport;
    a response hook on its session sees every answer, the failed ones included, so an error's
    content type and shape are recorded too.
    """

    def __init__(self, transport: Transport, scope: str, users: dict[str, tuple[str, Secret | None]]):
        self.transport, self.scope, self.users = transport, scope, users
        self._answers: list[requests.Response] = []
        transport.session.hooks["response"].append(lambda response, *args, **kwargs: self._answers.append(response))
        self._tokens: dict[str, Secret] = {}

    def plan(self) -> list[tuple[str, str]]:
        """The default calls: admin calls fall back to the API user when there is no admin."""
        has_admin = bool(self.users.get(ADMIN_USER, ("", None))[0])
        return [(c.id, c.as_ if c.as_ == API_USER or has_admin else API_USER) for c in CALLS
                if c.id != "token.admin_user" or has_admin]

    def record(self, plan: list[tuple[str, str]] | None = None, *, source: str) -> dict:
        calls = [self._call(CALLS_BY_ID[call_id], who) for call_id, who in (plan or self.plan())]
        return {"format": FORMAT, "source": source, "recorded": datetime.now(UTC).strftime("%Y-%m-%d"),
                "runbook_version": __version__, "calls": calls}

    def known_values(self) -> list[str]:
        """Secrets and tokens this recorder handled, for the final scan."""
        values = [s.reveal() for _, s in self.users.values() if s is not None]
        return values + [t.reveal() for t in self._tokens.values()]

    def _call(self, call: Call, who: str) -> dict:
        entry = {"call": call.id, "method": call.method, "path": call.template, "as": who}
        self._answers.clear()
        try:
            if call.template == TOKEN_PATH:
                login, secret = self.users.get(who, ("", None))
                if not login or secret is None:
                    return {**entry, "skipped": f"no {who} secret"}
                provider = TokenProvider(self.transport, login, secret, self.scope)
                self._tokens[who] = provider.request_token().value
            else:
                token = self._tokens.get(who)
                if token is None:
                    return {**entry, "skipped": f"no {who} token"}
                path = call.template.format(loginId=quote(self.users[API_USER][0], safe=""),
                                            sid=f"contract-probe-{uuid.uuid4()}")
                self.transport.request(call.method, path, headers={"Authorization": f"Bearer {token.reveal()}",
                                                                   "Accept": "application/json"})
        except ApiError as exc:
            if not self._answers:
                return {**entry, "status": None, "outcome": f"no response ({type(exc).__name__})"}
        return {**entry, **answer_record(self._answers[-1])}


def dumps(recording: dict) -> str:
    """The recording as JSON, one line per field: `"name": {"type": "string"}`."""
    text = json.dumps(recording, indent=2)
    text = re.sub(r'\[\s*((?:"[^"\n]*",\s*)*"[^"\n]*")\s*\]',
                  lambda m: "[" + ", ".join(re.findall(r'"[^"\n]*"', m.group(1))) + "]", text)
    text = re.sub(r'\{\s*("type": (?:"[a-z]+"|\[[^\]\n]*\]))\s*\}', r"{\1}", text)
    return text + "\n"


def answer_record(response: requests.Response) -> dict:
    record = {"status": response.status_code, "content_type": response.headers.get("Content-Type")}
    if not response.content.strip():
        return {**record, "body": "empty"}
    try:
        payload = json.loads(response.text)
    except ValueError:
        return {**record, "body": "text"}  # e.g. the bare OK of the Configuration API
    return {**record, "body": "json", "shape": shape_of(payload)}


def check_no_values(text: str, values: list[str]) -> None:
    """Fail closed: the recording must hold none of these (tenant values and secrets)."""
    strings: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                strings.append(key)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            strings.append(node)

    walk(json.loads(text))
    for value in {v.strip() for v in values if v and v.strip()}:
        if any(s == value or (len(value) >= 6 and value in s) for s in strings):
            raise ContractLeakError("a tenant value or secret would have reached the recording; nothing was written")


def tenant_values(params) -> list[str]:
    """Everything in the parameters that names the tenant or its data."""
    values = [params.api_user, params.admin_user, params.effective_scope, urlsplit(params.base_url).hostname or "",
              params.role, params.api_user_team, params.api_user_first_name, params.api_user_last_name,
              params.chat_service, params.test_destination, params.smoke_message]
    for number in (params.access_number, params.test_destination):
        values += [number, number.lstrip("+")]
    return values


def main(params_path: Path, out: Path, stdout=sys.stdout, stderr=sys.stderr) -> int:
    """`python -m helpers contract`: 0 written, 1 a value would have leaked, 3 bad parameters or no secret."""
    from helpers.safety.secrets import SecretStore
    from helpers.steps.params import load

    gate = Gate()  # what this command prints and writes passes it; it learns each secret as it is found
    try:
        params = load(params_path)
    except ParameterError as exc:
        gate.print(f"error: {exc}", stderr)
        return 3
    store = SecretStore.for_params(params)
    api_secret, admin_secret = store.get("api"), store.get("admin") if params.admin_user else None
    if api_secret is None and admin_secret is None:
        gate.print(f"error: no secret available for {params.api_user!r}"
                   f"{' or ' + repr(params.admin_user) if params.admin_user else ''}: set {SECRET_ENV['api']} "
                   f"(and {SECRET_ENV['admin']}), or the keyring; see README, Secrets", stderr)
        return 3
    users = {API_USER: (params.api_user, api_secret)}
    if admin_secret is not None:
        users[ADMIN_USER] = (params.admin_user, admin_secret)
    elif params.admin_user:
        gate.print(f"note: no secret for admin_user ({SECRET_ENV['admin']}): the API user makes every call", stdout)
    transport = Transport(params.base_url, ca_bundle=params.ca_bundle or None, connect_timeout=params.connect_timeout,
                          read_timeout=params.read_timeout, retry=RetryPolicy(max_attempts=2))
    recorder = Recorder(transport, params.effective_scope, users)
    recording = recorder.record(source="recorded from a tenant by python -m helpers contract (read-only calls)")
    text = dumps(recording)
    gate.know(recorder.known_values() + store.known_values())
    gate.keep(tenant_values(params))
    try:
        check_no_values(text, tenant_values(params) + recorder.known_values() + store.known_values())
    except ContractLeakError as exc:
        gate.print(f"error: {exc}", stderr)
        return 1
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Like every file that leaves a command: through the gate (scrubbed, scanned, withheld if a value survived).
    if gate.write_text(out, text):
        gate.print(f"error: {out} withheld: a secret survived scrubbing (the recording holds a value it must not)",
                   stderr)
        return 1
    for call in recording["calls"]:
        gate.print(f"  {call['call']:<17} {call['method']:<5} {call['path']:<42} "
                   f"{call.get('skipped') or call.get('outcome') or call['status']}", stdout)
    gate.print(f"Recorded {len(recording['calls'])} calls (shapes only) to {out}", stdout)
    return 0
