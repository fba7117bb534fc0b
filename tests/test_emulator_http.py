"""Layer 2: raw HTTP against the emulator's routes, every documented behaviour, quirk and status."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import requests

from emulator import EmulatorServer
from tests.support import (
    API_USER,
    BAD_SEEDS,
    SCOPE,
    SMS_NUMBER,
    SMS_ROLE,
)

TOKEN = "/configapi/v2/oauth/token"
MESSAGES = "/clientweb/smsapi/v1/Messages"


def token_form(client_id="admin", secret="x", scope=SCOPE, grant_type="client_credentials"):
    return {"grant_type": grant_type, "client_id": client_id, "client_secret": secret, "scope": scope}


def bearer(emulator, login_id, secret) -> dict:
    r = requests.post(emulator.url + TOKEN, data=token_form(login_id, secret))
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


@pytest.fixture
def admin_h(emulator, console):
    return bearer(emulator, "admin", console.generate_secret("admin"))


@pytest.fixture
def agent_h(emulator, console):
    """An agent: holds a role without any API privilege."""
    return bearer(emulator, "sheila.thomas", console.generate_secret("sheila.thomas"))


@pytest.fixture
def sms_h(emulator, console, admin_h):
    console.grant(SMS_ROLE)
    r = requests.post(emulator.url + "/configapi/v2/user", headers=admin_h,
                      json={"loginId": API_USER, "firstName": "API", "lastName": "SMS", "team": "Admins", "roles": [SMS_ROLE]})
    assert r.status_code == 200
    console.set_outbound("SMS Chat", [SMS_NUMBER])
    return bearer(emulator, API_USER, console.generate_secret(API_USER))


# ------------------------------------------------------------------ OAuth token
class TestToken:
    def test_success_matches_documented_shape(self, emulator, console):
        r = requests.post(emulator.url + TOKEN, data=token_form(secret=console.generate_secret("admin")))
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == "3600"  # quirk: a string
        assert body["scope"] == SCOPE
        assert len(body["access_token"]) == 64 and body["access_token"] == body["access_token"].upper()
        int(body["access_token"], 16)

    def test_expires_in_as_int_when_quirk_off(self, emulator, console):
        console.config(quirks={"expires_in_string": False}, token_lifetime=120)
        r = requests.post(emulator.url + TOKEN, data=token_form(secret=console.generate_secret("admin")))
        assert r.json()["expires_in"] == 120

    def test_v3_path_takes_the_same_request(self, emulator, console):
        r = requests.post(emulator.url + "/configapi/v3/oauth/token", data=token_form(secret=console.generate_secret("admin")))
        assert r.status_code == 200 and r.json()["token_type"] == "Bearer"

    @pytest.mark.parametrize("missing", ["grant_type", "client_id", "client_secret", "scope"])
    def test_missing_field_is_400_naming_it(self, emulator, missing):
        form = token_form()
        del form[missing]
        r = requests.post(emulator.url + TOKEN, data=form)
        assert r.status_code == 400
        assert missing in r.json()["error_description"]

    def test_wrong_grant_type_is_400(self, emulator, console):
        r = requests.post(emulator.url + TOKEN, data=token_form(secret=console.generate_secret("admin"), grant_type="password"))
        assert r.status_code == 400
        assert r.json()["error"] == "unsupported_grant_type"

    def test_json_body_is_415(self, emulator):
        r = requests.post(emulator.url + TOKEN, json=token_form())
        assert r.status_code == 415

    def test_whitespace_around_the_secret_is_ignored(self, emulator, console):
        """The published Get Access Token sample's client_secret ends with a newline and is answered 200."""
        secret = console.generate_secret("admin")
        for padded in (secret + "\n", " " + secret + "\r\n", "\t" + secret):
            assert requests.post(emulator.url + TOKEN, data=token_form(secret=padded)).status_code == 200
        r = requests.post(emulator.url + TOKEN, data=token_form(secret="\n"))
        assert (r.status_code, r.json()["error_description"]) == (400, "missing required field(s): client_secret")

    def test_bad_secret_is_401_with_oauth_envelope(self, emulator, console):
        console.generate_secret("admin")
        r = requests.post(emulator.url + TOKEN, data=token_form(secret="wrong"))
        assert r.status_code == 401
        assert r.json() == {"error": "invalid_client", "error_description": "invalid client ID or client secret"}

    def test_user_without_secret_cannot_get_token(self, emulator):
        r = requests.post(emulator.url + TOKEN, data=token_form(client_id="sheila.thomas", secret="anything"))
        assert r.status_code == 401

    def test_scope_must_match_a_tenant(self, emulator, console):
        r = requests.post(emulator.url + TOKEN, data=token_form(secret=console.generate_secret("admin"), scope="other.example.com"))
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_scope"

    def test_disabled_and_locked_users_are_refused(self, emulator, console):
        secret = console.generate_secret("admin")
        console.disable("admin")
        r = requests.post(emulator.url + TOKEN, data=token_form(secret=secret))
        assert (r.status_code, r.json()["error_description"]) == (401, "client is disabled")
        console.disable("admin", False)
        console.lock("admin")
        r = requests.post(emulator.url + TOKEN, data=token_form(secret=secret))
        assert (r.status_code, r.json()["error_description"]) == (401, "client is locked out")

    def test_regenerating_the_secret_revokes_the_old_one(self, emulator, console):
        old = console.generate_secret("admin")
        console.generate_secret("admin")
        assert requests.post(emulator.url + TOKEN, data=token_form(secret=old)).status_code == 401

    def test_tokens_expire_after_their_lifetime(self, clocked):
        emulator, clock, console = clocked
        console.config(token_lifetime=60)
        h = bearer(emulator, "admin", console.generate_secret("admin"))
        clock.advance(59.9)
        assert requests.get(emulator.url + "/configapi/v2/team", headers=h).status_code == 200
        clock.advance(0.2)
        r = requests.get(emulator.url + "/configapi/v2/team", headers=h)
        assert (r.status_code, r.json()["error_description"]) == (401, "access token expired")

    def test_token_is_bound_to_its_user(self, emulator, console, admin_h):
        console.disable("admin")
        assert requests.get(emulator.url + "/configapi/v2/team", headers=admin_h).status_code == 401


# ------------------------------------------------------------------ SMS/MMS API
class TestSms:
    def test_no_token_is_401(self, emulator):
        assert requests.get(emulator.url + MESSAGES + "/x").status_code == 401
        r = requests.get(emulator.url + MESSAGES + "/x", headers={"Authorization": "Bearer NOPE"})
        assert (r.status_code, r.json()["error"]) == (401, "invalid_token")

    def test_missing_privilege_is_403_naming_it(self, emulator, agent_h):
        r = requests.post(emulator.url + MESSAGES, headers=agent_h, json={"To": "+15551234567", "From": SMS_NUMBER, "Body": "x"})
        assert r.status_code == 403
        assert '"Use SMS/MMS API"' in r.json()["error_description"]

    def test_send_answers_the_documented_sample_shape(self, emulator, sms_h):
        r = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "+5219843111460", "From": SMS_NUMBER, "Body": "Test message 5"})
        assert r.status_code == 200
        m = r.json()
        assert set(m) == {"account_sid", "api_version", "body", "num_segments", "num_media", "date_created",
                          "date_sent", "date_updated", "direction", "error_code", "error_message", "from",
                          "price", "sid", "status", "to", "uri"}
        assert m["status"] == "queued" and m["direction"] == "outbound-api"
        assert m["account_sid"] == "2B699762-370C-4F76-A684-A85B5F93DF84"
        assert (m["api_version"], m["num_segments"], m["num_media"]) == ("1", "1", "0")
        assert m["date_sent"] is None and m["price"] is None and m["error_code"] is None
        assert m["from"] == "16502505674" and m["to"] == "+5219843111460"
        assert m["uri"] == f"/clientweb/smsapi/v1/Messages/{m['sid']}"
        assert m["date_created"].endswith("+0000") and m["date_created"][3:5] == ", "
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert r.headers["Access-Control-Allow-Methods"] == "GET, POST, DELETE, PUT"

    def test_get_progresses_to_delivered_with_sid_null_quirk(self, emulator, sms_h):
        sid = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "+15551234567", "From": SMS_NUMBER, "Body": "hi"}).json()["sid"]
        seen = [requests.get(f"{emulator.url}{MESSAGES}/{sid}", headers=sms_h).json() for _ in range(3)]
        assert [m["status"] for m in seen] == ["sent", "delivered", "delivered"]
        assert all(m["sid"] is None for m in seen)
        assert seen[0]["date_sent"] is not None
        assert seen[-1]["uri"].endswith(sid)

    def test_sid_is_returned_when_quirk_off(self, emulator, console, sms_h):
        console.config(quirks={"get_message_sid_null": False})
        sid = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "+15551234567", "From": SMS_NUMBER, "Body": "hi"}).json()["sid"]
        assert requests.get(f"{emulator.url}{MESSAGES}/{sid}", headers=sms_h).json()["sid"] == sid

    def test_num_segments_quirk_and_real_count(self, emulator, console, sms_h):
        body = {"To": "+15551234567", "From": SMS_NUMBER, "Body": "x" * 400}
        assert requests.post(emulator.url + MESSAGES, headers=sms_h, json=body).json()["num_segments"] == "1"
        console.config(quirks={"num_segments_one": False})
        assert requests.post(emulator.url + MESSAGES, headers=sms_h, json=body).json()["num_segments"] == "3"

    @pytest.mark.parametrize("mode,reads_to_final", [("immediate", 1), ("reads", 4)])
    def test_progression_modes(self, emulator, console, sms_h, mode, reads_to_final):
        console.config(progression={"mode": mode, "reads": 2})
        sid = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "+15551234567", "From": SMS_NUMBER, "Body": "hi"}).json()["sid"]
        statuses = [requests.get(f"{emulator.url}{MESSAGES}/{sid}", headers=sms_h).json()["status"] for _ in range(reads_to_final)]
        assert statuses[-1] == "delivered"
        assert statuses.count("delivered") == 1

    def test_progression_by_seconds(self, clocked):
        emulator, clock, console = clocked
        console.config(progression={"mode": "seconds", "seconds": 5})
        console.grant("SMS API")
        console.set_outbound("SMS Chat", [SMS_NUMBER])
        h = bearer(emulator, "admin", console.generate_secret("admin"))
        sid = requests.post(emulator.url + MESSAGES, headers=h, json={"To": "+15551234567", "From": SMS_NUMBER, "Body": "hi"}).json()["sid"]
        statuses = []
        for step in (0, 4.9, 0.2, 5.0):
            clock.advance(step)
            statuses.append(requests.get(f"{emulator.url}{MESSAGES}/{sid}", headers=h).json()["status"])
        assert statuses == ["queued", "queued", "sent", "delivered"]

    @pytest.mark.parametrize("to,code,text", [("+15005550001", "30003", "Unreachable destination handset"),
                                              ("+15005550009", "30006", "Landline or unreachable carrier")])
    def test_documented_failing_destinations(self, emulator, sms_h, to, code, text):
        sid = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": to, "From": SMS_NUMBER, "Body": "hi"}).json()["sid"]
        m = requests.get(f"{emulator.url}{MESSAGES}/{sid}", headers=sms_h).json()
        assert (m["status"], m["error_code"], m["error_message"]) == ("failed", code, text)

    def test_mms_never_reaches_delivered(self, emulator, console, sms_h):
        console.config(progression={"mode": "immediate"})
        r = requests.post(emulator.url + MESSAGES, headers=sms_h,
                          json={"To": "+15551234567", "From": SMS_NUMBER, "MediaURLs": ["https://example.com/a.png"]})
        assert r.status_code == 200 and r.json()["num_media"] == "1"
        assert requests.get(f"{emulator.url}{MESSAGES}/{r.json()['sid']}", headers=sms_h).json()["status"] == "sent"

    def test_both_media_spellings_and_form_variant(self, emulator, sms_h):
        url = "https://example.com/a.png"
        j = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "+15551234567", "From": SMS_NUMBER, "MediaUrls": [url, url]})
        assert j.json()["num_media"] == "2"
        form = {"To": "+15551234567", "From": SMS_NUMBER, "Body": "hi", **{f"MediaUrl{i}": url for i in range(3)}}
        f = requests.post(emulator.url + MESSAGES, headers=sms_h, data=form)
        assert f.status_code == 200 and f.json()["num_media"] == "3"
        single = requests.post(emulator.url + MESSAGES, headers=sms_h, data={"To": "+15551234567", "From": SMS_NUMBER, "MediaUrl": url})
        assert single.json()["num_media"] == "1"

    def test_more_than_ten_media_is_400(self, emulator, sms_h):
        r = requests.post(emulator.url + MESSAGES, headers=sms_h,
                          json={"To": "+15551234567", "From": SMS_NUMBER, "MediaURLs": ["https://e.com/x"] * 11})
        assert (r.status_code, r.json()["error_description"]) == (400, "at most 10 media URLs are allowed")

    @pytest.mark.parametrize("body,expected", [
        ({"From": SMS_NUMBER, "Body": "x"}, "missing required parameter: To"),
        ({"To": "+15551234567", "Body": "x"}, "missing required parameter: From"),
        ({"To": "+15551234567", "From": SMS_NUMBER}, "missing required parameter: Body"),
        ({"To": "5551234", "From": SMS_NUMBER, "Body": "x"}, "To must be an E.164 number"),
        ({"To": "+15551234567", "From": "ACME", "Body": "x"}, "alphanumeric sender IDs are not supported"),
        ({"To": "+15551234567", "From": "+14155550101", "Body": "x"}, "is not a text-out access number"),
        ({"To": "+15551234567", "From": SMS_NUMBER, "Body": "x" * 1601}, "longer than 1600"),
    ])
    def test_bad_send_requests_are_400_saying_why(self, emulator, sms_h, body, expected):
        r = requests.post(emulator.url + MESSAGES, headers=sms_h, json=body)
        assert r.status_code == 400
        assert expected in r.json()["error_description"]

    def test_from_must_be_an_outbound_chat_account(self, emulator, console, sms_h):
        console.set_outbound("SMS Chat", [])
        r = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "+15551234567", "From": SMS_NUMBER, "Body": "x"})
        assert r.status_code == 400 and "outbound chat account" in r.json()["error_description"]

    def test_messenger_addresses(self, emulator, sms_h):
        ok = requests.post(emulator.url + MESSAGES, headers=sms_h, json={
            "To": "whatsapp:5552223456", "From": "whatsapp:76BD05F0-FB19-4C3A-BA7C-30150B8D9826", "Body": "hi"})
        assert ok.status_code == 200 and ok.json()["to"] == "whatsapp:5552223456"
        bad = requests.post(emulator.url + MESSAGES, headers=sms_h, json={
            "To": "+15551234567", "From": "whatsapp:76BD05F0-FB19-4C3A-BA7C-30150B8D9826", "Body": "hi"})
        assert bad.status_code == 400

    def test_wrong_content_type_is_415(self, emulator, sms_h):
        r = requests.post(emulator.url + MESSAGES, headers={**sms_h, "Content-Type": "text/plain"}, data="To=+1")
        assert r.status_code == 415

    def test_unknown_sid_is_404(self, emulator, sms_h):
        r = requests.get(f"{emulator.url}{MESSAGES}/nope", headers=sms_h)
        assert (r.status_code, r.json()) == (404, {"error": "not_found", "error_description": "message 'nope' not found"})

    @pytest.mark.parametrize("status,error", [(400, "invalid_request"), (401, "invalid_token"), (403, "access_denied"),
                                              (500, "server_error"), (503, "server_error")])
    def test_unknown_sid_answer_is_a_setting(self, emulator, console, sms_h, status, error):
        """The documentation is silent: the runbook's privilege probe must cope with any plausible answer."""
        assert console.config(unknown_message={"status": status})["unknown_message"] == {"status": status}
        r = requests.get(f"{emulator.url}{MESSAGES}/nope", headers=sms_h)
        assert (r.status_code, r.json()) == (status, {"error": error, "error_description": "message 'nope' not found"})
        known = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "+15551234567", "From": SMS_NUMBER, "Body": "hi"})
        assert requests.get(f"{emulator.url}{MESSAGES}/{known.json()['sid']}", headers=sms_h).status_code == 200

    def test_unknown_sid_answered_200_with_a_message_shaped_object(self, emulator, console, sms_h):
        console.config(unknown_message={"status": 200})
        r = requests.get(f"{emulator.url}{MESSAGES}/nope", headers=sms_h)
        sent = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "+15551234567", "From": SMS_NUMBER, "Body": "hi"})
        assert r.status_code == 200 and list(r.json()) == list(sent.json())  # the documented fields, in order
        assert (r.json()["status"], r.json()["sid"], r.json()["uri"]) == ("failed", None, "/clientweb/smsapi/v1/Messages/nope")

    @pytest.mark.parametrize("value", [302, 99, "404", True, None])
    def test_unknown_message_status_must_be_200_or_an_error_status(self, emulator, value):
        r = requests.put(emulator.url + "/_emulator/config", json={"unknown_message": {"status": value}})
        assert r.status_code == 400 and "unknown_message.status must be 200 or an HTTP error status" in r.json()["error_description"]

    @pytest.mark.parametrize("to", ["16046496025", "+5219843111460", "+16046496025"])
    def test_to_with_or_without_plus_is_accepted_and_echoed(self, emulator, sms_h, to):
        """The samples send To "16046496025" (bare digits) and "+5219843111460": both answered 200, echoed as sent."""
        r = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": to, "From": "16502505674", "Body": "x"})
        assert (r.status_code, r.json()["to"], r.json()["from"]) == (200, to, "16502505674")

    def test_bare_digit_test_destination_keeps_its_outcome(self, emulator, sms_h):
        sid = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "15005550001", "From": SMS_NUMBER, "Body": "x"}).json()["sid"]
        assert requests.get(f"{emulator.url}{MESSAGES}/{sid}", headers=sms_h).json()["error_code"] == "30003"

    def test_messages_need_the_privilege_to_be_read(self, emulator, console, sms_h, agent_h):
        sid = requests.post(emulator.url + MESSAGES, headers=sms_h, json={"To": "+15551234567", "From": SMS_NUMBER, "Body": "hi"}).json()["sid"]
        assert requests.get(f"{emulator.url}{MESSAGES}/{sid}", headers=agent_h).status_code == 403

    def test_seeded_text_out_number_works_at_once(self, emulator, admin_h):
        """Right after start, the admin can send from the documented sample number and see it delivered."""
        sid = requests.post(emulator.url + MESSAGES, headers=admin_h,
                            json={"To": "+15551234567", "From": "+14151234567", "Body": "hi"}).json()["sid"]
        statuses = [requests.get(f"{emulator.url}{MESSAGES}/{sid}", headers=admin_h).json()["status"] for _ in range(2)]
        assert statuses == ["sent", "delivered"]
        numbers = requests.get(emulator.url + "/configapi/v2/phone/ext", headers=admin_h).json()
        assert next(n for n in numbers if n["number"] == "14151234567") == {
            "number": "14151234567", "media": "voice_text", "type": "scenario", "scenario": "Queue to agent",
            "textOutService": "Maintenance renewal SMS"}  # the documented sample row

    def test_set_msg_receiver(self, emulator, console, sms_h):
        r = requests.post(emulator.url + "/clientweb/smsapi/v1/SetMsgReceiver", headers=sms_h,
                          json={"url": "https://app.example.com/sms", "number": SMS_NUMBER})
        assert r.status_code == 200
        assert console.tenant_state()["receivers"] == [{"number": "16502505674", "url": "https://app.example.com/sms"}]
        missing = requests.post(emulator.url + "/clientweb/smsapi/v1/SetMsgReceiver", headers=sms_h, json={"url": "https://a.b/c"})
        assert missing.status_code == 400
        unknown = requests.post(emulator.url + "/clientweb/smsapi/v1/SetMsgReceiver", headers=sms_h,
                                json={"url": "https://a.b/c", "number": "+19999999999"})
        assert unknown.status_code == 404


# ------------------------------------------------------------------ Configuration API
class TestConfigApi:
    USER = {"loginId": "new.user", "firstName": "New", "lastName": "User", "team": "Admins"}

    def test_create_answers_ok_labelled_json_as_documented(self, emulator, admin_h):
        r = requests.post(emulator.url + "/configapi/v2/user", headers=admin_h, json={**self.USER, "roles": ["Agent"]})
        assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, b"OK", "application/json")

    def test_create_answers_json_when_quirk_off(self, emulator, console, admin_h):
        console.config(quirks={"plain_text_ok": False})
        r = requests.post(emulator.url + "/configapi/v2/user", headers=admin_h, json=self.USER)
        assert r.json() == {"result": "OK"}

    @pytest.mark.parametrize("change,status,text", [
        ({"team": "Nope"}, 404, "user team not found"),
        ({"roles": ["Nope"]}, 404, "role not found: Nope"),
        ({"firstName": ""}, 400, "missing required property: firstName"),
        ({"apiSecret": "x"}, 400, "unsupported property: apiSecret"),
        ({"password": "abc"}, 400, "security policy"),
        ({"loginId": "admin"}, 409, "already exists"),
    ])
    def test_create_errors(self, emulator, admin_h, change, status, text):
        r = requests.post(emulator.url + "/configapi/v2/user", headers=admin_h, json={**self.USER, **change})
        assert r.status_code == status
        assert text in r.json()["error_description"]

    def test_create_without_json_is_415(self, emulator, admin_h):
        r = requests.post(emulator.url + "/configapi/v2/user", headers=admin_h, data="loginId=x")
        assert r.status_code == 415

    def test_get_user_answers_documented_fields_only_in_the_samples_order(self, emulator, admin_h):
        url = emulator.url + "/configapi/v2/user/"
        sheila = requests.get(url + "sheila.thomas", headers=admin_h).json()
        assert list(sheila) == ["disabled", "changePassword", "skills", "loginId", "firstName", "lastName", "team",
                                "extension", "workPhone", "roles", "loginInfo"]  # no empty mobilePhone or email
        admin = requests.get(url + "admin", headers=admin_h).json()
        assert "workPhone" not in admin and admin["email"] == "admin@example.com"

    def test_get_user_has_roles_and_login_info_but_no_password(self, emulator, admin_h):
        requests.post(emulator.url + "/configapi/v2/user", headers=admin_h, json={**self.USER, "password": "s3cret-pass", "roles": ["Agent"]})
        u = requests.get(emulator.url + "/configapi/v2/user/new.user", headers=admin_h).json()
        assert "password" not in u and "s3cret-pass" not in str(u)
        assert u["roles"] == ["Agent"] and u["extension"] == "1002"
        assert set(u["loginInfo"]) >= {"isLoggedIn", "lastLogin", "lastLogout", "browser", "appVersion"}

    def test_update_documented_fields_only_roles_refused(self, emulator, admin_h):
        url = emulator.url + "/configapi/v2/user/sheila.thomas"
        assert requests.put(url, headers=admin_h, json={"disabled": "true", "skills": {"Spanish": 80}, "team": "Admins"}).text == "OK"
        u = requests.get(url, headers=admin_h).json()
        assert (u["disabled"], u["skills"], u["team"]) == (True, {"Spanish": 80}, "Admins")
        r = requests.put(url, headers=admin_h, json={"roles": ["Administrator"]})
        assert (r.status_code, r.json()["error_description"]) == (400, "property cannot be updated: roles")
        assert requests.get(url, headers=admin_h).json()["roles"] == ["Agent"]

    def test_delete_then_404(self, emulator, admin_h):
        url = emulator.url + "/configapi/v2/user/sheila.thomas"
        assert requests.delete(url, headers=admin_h).text == "OK"
        assert requests.get(url, headers=admin_h).status_code == 404
        assert requests.delete(url, headers=admin_h).status_code == 404

    def test_lock_state_get_and_clear(self, emulator, console, admin_h):
        url = emulator.url + "/configapi/v2/user/lock/sheila.thomas"
        assert requests.get(url, headers=admin_h).json() == {"lockedOut": False}
        console.lock("sheila.thomas")
        assert requests.get(url, headers=admin_h).json() == {"lockedOut": True}
        assert requests.put(url, headers=admin_h).json() == {"lockedOut": False}

    def test_teams_and_directory(self, emulator, admin_h):
        assert requests.get(emulator.url + "/configapi/v2/team", headers=admin_h).json() == [{"name": "Admins"}, {"name": "Customer Service"}]
        directory = requests.get(emulator.url + "/configapi/v2/phone/user", headers=admin_h).json()
        sheila = next(d for d in directory if d["loginId"] == "sheila.thomas")
        assert sheila == {"extension": "1001", "loginId": "sheila.thomas", "firstName": "Sheila", "lastName": "Thomas",
                          "voiceMail": False, "greeting": False, "external": "14155550101"}

    def test_access_numbers_reflect_chat_service_assignment(self, emulator, console, admin_h):
        def sms_number():
            items = requests.get(emulator.url + "/configapi/v2/phone/ext", headers=admin_h).json()
            return next(i for i in items if i["number"] == "16502505674")
        assert sms_number() == {"number": "16502505674", "media": "text", "type": "unassigned"}
        console.set_outbound("SMS Chat", [SMS_NUMBER])
        assert sms_number() == {"number": "16502505674", "media": "text", "type": "text-out", "textOutService": "SMS Chat"}
        console.config(report_text_out_type=False)  # the documented sample's combination
        assert sms_number()["type"] == "unassigned" and sms_number()["textOutService"] == "SMS Chat"

    def test_voice_only_number_cannot_become_outbound_chat_account(self, emulator):
        r = requests.put(emulator.url + "/_emulator/tenants/example.brightpattern.com/services/SMS Chat",
                         json={"outboundChatAccounts": ["1234567897"]})
        assert r.status_code == 400 and "not SMS-capable" in r.json()["error_description"]

    def test_privileges_are_enforced(self, emulator, console):
        h = bearer(emulator, "sheila.thomas", console.generate_secret("sheila.thomas"))
        for path in ("/user/admin", "/team", "/phone/ext", "/phone/user"):
            r = requests.get(emulator.url + "/configapi/v2" + path, headers=h)
            assert r.status_code == 403, path
        assert '"Manage phones"' in requests.get(emulator.url + "/configapi/v2/phone/ext", headers=h).json()["error_description"]

    def test_wrong_endpoint_is_500_quirk(self, emulator, admin_h):
        r = requests.get(emulator.url + "/configapi/v2/users", headers=admin_h)
        assert r.status_code == 500 and "wrong endpoint" in r.json()["error_description"]

    def test_wrong_method_is_405(self, emulator, admin_h):
        assert requests.patch(emulator.url + "/configapi/v2/team", headers=admin_h).status_code == 405
        assert requests.post(emulator.url + "/configapi/v2/phone/ext", headers=admin_h).status_code == 405


# ------------------------------------------------------------------ console
class TestConsole:
    def test_api_secret_is_shown_once_and_never_in_state(self, emulator, console):
        secret = console.generate_secret("admin")
        assert len(secret) == 64 and secret.isalnum()
        state = console.state()
        assert secret not in str(state)
        admin = next(u for u in state["tenants"][0]["users"] if u["loginId"] == "admin")
        assert admin["hasApiSecret"] is True

    def test_reset_restores_the_seed(self, emulator, console):
        console.grant(SMS_ROLE)
        console.reset()
        role = next(r for r in console.tenant_state()["roles"] if r["name"] == SMS_ROLE)
        assert role["privileges"] == []

    def test_unknown_privilege_and_setting_are_refused(self, emulator):
        r = requests.post(emulator.url + f"/_emulator/tenants/{SCOPE}/roles/{SMS_ROLE}/privileges", json={"privilege": "Fly"})
        assert r.status_code == 400 and "unknown privilege" in r.json()["error_description"]
        r = requests.put(emulator.url + "/_emulator/config", json={"quirks": {"nope": True}})
        assert r.status_code == 400 and "quirks.nope" in r.json()["error_description"]

    @pytest.mark.parametrize("value", ["false", "true", 0, 1, None, "no"])
    def test_switches_take_only_json_booleans(self, emulator, console, value):
        """bool("false") is True: a string (or a number, or null) is refused, never read as its truthiness."""
        base = f"{emulator.url}/_emulator/tenants/{SCOPE}"
        calls = [(f"/roles/{SMS_ROLE}/privileges", {"privilege": "Use SMS/MMS API", "granted": value}, "granted"),
                 ("/users/sheila.thomas/lock", {"lockedOut": value}, "lockedOut"),
                 ("/users/sheila.thomas/disabled", {"disabled": value}, "disabled")]
        for path, body, name in calls:
            r = requests.post(base + path, json=body, timeout=10)
            assert r.status_code == 400, (path, r.text)
            assert r.json()["error_description"].startswith(f"{name} must be true or false"), r.text
        state = console.tenant_state()
        assert next(r for r in state["roles"] if r["name"] == SMS_ROLE)["privileges"] == []
        sheila = next(u for u in state["users"] if u["loginId"] == "sheila.thomas")
        assert (sheila["lockedOut"], sheila["disabled"]) == (False, False)

    def test_switches_default_to_true_and_take_false(self, emulator, console):
        base = f"{emulator.url}/_emulator/tenants/{SCOPE}"
        assert requests.post(base + f"/roles/{SMS_ROLE}/privileges", json={"privilege": "Use SMS/MMS API"},
                             timeout=10).json()["privileges"] == ["Use SMS/MMS API"]
        assert console.grant(SMS_ROLE, granted=False)["privileges"] == []
        assert requests.post(base + "/users/sheila.thomas/lock", json={}, timeout=10).json() == {"lockedOut": True}
        assert console.lock("sheila.thomas", locked=False) == {"lockedOut": False}
        assert requests.post(base + "/users/sheila.thomas/disabled", json={}, timeout=10).json()["disabled"] is True
        assert console.disable("sheila.thomas", disabled=False)["disabled"] is False

    def test_roles_can_change_in_the_console_only(self, emulator, console, admin_h):
        console.set_roles("sheila.thomas", ["Agent", SMS_ROLE])
        u = requests.get(emulator.url + "/configapi/v2/user/sheila.thomas", headers=admin_h).json()
        assert u["roles"] == ["Agent", SMS_ROLE]

    def test_journal_redacts_the_client_secret(self, emulator, console):
        secret = console.generate_secret("admin")
        requests.post(emulator.url + TOKEN, data=token_form(secret=secret))
        entry = console.requests()[-1]
        assert entry["path"] == TOKEN and entry["body"]["client_secret"] == "***"
        assert secret not in str(console.requests())

    def test_injected_status_and_rate_limit(self, emulator, console, admin_h):
        console.fault(kind="status", status=503, count=1, path_prefix="/configapi/v2/team")
        console.fault(kind="rate_limit", retry_after=7, count=1, path_prefix="/configapi/v2/team")
        first = requests.get(emulator.url + "/configapi/v2/team", headers=admin_h)
        second = requests.get(emulator.url + "/configapi/v2/team", headers=admin_h)
        third = requests.get(emulator.url + "/configapi/v2/team", headers=admin_h)
        assert first.status_code == 503
        assert (second.status_code, second.headers["Retry-After"]) == (429, "7")
        assert third.status_code == 200

    def test_dropped_connection_after_processing(self, emulator, console, admin_h):
        console.fault(kind="drop", count=1, path_prefix="/configapi/v2/user", method="POST")
        with pytest.raises(requests.ConnectionError):
            requests.post(emulator.url + "/configapi/v2/user", headers=admin_h, json=TestConfigApi.USER)
        assert any(u["loginId"] == "new.user" for u in console.tenant_state()["users"])

    def test_latency(self, emulator, console, admin_h):
        console.fault(kind="latency", seconds=0.3, count=1)
        started = time.monotonic()
        requests.get(emulator.url + "/configapi/v2/team", headers=admin_h)
        assert time.monotonic() - started >= 0.3

    def test_expire_all_tokens(self, emulator, console, admin_h):
        assert console.expire_tokens()["expired"] >= 1
        assert requests.get(emulator.url + "/configapi/v2/team", headers=admin_h).status_code == 401

    def test_bad_fault_spec_is_400(self, emulator):
        r = requests.post(emulator.url + "/_emulator/faults", json={"kind": "earthquake"})
        assert r.status_code == 400 and "fault kind" in r.json()["error_description"]


def test_python_m_emulator_serves_what_it_explains(tmp_path):
    """The printed instructions work: admin secret, token, send from the seeded text-out number, delivered."""
    import re
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not lines or ('"Body"' not in lines[-1] and lines[-1]):  # the banner ends with the send example
            lines.append(proc.stdout.readline())
        banner = "".join(lines)
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner).group(1)
        assert f"tenants (scope):      {SCOPE}" in banner
        secret_call = re.search(r"curl -s -X POST (\S+/api-secret)", banner).group(1)
        secret = requests.post(secret_call, timeout=5).json()["apiSecret"]
        token = requests.post(url + TOKEN, data=token_form("admin", secret)).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        assert '"From": "+14151234567"' in banner
        sid = requests.post(url + MESSAGES, headers=h, json={"To": "+15551234567", "From": "+14151234567", "Body": "hi"}).json()["sid"]
        assert [requests.get(f"{url}{MESSAGES}/{sid}", headers=h).json()["status"] for _ in range(2)] == ["sent", "delivered"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_db_file_keeps_the_practice_tenant_across_restarts(tmp_path):
    from emulator import Store
    db = tmp_path / "practice.db"
    first = Store(db_path=db)
    tid = first.tenant_id(SCOPE)
    first.set_privilege(tid, SMS_ROLE, "Use SMS/MMS API", True)
    secret = first.generate_api_secret(tid, "admin")
    again = Store(db_path=db)  # a restart: the file is reused, not re-seeded
    assert next(r for r in again.roles(tid) if r["name"] == SMS_ROLE)["privileges"] == ["Use SMS/MMS API"]
    assert again.issue_token(token_form("admin", secret))["token_type"] == "Bearer"


def test_seeds_by_name_or_path(tmp_path):
    from emulator.store import DEFAULT_SEED, SeedError, resolve_seed

    docs = resolve_seed("docs")
    assert resolve_seed(None) == resolve_seed("default") == DEFAULT_SEED and DEFAULT_SEED.is_file()
    assert resolve_seed(Path("docs")) == docs and docs.name == "docs.yaml"  # the runner passes a Path
    own = tmp_path / "mine.yaml"
    own.write_text("tenants: [{scope: mine.example.com}]\n")
    assert resolve_seed(str(own)) == resolve_seed(own) == own
    assert resolve_seed({"tenants": []}) == {"tenants": []}
    with pytest.raises(SeedError, match=r"seed 'nope' is neither a built-in seed \(default, docs, fleet\) nor an existing YAML file"):
        resolve_seed("nope")
    with EmulatorServer(seed=Path("docs")) as server:
        assert server.store.scopes() == ["yourcompany.brightpattern.com"]
        assert server.store.config()["progression"]["mode"] == "immediate"


def test_a_seed_sets_the_unknown_message_answer_and_bad_settings_are_named(tmp_path):
    from emulator import Store
    from emulator.store import SeedError

    store = Store(seed={"config": {"unknown_message": {"status": 500}}, "tenants": [{"scope": "a.example.com"}]})
    assert store.config()["unknown_message"] == {"status": 500}
    bad = tmp_path / "bad.yaml"
    bad.write_text("config: {unknown_message: {status: 302}}\ntenants: []\n")
    with pytest.raises(SeedError, match=r"bad.yaml', config: unknown_message.status must be 200 or an HTTP error status"):
        Store(seed=bad)
    bad.write_text("config: {quirk: {}}\ntenants: []\n")
    with pytest.raises(SeedError, match="unknown emulator setting"):
        Store(seed=bad)


def test_python_m_emulator_seed_by_name():
    """`--seed docs` serves the samples' tenant and its banner sends from that tenant's text-out number."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", "--quiet", "--seed", "docs"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not lines or ('"Body"' not in lines[-1] and lines[-1]):
            lines.append(proc.stdout.readline())
        banner = "".join(lines)
        assert "tenants (scope):      yourcompany.brightpattern.com" in banner and '"From": "+16502505674"' in banner
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "emulator", "--port", "0", "--seed", "nope"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2
    assert "error: --seed: seed 'nope' is neither a built-in seed (default, docs, fleet) nor an existing YAML file" in bad.stderr


# Seed files with one bad entry each, and what the error must say (the seed, tenant, kind and number of
# the entry, the problem, the fix). Also used by tests/test_run_ends_badly.py for the runner's --emulator-seed.
@pytest.mark.parametrize("case", sorted(BAD_SEEDS))
def test_python_m_emulator_names_the_bad_seed_entry_in_one_line(tmp_path, case):
    import subprocess

    text, message = BAD_SEEDS[case]
    seed = tmp_path / f"{case}.yaml"
    seed.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "emulator", "--port", "0", "--seed", str(seed)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"error: --seed: seed '{seed}': {message}"), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and "--db" not in proc.stderr


class ManualClock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clocked():
    """An emulator of its own whose time moves only when the test says so."""
    from tests.support import Console

    clock = ManualClock()
    with EmulatorServer(clock=clock) as server:
        yield server, clock, Console(server.url)


@pytest.mark.parametrize("args,message", [
    (["--db", "{tmp}/no/such/folder/state.db"], "error: --db: "),
    (["--db", "{tmp}/garbage.db"], "file is not a database"),
    (["--port", "99999"], "argument --port: must be from 0 to 65535"),
    (["--port", "eighty"], "argument --port: is not a number"),
])
def test_python_m_emulator_refuses_bad_options_in_one_line(tmp_path, args, message):
    import subprocess

    (tmp_path / "garbage.db").write_bytes(b"not a database at all" * 100)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = subprocess.run([sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
