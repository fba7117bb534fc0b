"""TLS for real: the emulator served over HTTPS with a throwaway CA. Verification is always on,
a private CA is trusted only through the ca_bundle parameter, and preflight explains a failure."""

from __future__ import annotations

import datetime
import ipaddress
import os
from unittest import mock

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emulator import EmulatorServer
from helpers.errors import ApiConnectionError, AuthenticationError
from helpers.steps import run_step
from helpers.steps.params import validate
from helpers.tenant.transport import Transport


def make_certificate(folder):
    """A self-signed certificate for localhost / 127.0.0.1 that is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "runbook test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def https_tenant(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = make_certificate(folder)
    with EmulatorServer(ssl_context=(str(cert), str(key))) as server:
        yield {"url": f"https://localhost:{server.port}", "ca": str(cert)}


def test_an_untrusted_certificate_is_refused_with_the_fix(https_tenant):
    transport = Transport(https_tenant["url"], sleep=lambda s: None)
    with pytest.raises(ApiConnectionError) as info:
        transport.request("GET", "/configapi/v2/team")
    assert str(info.value).endswith("TLS verification of "
                                    f"{https_tenant['url'][8:]} failed; if the tenant uses a private CA, "
                                    "name its bundle in the ca_bundle parameter")


def test_the_ca_bundle_parameter_trusts_a_private_ca(https_tenant):
    transport = Transport(https_tenant["url"], ca_bundle=https_tenant["ca"])
    with pytest.raises(AuthenticationError):  # TLS succeeded: the tenant itself answered 401
        transport.request("GET", "/configapi/v2/team")


def test_an_environment_bundle_does_not_override_the_parameter(https_tenant, tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with mock.patch.dict(os.environ, {"REQUESTS_CA_BUNDLE": str(empty)}):
        transport = Transport(https_tenant["url"], ca_bundle=https_tenant["ca"])
        with pytest.raises(AuthenticationError):
            transport.request("GET", "/configapi/v2/team")


def test_preflight_over_https(https_tenant, tmp_path):
    env = {"BP_RUNBOOK_HANDOFF": str(tmp_path / "h.json")}
    with mock.patch.dict(os.environ, env):
        ok = run_step("00_preflight", validate({"tenant_url": https_tenant["url"], "scope": "example.brightpattern.com",
                                                "admin_user": "", "ca_bundle": https_tenant["ca"]}))
        refused = run_step("00_preflight", validate({"tenant_url": https_tenant["url"], "scope": "example.brightpattern.com",
                                                     "admin_user": ""}), sleep=lambda s: None)
    assert ok.status == "ok" and ok.evidence["token endpoint"] == "answers: HTTP 400 to a request without credentials"
    assert refused.status == "failed" and "TLS verification" in refused.summary and "ca_bundle" in refused.summary
