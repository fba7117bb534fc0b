"""Emulator-only console under /_emulator/: stands in for the Contact Center Administrator UI
(roles, privileges, API secrets, chat services) and gives tests control (reset, state, faults).

It does not exist on a real tenant; nothing in `helpers` may depend on it outside practice mode.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, redirect, request, url_for

from .errors import BadRequest
from .faults import CONSOLE_PREFIX
from .store import Store

console = Blueprint("console", __name__, url_prefix=CONSOLE_PREFIX)


def store() -> Store:
    return current_app.config["STORE"]


def body() -> dict:
    data = request.get_json(silent=True)
    if data is None and request.data:
        raise BadRequest("console requests take a JSON object body")
    if data is not None and not isinstance(data, dict):
        raise BadRequest("console requests take a JSON object body")
    return data or {}


@console.before_request
def refuse_other_sites():
    """The JSON console is for programs (tests, practice mode, curl), which send no Origin. A web page
    on another site can still make a browser send a simple POST here (no CORS preflight for an empty
    body): refuse any change a browser says comes from another origin, so that no page can replace or
    revoke a practice secret."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = request.headers.get("Origin")
    here = f"{request.scheme}://{request.host}".lower()
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if (origin and origin.lower() != here) or fetch_site in ("cross-site", "same-site"):
        return jsonify({"error": "access_denied",
                        "error_description": "console changes are refused from other origins"}), 403
    return None


def switch(data: dict, name: str, default: bool = True) -> bool:
    """A true/false field of a console body, absent meaning `default`. Only JSON true/false: bool("false")
    is True, so a string would silently do the opposite of what it says."""
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false (a JSON boolean), not {json.dumps(value)}")
    return value


def tenant(scope: str) -> int:
    return store().tenant_id(scope)


@console.get("/")
def index():
    # A browser (Accept prefers text/html) gets the practice admin UI; everything else, practice mode
    # and tests included (requests sends */*), the JSON below.
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        response = redirect(url_for("ui.tenants"))
    else:
        response = jsonify({"emulator": "Bright Pattern tenant emulator (practice and tests only)",
                            "tenants": store().scopes(),
                            "endpoints": sorted(str(r) for r in current_app.url_map.iter_rules()
                                                if str(r).startswith(CONSOLE_PREFIX))})
    response.vary.add("Accept")
    return response


@console.post("/reset")
def reset():
    store().reset()
    current_app.config["FAULTS"].clear()
    current_app.config["JOURNAL"].clear()
    return jsonify({"reset": True, "tenants": store().scopes()})


@console.get("/state")
def state():
    return jsonify(store().dump())


@console.put("/runbook-link")
def put_runbook_link():
    """Where the practice admin UI's "Back to the runbook" link points: the landing page of the
    JupyterLab that `make lab` started (it says so here once it knows its address). Not tenant state:
    a reset keeps it. An empty url removes the link."""
    url = body().get("url", "")
    if not isinstance(url, str) or (url and not url.startswith(("http://", "https://"))):
        raise BadRequest("url must be an http:// or https:// address (or empty, to remove the link)")
    current_app.config["RUNBOOK_URL"] = url or None
    return jsonify({"url": url or None})


@console.get("/config")
def get_config():
    return jsonify(store().config())


@console.put("/config")
def put_config():
    return jsonify(store().update_config(body()))


@console.get("/faults")
def list_faults():
    return jsonify(current_app.config["FAULTS"].pending())


@console.post("/faults")
def add_fault():
    try:
        return jsonify(current_app.config["FAULTS"].add(body())), 201
    except (TypeError, ValueError) as exc:
        raise BadRequest(str(exc)) from None


@console.delete("/faults")
def clear_faults():
    current_app.config["FAULTS"].clear()
    return jsonify([])


@console.post("/tokens/expire")
def expire_tokens():
    return jsonify({"expired": store().expire_tokens()})


@console.get("/requests")
def journal():
    return jsonify(current_app.config["JOURNAL"].entries())


@console.delete("/requests")
def clear_journal():
    current_app.config["JOURNAL"].clear()
    return jsonify([])


@console.get("/tenants/<scope>/roles")
def roles(scope):
    return jsonify(store().roles(tenant(scope)))


@console.put("/tenants/<scope>/roles/<name>")
def put_role(scope, name):
    privileges = body().get("privileges", [])
    if not isinstance(privileges, list):
        raise BadRequest("privileges must be an array of privilege names")
    return jsonify(store().put_role(tenant(scope), name, privileges))


@console.post("/tenants/<scope>/roles/<name>/privileges")
def set_privilege(scope, name):
    data = body()
    if not data.get("privilege"):
        raise BadRequest("privilege is required, e.g. {\"privilege\": \"Use SMS/MMS API\", \"granted\": true}")
    return jsonify(store().set_privilege(tenant(scope), name, data["privilege"], switch(data, "granted")))


@console.put("/tenants/<scope>/users/<login_id>/roles")
def set_user_roles(scope, login_id):
    roles_ = body().get("roles")
    if not isinstance(roles_, list):
        raise BadRequest("roles must be an array of role names")
    return jsonify(store().set_user_roles(tenant(scope), login_id, roles_))


@console.post("/tenants/<scope>/users/<login_id>/api-secret")
def generate_secret(scope, login_id):
    # Shown once, as the admin UI's Generate button does; only a hash is kept afterwards.
    value = store().generate_api_secret(tenant(scope), login_id)
    response = jsonify({"loginId": login_id, "apiSecret": value,
                        "note": "shown once; use it as client_secret"})
    response.headers["Cache-Control"] = "no-store"
    return response


@console.delete("/tenants/<scope>/users/<login_id>/api-secret")
def revoke_secret(scope, login_id):
    store().revoke_api_secret(tenant(scope), login_id)
    return jsonify({"loginId": login_id, "apiSecret": None})


@console.post("/tenants/<scope>/users/<login_id>/lock")
def lock_user(scope, login_id):
    locked = switch(body(), "lockedOut")
    return jsonify({"lockedOut": store().set_lock(tenant(scope), login_id, locked)})


@console.post("/tenants/<scope>/users/<login_id>/disabled")
def disable_user(scope, login_id):
    return jsonify(store().set_user_disabled(tenant(scope), login_id, switch(body(), "disabled")))


@console.get("/tenants/<scope>/services")
def services(scope):
    return jsonify(store().services(tenant(scope)))


@console.put("/tenants/<scope>/services/<name>")
def put_service(scope, name):
    accounts = body().get("outboundChatAccounts", [])
    if not isinstance(accounts, list):
        raise BadRequest("outboundChatAccounts must be an array of access numbers")
    return jsonify(store().put_service(tenant(scope), name, accounts))
