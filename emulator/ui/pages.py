"""The pages: one view per Contact Center Administrator screen the runbook names.

Views read through the Store's public methods and write through the same methods the JSON console
uses. Every form POST redirects (303) to the page it came from with a one-time notice: a short
confirmation, or the store's error as a readable message.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from ..errors import EmulatorError, NotFound
from ..faults import CONSOLE_PREFIX
from ..store import Store
from . import guard
from .notices import Notice, notices
from .privileges import grouped

ui = Blueprint("ui", __name__, url_prefix=f"{CONSOLE_PREFIX}/ui", template_folder="templates",
               static_folder="static")

SMS_MEDIA = ("text", "voice_text")  # what CCA lists as [number]/SMS or voice + SMS
MEDIA_LABELS = {"text": "SMS", "voice": "Voice", "voice_text": "Voice + SMS"}


def store() -> Store:
    return current_app.config["STORE"]


def e164(digits: str) -> str:
    return digits if digits.startswith("+") else f"+{digits}"


def tenant(scope: str) -> dict:
    """The tenant's state (Store.dump never includes secrets or tokens)."""
    store().tenant_id(scope)  # an unknown scope is a readable 404
    return next(t for t in store().dump()["tenants"] if t["scope"] == scope)


def find(items: list[dict], key: str, value: str, what: str) -> dict:
    for item in items:
        if item[key] == value:
            return item
    raise NotFound(f"{what} {value!r} not found")


def page_key(endpoint: str, values: dict) -> tuple:
    return endpoint, tuple(sorted(values.items()))


def page(template: str, **context):
    """Render a page, with the one-time notice addressed to it, if any."""
    key = page_key(request.endpoint, request.view_args or {})
    context["notice"] = notices().take(request.args.get("n"), key)
    return render_template(f"ui/{template}", **context)


def done(endpoint: str, text: str, *, error: bool = False, secret: str | None = None, **values):
    """Post/redirect/get: back to the page, which shows `text` once."""
    notice_id = notices().put(page_key(endpoint, values), Notice(text, error=error, secret=secret))
    return redirect(url_for(endpoint, n=notice_id, **values), code=303)


def changes(before, after, added: str = "enabled", removed: str = "disabled") -> list[str]:
    gained, lost = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    return ([f"{added} {', '.join(gained)}"] if gained else []) + ([f"{removed} {', '.join(lost)}"] if lost else [])


@ui.before_request
def check_origin():
    problem = guard.refusal(request)
    if problem:
        return render_template("ui/refused.html", problem=problem), 403
    return None


@ui.after_request
def headers(response):
    response.headers.update(guard.HEADERS)
    return response


@ui.errorhandler(EmulatorError)
def readable_error(exc: EmulatorError):
    return render_template("ui/error.html", message=exc.description, status=exc.status), exc.status


@ui.context_processor
def tenants_served():
    return {"several_tenants": len(store().scopes()) > 1, "scope": request.view_args.get("scope")
            if request.view_args else None, "runbook_url": current_app.config.get("RUNBOOK_URL")}


# ---------------------------------------------------------------------------------- tenants
@ui.get("/")
def tenants():
    scopes = store().scopes()
    if len(scopes) == 1:
        return redirect(url_for("ui.home", scope=scopes[0]))
    return page("tenants.html", title="Tenants", scopes=scopes)


@ui.get("/tenants/<scope>/")
def home(scope):
    tenant(scope)
    return page("home.html", title="Home", section="home")


# ---------------------------------------------------------------------------------- Users & Teams > Roles
@ui.get("/tenants/<scope>/roles")
def roles(scope):
    return page("roles.html", title="Roles", section="roles", roles=tenant(scope)["roles"])


@ui.get("/tenants/<scope>/roles/<name>")
def role(scope, name):
    found = find(tenant(scope)["roles"], "name", name, "role")
    return page("role.html", title=f"Role {name}", section="roles", role=found, groups=grouped())


@ui.post("/tenants/<scope>/roles/<name>")
def save_role(scope, name):
    before = find(tenant(scope)["roles"], "name", name, "role")["privileges"]
    chosen = request.form.getlist("privilege")
    try:
        after = store().put_role(store().tenant_id(scope), name, chosen)["privileges"]
    except EmulatorError as exc:
        return done("ui.role", f"Not saved: {exc.description}", error=True, scope=scope, name=name)
    return done("ui.role", f"Saved role '{name}': {'; '.join(changes(before, after)) or 'no change'}.",
                scope=scope, name=name)


# ---------------------------------------------------------------------------------- Users & Teams > Users
@ui.get("/tenants/<scope>/users")
def users(scope):
    return page("users.html", title="Users", section="users", users=tenant(scope)["users"])


@ui.get("/tenants/<scope>/users/<login_id>")
def user(scope, login_id):
    state = tenant(scope)
    found = find(state["users"], "loginId", login_id, "user")
    return page("user.html", title=f"User {login_id}", section="users", user=found,
                roles=[r["name"] for r in state["roles"]])


@ui.post("/tenants/<scope>/users/<login_id>")
def save_user(scope, login_id):
    before = find(tenant(scope)["users"], "loginId", login_id, "user")
    tid = store().tenant_id(scope)
    chosen = request.form.getlist("role")
    disabled = request.form.get("disabled") == "on"
    said = changes(before["roles"], chosen, added="added role", removed="removed role")
    try:
        store().set_user_roles(tid, login_id, chosen)
        if disabled != before["disabled"]:
            store().set_user_disabled(tid, login_id, disabled)
            said.append("disabled" if disabled else "enabled (no longer disabled)")
        # CCA can only clear a lock-out (the user locks themselves out); an unticked box clears it.
        if before["lockedOut"] and request.form.get("locked_out") != "on":
            store().set_lock(tid, login_id, False)
            said.append("lock-out cleared")
    except EmulatorError as exc:
        return done("ui.user", f"Not saved: {exc.description}", error=True, scope=scope, login_id=login_id)
    return done("ui.user", f"Saved user '{login_id}': {'; '.join(said) or 'no change'}.", scope=scope, login_id=login_id)


@ui.post("/tenants/<scope>/users/<login_id>/api-secret")
def generate_secret(scope, login_id):
    try:
        value = store().generate_api_secret(store().tenant_id(scope), login_id)
    except EmulatorError as exc:
        return done("ui.user", f"No API secret generated: {exc.description}", error=True, scope=scope, login_id=login_id)
    return done("ui.user", f"Generated a new API secret for '{login_id}'; any previous one no longer works.",
                secret=value, scope=scope, login_id=login_id)


# ---------------------------------------------------------------------------------- Services & Campaigns
@ui.get("/tenants/<scope>/services")
def services(scope):
    return page("services.html", title="Services & Campaigns", section="services", services=tenant(scope)["services"],
                e164=e164)


@ui.get("/tenants/<scope>/services/<name>")
def service(scope, name):
    state = tenant(scope)
    found = find(state["services"], "name", name, "chat service")
    sms_numbers = [n for n in state["access_numbers"] if n["media"] in SMS_MEDIA or n["number"] in found["outboundChatAccounts"]]
    return page("service.html", title=f"Chat service {name}", section="services", service=found, numbers=sms_numbers,
                media=MEDIA_LABELS, e164=e164)


@ui.post("/tenants/<scope>/services/<name>")
def save_service(scope, name):
    before = [e164(n) for n in find(tenant(scope)["services"], "name", name, "chat service")["outboundChatAccounts"]]
    try:
        after = store().put_service(store().tenant_id(scope), name, request.form.getlist("account"))["outboundChatAccounts"]
    except EmulatorError as exc:
        return done("ui.service", f"Not saved: {exc.description}", error=True, scope=scope, name=name)
    after = [e164(n) for n in after]
    summary = ", ".join(after) or "none"
    note = "" if before != after else " (no change)"
    return done("ui.service", f"Saved chat service '{name}': Outbound chat accounts {summary}{note}.", scope=scope, name=name)


# ---------------------------------------------------------------------------------- Directory > Access numbers
@ui.get("/tenants/<scope>/access-numbers")
def access_numbers(scope):
    return page("access_numbers.html", title="Access numbers", section="numbers", numbers=tenant(scope)["access_numbers"],
                media=MEDIA_LABELS, e164=e164)
