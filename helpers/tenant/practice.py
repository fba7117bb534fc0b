"""Practice mode: perform the admin-UI-only steps through the emulator's console.

Refused against anything that is not the local emulator: a real tenant has no console, and the
runbook must never pretend it did something a person has to do in the admin UI.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from helpers.errors import ApiError, ParameterError
from helpers.safety.secrets import Secret
from helpers.tenant.transport import RetryPolicy, Transport, decode_json, is_loopback

CONSOLE = "/_emulator"
LABEL = "[practice mode: emulator only]"


def emulator_tenants(base_url: str) -> list[str] | None:
    """The scopes the local emulator serves at this address, or None when the target does not
    answer as the emulator. Only loopback addresses are asked: a real tenant is never probed for a
    console. Being on loopback proves nothing (an SSH tunnel to a real tenant is on loopback too)."""
    transport = Transport(base_url, connect_timeout=2.0, read_timeout=5.0, retry=RetryPolicy(max_attempts=1))
    if not is_loopback(urlsplit(transport.base_url).hostname or ""):
        return None
    try:
        info = decode_json(transport.request("GET", CONSOLE + "/", headers={"Accept": "application/json"},
                                             idempotent=True), "GET", CONSOLE + "/")
    except ApiError:
        return None
    if not isinstance(info, dict) or "emulator" not in info or not isinstance(info.get("tenants"), list):
        return None
    return [str(t) for t in info["tenants"]]


class PracticeConsole:
    def __init__(self, base_url: str, scope: str):
        self.transport = Transport(base_url, retry=RetryPolicy(max_attempts=2))
        self.scope = scope
        if not is_loopback(urlsplit(self.transport.base_url).hostname or ""):
            raise ParameterError("practice_mode", f"the target {base_url} is not a loopback emulator",
                                 "set practice_mode: false for a real tenant")

    @classmethod
    def connect(cls, base_url: str, scope: str, **kwargs) -> PracticeConsole:
        """Check that the target really is the emulator, serving this scope, before anything else."""
        console = cls(base_url, scope, **kwargs)
        tenants = emulator_tenants(base_url)
        if tenants is None:
            raise ParameterError("practice_mode", f"{base_url} does not answer as the local emulator",
                                 "start it with `make emulator` (or run with --emulator), or set practice_mode: false")
        if scope not in tenants:
            raise ParameterError("scope", f"the emulator serves no tenant {scope!r}", f"use one of: {', '.join(tenants)}")
        return console

    def _json(self, method: str, path: str, body: dict | None = None):
        response = self.transport.request(method, CONSOLE + path, json_body=body, idempotent=True)
        return decode_json(response, method, CONSOLE + path)

    def _tenant(self, path: str) -> str:
        return f"/tenants/{quote(self.scope, safe='')}{path}"

    def roles(self) -> dict[str, list[str]]:
        return {r["name"]: r["privileges"] for r in self._json("GET", self._tenant("/roles"))}

    def grant_privilege(self, role: str, privilege: str = "Use SMS/MMS API") -> dict:
        return self._json("POST", self._tenant(f"/roles/{quote(role, safe='')}/privileges"),
                          {"privilege": privilege, "granted": True})

    def add_user_role(self, login_id: str, role: str, current_roles: list[str]) -> dict:
        roles = list(current_roles) + ([role] if role not in current_roles else [])
        return self._json("PUT", self._tenant(f"/users/{quote(login_id, safe='')}/roles"), {"roles": roles})

    def generate_api_secret(self, login_id: str) -> Secret:
        payload = self._json("POST", self._tenant(f"/users/{quote(login_id, safe='')}/api-secret"))
        return Secret(payload["apiSecret"], name=f"api secret ({login_id})", source="generated in practice mode")

    def services(self) -> dict[str, list[str]]:
        return {s["name"]: s["outboundChatAccounts"] for s in self._json("GET", self._tenant("/services"))}

    def add_outbound_account(self, service: str, number: str) -> dict:
        current = self.services().get(service, [])
        digits = number.lstrip("+")
        accounts = current + ([digits] if digits not in current else [])
        return self._json("PUT", self._tenant(f"/services/{quote(service, safe='')}"), {"outboundChatAccounts": accounts})
