"""Tenant API routes: parse the request, call the store, serialise the answer. No rules here."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .errors import BadRequest, UnsupportedMediaType
from .store import MANAGE_PHONES, MANAGE_USERS, USE_SMS_API, Store

oauth = Blueprint("oauth", __name__)
sms = Blueprint("sms", __name__, url_prefix="/clientweb/smsapi/v1")
config = Blueprint("config", __name__, url_prefix="/configapi/v2")

SMS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, PUT",
    "Access-Control-Allow-Headers": "Content-Type",
}


def store() -> Store:
    return current_app.config["STORE"]


def bearer() -> tuple[int, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return store().authenticate(token.strip() if scheme.lower() == "bearer" else None)


def require_json() -> dict:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def ok_text():
    # Documented (Postman saved examples): the two characters OK, labelled application/json.
    if store().quirk("plain_text_ok"):
        return Response("OK", status=200, content_type="application/json")
    return jsonify({"result": "OK"})


# ---------------------------------------------------------------- OAuth token (both API versions)
@oauth.post("/configapi/v2/oauth/token")
@oauth.post("/configapi/v3/oauth/token")
def token():
    if request.mimetype != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("Content-Type must be application/x-www-form-urlencoded")
    return jsonify(store().issue_token(request.form.to_dict()))


# ---------------------------------------------------------------- SMS/MMS API
@sms.after_request
def cors(response):
    response.headers.update(SMS_HEADERS)
    return response


def _sms_user() -> int:
    tid, login = bearer()
    store().require_privilege(tid, login, USE_SMS_API)
    return tid


@sms.post("/Messages")
def send_message():
    tid = _sms_user()
    if request.mimetype == "application/json":
        body = require_json()
        media = body.get("MediaURLs", body.get("MediaUrls")) or []  # both spellings are documented
        if isinstance(media, str):
            media = [media]
        if not isinstance(media, list):
            raise BadRequest("MediaURLs must be an array of URLs")
    elif request.mimetype == "application/x-www-form-urlencoded":
        body = request.form.to_dict()
        media = request.form.getlist("MediaUrl") + [request.form[f"MediaUrl{i}"] for i in range(10)
                                                    if f"MediaUrl{i}" in request.form]
        if any(k.startswith("MediaUrl") and k not in ("MediaUrl", *[f"MediaUrl{i}" for i in range(10)])
               for k in request.form):
            raise BadRequest("at most 10 media URLs are allowed (MediaUrl0 to MediaUrl9)")
    else:
        raise UnsupportedMediaType("Content-Type must be application/json or application/x-www-form-urlencoded")
    for field in ("To", "From", "Body"):
        if field in body and body[field] is not None and not isinstance(body[field], str):
            raise BadRequest(f"{field} must be a string")
    message = store().send_message(tid, (body.get("To") or "").strip(), (body.get("From") or "").strip(),
                                   body.get("Body"), media, body.get("StatusCallback"))
    return jsonify(message)


@sms.get("/Messages/<sid>")
def get_message(sid):
    tid = _sms_user()
    return jsonify(store().get_message(tid, sid))


@sms.post("/SetMsgReceiver")
def set_msg_receiver():
    tid = _sms_user()
    body = require_json()
    return jsonify(store().set_msg_receiver(tid, body.get("url") or "", body.get("number") or ""))


# ---------------------------------------------------------------- Configuration API
def _admin(privilege: str) -> int:
    tid, login = bearer()
    store().require_privilege(tid, login, privilege)
    return tid


@config.post("/user")
def create_user():
    tid = _admin(MANAGE_USERS)
    store().create_user(tid, require_json())
    return ok_text()


@config.get("/user/<login_id>")
def get_user(login_id):
    return jsonify(store().get_user(_admin(MANAGE_USERS), login_id))


@config.put("/user/<login_id>")
def update_user(login_id):
    tid = _admin(MANAGE_USERS)
    store().update_user(tid, login_id, require_json())
    return ok_text()


@config.delete("/user/<login_id>")
def delete_user(login_id):
    store().delete_user(_admin(MANAGE_USERS), login_id)
    return ok_text()


@config.get("/user/lock/<login_id>")
def get_lock(login_id):
    return jsonify({"lockedOut": store().lock_state(_admin(MANAGE_USERS), login_id)})


@config.put("/user/lock/<login_id>")
def clear_lock(login_id):
    return jsonify({"lockedOut": store().set_lock(_admin(MANAGE_USERS), login_id, False)})


@config.get("/team")
def teams():
    return jsonify(store().teams(_admin(MANAGE_USERS)))


@config.get("/phone/user")
def phone_users():
    return jsonify(store().phone_users(_admin(MANAGE_PHONES)))


@config.get("/phone/ext")
def access_numbers():
    return jsonify(store().access_numbers(_admin(MANAGE_PHONES)))


@config.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def wrong_endpoint(rest):
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in ("GET", "POST", "PUT", "DELETE"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "config.wrong_endpoint":  # the path exists, the method does not (wiki 5.2: 405)
            return jsonify({"error": "method_not_allowed",
                            "error_description": f"{request.method} is not allowed on {request.path}"}), 405
    # Documented quirk (Postman): a wrong Configuration API endpoint answers 500, not 404.
    return jsonify({"error": "server_error", "error_description": f"wrong endpoint: /configapi/v2/{rest}"}), 500
