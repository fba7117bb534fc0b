"""The HTTP core: retry and backoff policy (injected sleep), faults injected through the console,
timeouts, URL rules, and the promise that Send Message is never sent twice."""

from __future__ import annotations

import socket

import pytest

from helpers.errors import ApiConnectionError, ApiTimeoutError, ParameterError, RateLimitedError, ServerError
from helpers.safety.secrets import Secret
from helpers.tenant.transport import RetryPolicy, Transport, check_base_url, parse_retry_after
from tests.support import SMS_NUMBER, make_client


def sent_messages(console):
    return console.tenant_state()["messages"]


class TestRetries:
    def test_safe_call_retried_on_5xx_with_capped_exponential_backoff(self, admin, console, sleeps):
        admin.tokens.token()
        console.fault(kind="status", status=503, count=3, path_prefix="/configapi/v2/team")
        assert admin.teams.names() == ["Admins", "Customer Service"]
        assert sleeps == [0.5, 1.0, 2.0]

    def test_gives_up_after_max_attempts(self, admin, console, sleeps):
        admin.tokens.token()
        console.fault(kind="status", status=502, count=10, path_prefix="/configapi/v2/team")
        with pytest.raises(ServerError) as info:
            admin.teams.names()
        assert info.value.status == 502 and len(sleeps) == 3

    def test_backoff_is_capped(self):
        policy = RetryPolicy(backoff_base=1, backoff_cap=5)
        assert [policy.backoff(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]

    def test_429_honours_retry_after_even_for_send(self, api, console, sleeps):
        api.tokens.token()
        console.fault(kind="rate_limit", retry_after=3, count=1, path_prefix="/clientweb/smsapi/v1/Messages")
        message = api.sms.send("+15551234567", SMS_NUMBER, "hi")
        assert sleeps == [3.0]
        assert [m["sid"] for m in sent_messages(console)] == [message.sid]

    def test_429_with_a_too_long_retry_after_is_raised(self, admin, console, sleeps):
        admin.tokens.token()
        console.fault(kind="rate_limit", retry_after=3600, count=1, path_prefix="/configapi/v2/team")
        with pytest.raises(RateLimitedError) as info:
            admin.teams.names()
        assert (info.value.status, info.value.retry_after, sleeps) == (429, 3600.0, [])

    def test_send_is_not_retried_on_5xx(self, api, console, sleeps):
        api.tokens.token()
        console.fault(kind="status", status=503, count=1, path_prefix="/clientweb/smsapi/v1/Messages")
        with pytest.raises(ServerError):
            api.sms.send("+15551234567", SMS_NUMBER, "hi")
        assert sleeps == []
        posts = [e for e in console.requests() if e["path"].endswith("/Messages") and e["method"] == "POST"]
        assert len(posts) == 1

    def test_send_is_never_repeated_after_a_dropped_connection(self, api, console, sleeps):
        api.tokens.token()
        console.fault(kind="drop", count=1, path_prefix="/clientweb/smsapi/v1/Messages", method="POST")
        with pytest.raises(ApiConnectionError) as info:
            api.sms.send("+15551234567", SMS_NUMBER, "hi")
        assert "not repeated automatically" in str(info.value)
        assert len(sent_messages(console)) == 1  # it was processed: a retry would have sent a second text
        assert sleeps == []

    def test_safe_call_is_retried_after_a_dropped_connection(self, admin, console, sleeps):
        admin.tokens.token()
        console.fault(kind="drop", count=1, path_prefix="/configapi/v2/team")
        assert admin.teams.names() == ["Admins", "Customer Service"]
        assert sleeps == [0.5]

    def test_connection_refused_is_retried_then_raised(self, sleeps):
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        transport = Transport(f"http://127.0.0.1:{port}", sleep=sleeps.sleep)
        with pytest.raises(ApiConnectionError) as info:
            transport.request("POST", "/clientweb/smsapi/v1/Messages", json_body={}, idempotent=False)
        assert str(info.value) == f"POST /clientweb/smsapi/v1/Messages -> no response: could not connect to 127.0.0.1:{port}"
        assert sleeps == [0.5, 1.0, 2.0]  # never sent, so even a send may be retried

    def test_read_timeout(self, emulator, console, sleeps):
        client = make_client(emulator, "admin", console.generate_secret("admin"), sleeps, read_timeout=0.2,
                             retry=RetryPolicy(max_attempts=1))
        client.tokens.token()
        console.fault(kind="latency", seconds=0.6, count=1, path_prefix="/configapi/v2/team")
        with pytest.raises(ApiTimeoutError, match="timed out waiting for the answer"):
            client.teams.names()


class TestUrlRules:
    @pytest.mark.parametrize("url", ["http://example.brightpattern.com", "ftp://x", "example.com",
                                     "https://user:pw@example.com", "https://example.com/configapi"])
    def test_refused(self, url):
        with pytest.raises(ParameterError) as info:
            check_base_url(url)
        assert info.value.parameter == "tenant_url" and "Fix:" in str(info.value)

    @pytest.mark.parametrize("url,expected", [("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
                                              ("http://localhost:1", "http://localhost:1"),
                                              ("http://[::1]:9", "http://[::1]:9"),
                                              ("https://example.brightpattern.com", "https://example.brightpattern.com")])
    def test_accepted(self, url, expected):
        assert check_base_url(url) == expected

    def test_tls_verification_on_and_ca_bundle_used(self, tmp_path):
        assert Transport("https://example.brightpattern.com").verify is True
        bundle = tmp_path / "ca.pem"
        transport = Transport("https://example.brightpattern.com", ca_bundle=str(bundle))
        assert transport.verify == transport.session.verify == str(bundle)

    def test_proxies_from_the_environment_only_for_real_tenants(self):
        assert Transport("https://example.brightpattern.com").session.trust_env is True
        assert Transport("http://127.0.0.1:8765").session.trust_env is False

    def test_https_to_a_plain_http_server_is_explained(self, emulator, sleeps):
        url = emulator.url.replace("http://127.0.0.1", "https://localhost")
        transport = Transport(url, sleep=sleeps.sleep)
        with pytest.raises(ApiConnectionError) as info:
            transport.request("GET", "/configapi/v2/team")
        assert info.value.detail == f"the TLS handshake with {url[8:]} failed; check that the address serves https"
        assert sleeps == []  # a TLS failure is not retried


def test_retry_after_parsing():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_client_secret_never_in_errors_or_repr(emulator, console, sleeps):
    canary = "CANARY" + "x" * 58
    client = make_client(emulator, "admin", canary, sleeps)
    with pytest.raises(Exception) as info:
        client.teams.names()
    assert canary not in str(info.value) and canary not in repr(info.value)
    assert canary not in repr(client) and canary not in repr(client.tokens.__dict__)
    assert "********" in repr(Secret(canary))
