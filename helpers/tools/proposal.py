"""The parameter file a snapshot proposes: every value the snapshot could decide, and, where several
candidates exist (access numbers, chat services, roles, users holding the role, teams), the candidates
as comments. A value it cannot decide is left out (the runbook's default applies) and said so.

The file is validated as the runbook validates a parameter file (helpers/steps/params.py) before it
is written: a proposal that would not load is never written.
"""

from __future__ import annotations

import json

from helpers.errors import ParameterError
from helpers.steps.params import PARAMETERS, RunbookParams, validate
from helpers.steps.schema import e164

SMS_MEDIA = ("text", "voice_text")
LISTED = 12  # candidates shown per list; the rest counted


def _q(value: str) -> str:
    """A YAML scalar that stays text (JSON strings are YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


class Proposal:
    def __init__(self):
        self.lines: list[str] = []
        self.values: dict[str, str | bool] = {}

    def decided(self, name: str, value, why: str, candidates: list[str] = ()) -> None:
        try:  # a value the tenant shows but the runbook would refuse (an empty team, say) is not proposed
            validate({name: value})
        except ParameterError as exc:
            self.undecided(name, f"the value the tenant shows would be refused ({exc.problem})", candidates)
            return
        self.values[name] = value
        shown = ("true" if value else "false") if isinstance(value, bool) else _q(value)
        self.lines.append(f"{name}: {shown}   # {why}")
        self.lines += [f"#   {c}" for c in candidates]

    def undecided(self, name: str, why: str, candidates: list[str] = ()) -> None:
        default = getattr(RunbookParams, name) if hasattr(RunbookParams, name) else None
        self.lines.append(f"# {name}: not decided: {why} (the runbook's default {_q(str(default))} applies)")
        self.lines += [f"#   {c}" for c in candidates]


def _numbers(p: Proposal, numbers) -> list[str]:
    """access_number; returns the chosen number's services."""
    if not isinstance(numbers, list):
        p.undecided("access_number", "the access numbers could not be read")
        return []
    sms = [n for n in numbers if n["media"] in SMS_MEDIA]
    # Text-out first: a number some chat service already sends from is the one to use.
    ranked = sorted(sms, key=lambda n: (not n["text_out_services"], n["number"]))
    listed = [f"+{n['number']}  media {n['media']}, type {n['type']}, textOutService: "
              f"{', '.join(n['text_out_services']) or '(none)'}" for n in ranked]
    if not ranked:
        p.undecided("access_number", "no access number is SMS-capable (media text or voice_text)",
                    [f"+{n['number']}  media {n['media']}" for n in numbers])
        return []
    chosen = ranked[0]
    try:
        number = e164("access_number", "+" + chosen["number"].lstrip("+"))
    except ParameterError:
        p.undecided("access_number", f"{chosen['number']} is not an E.164 number once a '+' is added",
                    ["candidates (SMS-capable, Get Access Numbers):", *listed])
        return []
    if len(ranked) == 1:
        why = "the only SMS-capable access number (Get Access Numbers)"
    elif chosen["text_out_services"] and not ranked[1]["text_out_services"]:
        why = "the only SMS-capable access number a chat service names (textOutService)"
    else:
        why = "the first of several candidates: choose"
    # Get Access Numbers lists "16502505674": the country code without '+', in every published sample.
    why += f" (listed as {chosen['number']}: '+' added; check the country code)"
    p.decided("access_number", number, why, ["candidates (SMS-capable, Get Access Numbers):", *listed]
              if len(ranked) > 1 else [])
    return chosen["text_out_services"]


def _chat_service(p: Proposal, services: list[str], all_services) -> None:
    names = [s["name"] for s in all_services] if isinstance(all_services, list) else []
    listed = ["candidates (named by access numbers' textOutService):", *[f"{n}" for n in names]] if names else []
    if len(services) == 1:
        p.decided("chat_service", services[0], "the service the access number names (textOutService)",
                  listed if len(names) > 1 else [])
    elif services:
        p.decided("chat_service", services[0], "the access number names several services: choose", listed)
    else:
        p.undecided("chat_service", "no service names the access number (services cannot be read otherwise)", listed)


def _users(p: Proposal, users, teams, admin: str) -> None:
    """role, api_user, api_user_team."""
    if not isinstance(users, list):
        for name in ("role", "api_user", "api_user_team"):
            p.undecided(name, "the users could not be read")
        return
    holders: dict[str, list[str]] = {}
    for u in users:
        for role in u.get("roles") or []:
            holders.setdefault(role, []).append(u["login_id"])
    by_role = [f"{role}: {_some(logins)}" for role, logins in sorted(holders.items())]
    default_role = RunbookParams.role
    role = default_role if default_role in holders else None
    if role:
        p.decided("role", role, "users hold a role of this name; which role holds 'Use SMS/MMS API' cannot be read "
                                "(no API shows privileges): check it in the admin UI", ["users holding each role:", *by_role])
    else:
        p.undecided("role", "no API shows which role holds 'Use SMS/MMS API'; step 01 names the role to grant it to",
                    ["users holding each role (Get User):", *by_role])
    wanted = role or default_role
    fit = [u for u in users if u["login_id"] != admin and wanted in (u.get("roles") or [])]
    if len(fit) == 1 and fit[0].get("disabled") is False:
        user = fit[0]
        p.decided("api_user", user["login_id"], f"the only user other than the administrator holding '{wanted}'")
        p.decided("api_user_team", user.get("team") or "", "the API user's team (Get User)")
        return
    if fit:
        p.undecided("api_user", f"several users hold '{wanted}'", ["candidates:", _some([u["login_id"] for u in fit])])
    else:
        p.undecided("api_user", f"no user other than the administrator holds '{wanted}' (step 02 creates it)",
                    ["users holding each role:", *by_role])
    team_list = teams if isinstance(teams, list) else []
    if RunbookParams.api_user_team in team_list:
        p.decided("api_user_team", RunbookParams.api_user_team, "the default team exists (Get Teams)")
    else:
        p.undecided("api_user_team", "the team step 02 creates the API user in", ["teams (Get Teams):",
                                                                                  _some(team_list) or "(none read)"])


def proposal(data: dict, params: RunbookParams) -> str:
    """The proposed parameter file's text, validated."""
    p = Proposal()
    p.decided("tenant_url", params.tenant_url, "as given")
    p.decided("scope", params.effective_scope, "as given" if params.scope else "the tenant URL's host")
    p.decided("admin_user", params.admin_user, "as given (the snapshot was read as this user)")
    if params.ca_bundle:
        p.decided("ca_bundle", params.ca_bundle, "as given")
    services = _numbers(p, data.get("access numbers"))
    _chat_service(p, services, data.get("chat services"))
    _users(p, data.get("users"), data.get("teams"), params.admin_user)
    p.decided("smoke_test", False, "sends a real text when true: turn it on yourself")
    p.undecided("test_destination", "a handset of yours, for the smoke test")
    head = [f"# Proposed by `python -m helpers snapshot` for {params.effective_scope} at {data['taken at (UTC)']} "
            "from what the Configuration API showed (snapshot.yaml beside this file).",
            "# Review before use: each value says why it was chosen; 'not decided' lines leave the default in place.",
            "# Secrets are never parameters: BP_ADMIN_SECRET / BP_API_SECRET or the keyring (README, Secrets)."]
    text = "\n".join(head + p.lines) + "\n"
    unknown = set(p.values) - set(PARAMETERS)
    if unknown:
        raise ValueError(f"proposal names unknown parameters: {sorted(unknown)}")
    import yaml

    validate(yaml.safe_load(text))  # a proposal that would not load is never written (ParameterError)
    return text


__all__ = ["proposal"]
