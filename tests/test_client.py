"""Layer 1 and 3: the helpers client against the emulator over HTTP, and its errors."""

from __future__ import annotations

import pytest

from helpers.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from helpers.safety.secrets import Secret
from tests.support import API_USER, SMS_NUMBER, SMS_ROLE, make_client


class TestTokens:
    def test_token_is_cached_until_near_expiry(self, admin):
        first = admin.tokens.token()
        second = admin.tokens.token()
        assert first is second
        assert admin.tokens.requests_made == 1
        assert first.expires_in == 3600 and first.token_type == "Bearer"

    def test_token_near_expiry_is_renewed(self, emulator, console):
        console.config(token_lifetime=30)  # below the 60 s refresh margin: never reused
        client = make_client(emulator, "admin", console.generate_secret("admin"))
        client.teams.names()
        client.teams.names()
        assert client.tokens.requests_made == 2

    def test_int_expires_in_is_accepted(self, emulator, console):
        console.config(quirks={"expires_in_string": False}, token_lifetime=900)
        client = make_client(emulator, "admin", console.generate_secret("admin"))
        assert client.tokens.token().expires_in == 900

    def test_refreshes_once_on_401(self, admin, console):
        admin.teams.names()
        console.expire_tokens()
        assert admin.teams.names() == ["Admins", "Customer Service"]
        assert admin.tokens.requests_made == 2

    def test_second_401_is_raised(self, emulator, console):
        secret = console.generate_secret("admin")
        client = make_client(emulator, "admin", secret)
        client.teams.names()
        console.generate_secret("admin")  # the old secret is revoked: the refresh fails too
        console.expire_tokens()
        with pytest.raises(AuthenticationError) as info:
            client.teams.names()
        assert info.value.status == 401
        assert info.value.path == "/configapi/v2/oauth/token"
        assert "invalid client ID or client secret" in str(info.value)
        assert secret not in str(info.value) and secret not in repr(info.value)

    def test_token_value_is_masked(self, admin):
        token = admin.tokens.token()
        assert token.value.reveal() not in repr(token)
        assert token.value.reveal() not in f"{token.value} {token.value!r}"
        assert token.fingerprint.startswith("sha256:") and len(token.fingerprint) == 17


class TestUsers:
    def test_create_get_update_delete(self, admin):
        admin.users.create("new.user", "New", "User", "Admins", roles=["Agent"], password=Secret("longpassword"))
        user = admin.users.get("new.user")
        assert (user.login_id, user.roles, user.team, user.disabled) == ("new.user", ("Agent",), "Admins", False)
        admin.users.update("new.user", disabled=True, skills={"French": 50})
        assert admin.users.get("new.user").disabled is True
        admin.users.delete("new.user")
        assert admin.users.find("new.user") is None

    def test_update_has_no_roles_argument(self, admin):
        with pytest.raises(TypeError):
            admin.users.update("admin", roles=["Agent"])  # the API cannot change roles
        with pytest.raises(ValueError, match="at least one"):
            admin.users.update("admin")

    def test_errors_carry_class_status_and_message(self, admin):
        with pytest.raises(NotFoundError) as info:
            admin.users.get("nobody")
        assert (info.value.status, info.value.method, info.value.path) == (404, "GET", "/configapi/v2/user/nobody")
        assert str(info.value) == "GET /configapi/v2/user/nobody -> HTTP 404: user 'nobody' not found"
        with pytest.raises(ConflictError, match="already exists"):
            admin.users.create("admin", "A", "B", "Admins")
        with pytest.raises(NotFoundError, match="user team not found"):
            admin.users.create("x", "A", "B", "No Team")
        with pytest.raises(NotFoundError, match="role not found: Ghost"):
            admin.users.create("x", "A", "B", "Admins", roles=["Ghost"])

    def test_password_never_appears_in_the_journal(self, admin, console):
        admin.users.create("new.user", "New", "User", "Admins", password=Secret("canary-password-123"))
        assert "canary-password-123" not in str(console.requests())

    def test_lock_state(self, admin, console):
        assert admin.users.is_locked("sheila.thomas") is False
        console.lock("sheila.thomas")
        assert admin.users.is_locked("sheila.thomas") is True
        assert admin.users.clear_lock("sheila.thomas") is False

    @pytest.mark.parametrize("call,path,body", [
        (lambda a: a.users.get("sheila.thomas"), "/configapi/v2/user/sheila", ["not", "a", "user"]),
        (lambda a: a.users.is_locked("sheila.thomas"), "/configapi/v2/user/lock/", ["x"]),
        (lambda a: a.users.is_locked("sheila.thomas"), "/configapi/v2/user/lock/", {"lockedOut": "false"}),
        (lambda a: a.users.clear_lock("sheila.thomas"), "/configapi/v2/user/lock/", {}),
        (lambda a: a.phones.access_numbers(), "/configapi/v2/phone/ext", {"number": "16502505674"}),
    ], ids=["user not an object", "lock not an object", "lock a string", "clear lock without value", "numbers not a list"])
    def test_an_answer_of_the_wrong_shape_is_an_error_never_a_guess(self, admin, console, call, path, body):
        console.fault(kind="answer", status=200, body=body, path_prefix=path, count=3)
        with pytest.raises(ApiError) as info:
            call(admin)
        assert info.value.status == 200 and type(info.value) is ApiError

    def test_login_ids_are_url_quoted(self, admin):
        with pytest.raises(NotFoundError) as info:
            admin.users.get("a b?c")
        assert info.value.path == "/configapi/v2/user/a%20b%3Fc"


class TestPhonesAndTeams:
    def test_access_number_assignment_is_visible(self, admin, console):
        number = admin.phones.find_access_number(SMS_NUMBER)
        assert (number.media, number.type, number.text_out_services, number.sms_capable) == ("text", "unassigned", (), True)
        console.set_outbound("SMS Chat", [SMS_NUMBER])
        number = admin.phones.find_access_number("+1 (650) 250-5674")
        assert (number.type, number.text_out_services) == ("text-out", ("SMS Chat",))
        assert admin.phones.find_access_number("+19999999999") is None

    def test_directory_and_teams(self, admin):
        entries = {e.login_id: e for e in admin.phones.directory()}
        assert entries["sheila.thomas"].external == "14155550101"
        assert admin.teams.names() == ["Admins", "Customer Service"]

    def test_phone_access_needs_manage_phones(self, emulator, console):
        agent = make_client(emulator, "sheila.thomas", console.generate_secret("sheila.thomas"))
        with pytest.raises(PermissionDeniedError) as info:
            agent.phones.access_numbers()
        assert info.value.missing_privilege == "Manage phones"


class TestSms:
    def test_privilege_probe(self, emulator, console, admin):
        from helpers.steps.checks import probe_sms_api
        admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
        client = make_client(emulator, API_USER, console.generate_secret(API_USER))
        assert probe_sms_api(client).verdict == "no-privilege"
        console.grant(SMS_ROLE)
        probe = probe_sms_api(client)
        assert (probe.verdict, probe.answer, probe.content_type) == ("accepted", "HTTP 404", "application/json")
        assert not [m for m in console.tenant_state()["messages"]]  # nothing was sent

    def test_send_and_follow_to_delivered(self, api):
        sent = api.sms.send("+15551234567", SMS_NUMBER, "hello")
        assert sent.status == "queued" and sent.from_ == "16502505674"
        final, timeline = api.sms.wait_for_final(sent.sid, interval=0)
        assert final.status == "delivered" and final.sid == sent.sid  # sid recovered from uri (quirk)
        assert [c.status for c in timeline] == ["sent", "delivered"]

    def test_failed_message_reports_error(self, api):
        sent = api.sms.send("+15005550001", SMS_NUMBER, "hello")
        final, _ = api.sms.wait_for_final(sent.sid, interval=0)
        assert (final.status, final.error_code, final.error_message) == ("failed", "30003", "Unreachable destination handset")

    def test_wait_stops_at_timeout(self, api):
        sent = api.sms.send("+15005550007", SMS_NUMBER, "hello")  # never leaves the queue
        clock = iter(range(100))
        final, timeline = api.sms.wait_for_final(sent.sid, timeout=5, interval=1, sleep=lambda s: None,
                                                 clock=lambda: next(clock))
        assert final.status == "queued" and [c.status for c in timeline] == ["queued"]

    def test_send_validation_error(self, api):
        with pytest.raises(ValidationError) as info:
            api.sms.send("+15551234567", "+14155550101", "hi")
        assert info.value.status == 400 and "not a text-out access number" in str(info.value)

    def test_send_without_privilege(self, emulator, console):
        agent = make_client(emulator, "sheila.thomas", console.generate_secret("sheila.thomas"))
        with pytest.raises(PermissionDeniedError) as info:
            agent.sms.send("+15551234567", SMS_NUMBER, "hi")
        assert info.value.missing_privilege == "Use SMS/MMS API"

    def test_exact_request_sent(self, api, console):
        api.sms.send("+15551234567", SMS_NUMBER, "hi", media_urls=["https://e.com/a.png"])
        entry = [e for e in console.requests() if e["path"].endswith("/Messages")][-1]
        assert entry["method"] == "POST" and entry["content_type"] == "application/json"
        assert entry["authorization"] == "Bearer"
        assert entry["body"] == {"To": "+15551234567", "From": SMS_NUMBER, "Body": "hi", "MediaURLs": ["https://e.com/a.png"]}
        token_entry = [e for e in console.requests() if e["path"].endswith("/oauth/token")][-1]
        assert token_entry["body"] == {"grant_type": "client_credentials", "client_id": API_USER,
                                       "client_secret": "***", "scope": "example.brightpattern.com"}

    def test_set_msg_receiver(self, api):
        assert api.sms.set_msg_receiver("https://app.example.com/in", SMS_NUMBER) == {
            "url": "https://app.example.com/in", "number": SMS_NUMBER}
