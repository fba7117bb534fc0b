"""Units: the scrubber on notebook structures, parameter validation, and secret sources."""

from __future__ import annotations

import json
import os

import pytest

from helpers.errors import ParameterError
from helpers.safety.scrub import REDACTED, Scanner, Scrubber, scrub_and_scan
from helpers.safety.secrets import Secret, SecretStore, read_handoff, write_private_json
from helpers.steps.params import PARAMETER_NAMES, PARAMETERS, RunbookParams, from_namespace, load, validate
from helpers.steps.schema import KINDS, SECONDS, TEXT, param, schema

SECRET = "s3cr3t-Value/with+chars=="


def notebook_with_leaks(path):
    nb = {"cells": [{"cell_type": "code", "source": f"x = '{SECRET}'", "metadata": {}, "execution_count": 1,
                     "outputs": [{"output_type": "stream", "name": "stdout", "text": f"token {'AB12' * 16}\n"},
                                 {"output_type": "display_data", "metadata": {},
                                  "data": {"image/png": "iVBORw0KGgo" + "A" * 40, "text/plain": f"see {SECRET}"}}]}],
          "metadata": {"papermill": {"parameters": {"note": SECRET}},
                       "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"m": {"value": SECRET}}}}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def test_scrubber_cleans_sources_outputs_metadata_and_widget_state(tmp_path):
    path = tmp_path / "nb.ipynb"
    notebook_with_leaks(path)
    scrubber, scanner = Scrubber([SECRET]), Scanner([SECRET])
    assert set(scanner.leaks(path)) == {"widget state", "known secret", "part of a known secret", "token-shaped string"}
    scrubber.file(path)
    assert scanner.leaks(path) == []
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"]
    assert nb["metadata"]["papermill"]["parameters"]["note"] == REDACTED
    assert nb["cells"][0]["outputs"][0]["text"] == f"token {REDACTED}\n"
    assert nb["cells"][0]["outputs"][1]["data"]["image/png"].startswith("iVBORw0KGgo")  # images untouched


def test_scrubber_catches_encoded_forms(tmp_path):
    log = tmp_path / "run.log"
    log.write_text('json "s3cr3t-Value/with+chars==" form s3cr3t-Value%2Fwith%2Bchars%3D%3D\n')
    assert scrub_and_scan([log], [SECRET]) == {}
    assert "s3cr3t" not in log.read_text()


def test_scan_reports_survivors_without_values(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(f"leak {SECRET}")
    assert Scanner([SECRET]).leaks(log) == ["known secret", "part of a known secret"]


def test_short_values_are_not_treated_as_secrets():
    assert Scrubber(["abc", "", "seven77"]).values == []


@pytest.mark.parametrize("values,parameter,problem", [
    ({"access_number": "6502505674"}, "access_number", "no leading '+'"),
    ({"access_number": "+1650"}, "access_number", "not a possible phone number"),
    ({"test_destination": "+1 abc"}, "test_destination", "contains letters"),
    ({"test_destination": "+1 (((("}, "test_destination", "not a phone number"),
    ({"access_number": "+1650CALLNOW"}, "access_number", "contains letters"),
    ({"tenant_url": "https://x.example.com/configapi"}, "tenant_url", "has a path"),
    ({"scope": "bad scope"}, "scope", "is not a host name"),
    ({"role": "  "}, "role", "is empty"),
    ({"api_user": "has space"}, "api_user", "not a valid login ID"),
    ({"admin_user": "api.sms"}, "admin_user", "same user as api_user"),
    ({"smoke_test": "maybe"}, "smoke_test", "is not true or false"),
    ({"smoke_timeout": -1}, "smoke_timeout", "is out of range"),
    ({"read_timeout": float("nan")}, "read_timeout", "is not a finite number"),
    ({"read_timeout": "inf"}, "read_timeout", "is not a finite number"),
    ({"connect_timeout": 10 ** 400}, "connect_timeout", "is not a number"),
    ({"connect_timeout": 301}, "connect_timeout", "is out of range"),
    ({"poll_interval": 90, "smoke_timeout": 60}, "poll_interval", "is longer than smoke_timeout"),
    ({"poll_interval": 0.000000001}, "poll_interval", "is out of range (at least 0.5 and at most 600 seconds)"),
    ({"poll_interval": 0.49}, "poll_interval", "is out of range (at least 0.5"),
    ({"tenant_url": "http://[::1"}, "tenant_url", "is not a valid URL"),
    ({"tenant_url": "https://acme.example.com:70000"}, "tenant_url", "is not a valid URL"),
    ({"tenant_url": "https://acme.example.com:0"}, "tenant_url", "has port 0"),
    ({"tenant_url": "https://acme example.com"}, "tenant_url", "does not name a valid host"),
    ({"tenant_url": "https://user:pw@acme.example.com"}, "tenant_url", "carries credentials"),
    ({"scope": "acme_tenant!"}, "scope", "is not a host name"),
    ({1: "x"}, "<a int key>", "is not a parameter name"),
    ({"A1b2" * 10: "x"}, "<a key of 40 characters>", "is not a runbook parameter"),
    ({"role": ["a", "b"]}, "role", "is not text (it is a list)"),
    ({"ca_bundle": "/nope.pem"}, "ca_bundle", "is not a file"),
    ({"api_password": "x"}, "api_password", "secrets are never parameters"),
    ({"smoke_message": "A1b2" * 16}, "smoke_message", "shaped like an API secret or token"),
    ({"tenant_url": "https://acme.brightpattern.com", "smoke_test": True}, "test_destination", "still the example number"),
])
def test_parameter_errors_name_parameter_problem_and_fix(values, parameter, problem):
    with pytest.raises(ParameterError) as info:
        validate(values)
    assert info.value.parameter == parameter
    assert problem in info.value.problem
    assert info.value.fix


CANARY = "CANARYq9w8e7r6t5y4u3i2o1p0a9s8d7f6g5h4"


@pytest.mark.parametrize("name,bad", [
    ("tenant_url", f"https://{CANARY}:70000"), ("tenant_url", f"http://[{CANARY}"), ("scope", f"{CANARY}!"),
    ("api_user", f"{CANARY} x"), ("admin_user", f"{CANARY}/"), ("access_number", f"+1{CANARY}"),
    ("test_destination", CANARY), ("smoke_timeout", CANARY), ("smoke_test", CANARY), ("ca_bundle", f"/{CANARY}"),
    ("smoke_message", CANARY), ("role", CANARY),
])
def test_no_error_message_quotes_the_value(name, bad):
    """A value may be a secret pasted into the wrong line: messages name the problem, never the value."""
    with pytest.raises(ParameterError) as info:
        validate({name: bad})
    assert "CANARY" not in str(info.value) and "q9w8e7" not in str(info.value)


def test_scope_is_normalised_so_one_tenant_has_one_record():
    assert validate({"scope": "Acme.BrightPattern.com."}).effective_scope == "acme.brightpattern.com"
    assert validate({"tenant_url": "https://ACME.brightpattern.com"}).effective_scope == "acme.brightpattern.com"


def test_long_login_ids_are_not_called_secrets():
    long_login = "integration.user.for.the.sms.gateway.2026"
    assert validate({"api_user": long_login}).api_user == long_login
    assert validate({"api_user": "A" * 40}).api_user == "A" * 40


@pytest.mark.parametrize("content,problem", [
    (b"", "is empty"),
    (b"# only a comment\n", "is empty"),
    (b"role: SMS API\nrole: Other\n", "the key role appears twice (line 2)"),
    (b"role: caf\xe9\n", "is not UTF-8 text"),
    (b"- a\n- b\n", "not a mapping"),
    (b"{1: 2}\n", "is not a parameter name"),
])
def test_parameter_files_that_are_not_usable(tmp_path, content, problem):
    path = tmp_path / "p.yaml"
    path.write_bytes(content)
    with pytest.raises(ParameterError) as info:
        load(path)
    assert problem in str(info.value) and info.value.fix


def test_parameters_are_normalised():
    p = validate({"access_number": "+1 (650) 250-5674", "smoke_test": "yes", "tenant_url": "https://acme.example.com",
                  "test_destination": "+44 7700 900123"})
    assert p.access_number == "+16502505674" and p.smoke_test is True
    assert p.effective_scope == "acme.example.com" and p.targets_loopback is False
    assert validate({}).effective_scope == "example.brightpattern.com"
    assert set(validate({}).public()) == set(RunbookParams.__dataclass_fields__)


def test_demo_and_example_parameter_files_are_valid():
    assert load("params/demo.yaml").practice_mode is True
    assert load("params/tenant.example.yaml").base_url == "https://example.brightpattern.com"


def test_secret_sources_in_order(tmp_path):
    handoff = tmp_path / "h.json"
    env = {"BP_RUNBOOK_HANDOFF": str(handoff)}
    store = SecretStore("http://127.0.0.1:1", "t.example.com", {"api": "api.sms", "admin": "admin"}, env, use_keyring=False)
    assert store.get("api") is None
    write_private_json(handoff, {"http://127.0.0.1:1 t.example.com api.sms": "from-handoff-123"})
    assert store.get("api").source == f"handoff file {handoff}"
    env["BP_API_SECRET"] = "from-env-123"
    assert store.get("api").source == "environment variable BP_API_SECRET"
    store.remember("api", "from-form-123", persist=False)
    assert store.get("api").reveal() == "from-form-123" and store.get("api").source == "entered in the form"
    described = json.dumps(store.describe())
    assert "from-" not in described and "entered in the form" in described
    assert oct(os.stat(handoff).st_mode & 0o777) == "0o600"
    assert oct(os.stat(handoff.parent).st_mode & 0o777) in ("0o700", "0o755")  # tmp_path may pre-exist
    store.forget("api")
    assert read_handoff(handoff) == {}


def test_secret_type_masks_everything():
    s = Secret("hunter2-123456", name="n", source="src")
    assert "hunter2" not in f"{s} {s!r} {s:>20} %s" % s
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(s)
    with pytest.raises(ValueError, match="empty"):
        Secret("  ")


def test_keyring_is_a_secret_source_when_it_has_a_backend(monkeypatch, tmp_path):
    class FakeKeyring:
        @staticmethod
        def get_password(service, username):
            return "from-keyring-123" if (service, username) == ("bp-sms-runbook", "t.example.com/admin") else None

    monkeypatch.setattr("helpers.safety.secrets._keyring", lambda: FakeKeyring)
    store = SecretStore("https://t.example.com", "t.example.com", {"api": "api.sms", "admin": "admin"},
                        {"BP_RUNBOOK_HANDOFF": str(tmp_path / "none.json")})
    assert store.get("admin").reveal() == "from-keyring-123"
    assert store.get("admin").source == "keyring (bp-sms-runbook, t.example.com/admin)"
    assert store.get("api") is None


def test_client_tolerates_the_wiki_trailing_comma():
    import requests

    from helpers.tenant.transport import decode_json
    response = requests.Response()
    response._content = b'{"access_token":"X","token_type":"Bearer","expires_in":"3599",}'
    assert decode_json(response, "POST", "/t")["expires_in"] == "3599"


def test_environment_secrets_are_known_even_without_their_user(tmp_path):
    """admin_user: "" still leaves BP_ADMIN_SECRET in the environment: the scrubber must know it."""
    env = {"BP_ADMIN_SECRET": "admin-env-secret-1", "BP_RUNBOOK_HANDOFF": str(tmp_path / "none.json")}
    store = SecretStore("https://t.example.com", "t.example.com", {"api": "api.sms", "admin": ""}, env, use_keyring=False)
    assert store.get("admin") is None
    assert store.known_values() == ["admin-env-secret-1"]


def test_a_parameter_file_nested_too_deeply_is_bad_input(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        load(path)
    assert "nests too deeply" in str(info.value)


# ---------------------------------------------------------------- the schema: no secret can be a parameter
def schema_class(annotations: dict, **defaults):
    """A parameter class made on the fly (as a module would write it) and handed to @schema."""
    namespace = {"__annotations__": annotations}
    namespace.update({name: defaults.get(name, param("", TEXT, "a comment")) for name in annotations})
    return schema(type("Params", (), namespace))


@pytest.mark.parametrize("annotation", [Secret, "Secret", "helpers.safety.secrets.Secret", "Secret | None"])
def test_the_schema_refuses_a_field_typed_as_a_secret(annotation):
    with pytest.raises(TypeError, match="Params.handover: a Secret can never be a parameter"):
        schema_class({"handover": annotation})


@pytest.mark.parametrize("name", ["api_secret", "admin_password", "bearer_token", "api_key", "credentials", "passwd"])
def test_the_schema_refuses_a_field_named_like_a_secret(name):
    with pytest.raises(TypeError, match=f"Params.{name}: the name looks like a secret's"):
        schema_class({name: "str"})


def test_the_schema_refuses_a_field_it_cannot_describe():
    with pytest.raises(TypeError, match="declare it with param"):
        schema_class({"colour": "str"}, colour="blue")
    with pytest.raises(TypeError, match="a text is typed str, not bytes"):
        schema_class({"colour": "bytes"})
    with pytest.raises(TypeError, match="seconds, and only seconds, have bounds"):
        schema_class({"wait": "float"}, wait=param(1.0, SECONDS, "seconds"))
    with pytest.raises(TypeError, match="one line without double quotes"):
        schema_class({"colour": "str"}, colour=param("", TEXT, 'the "colour"'))
    assert schema_class({"colour": "str"})().colour == ""


def test_every_parameter_is_described_by_the_schema():
    assert list(PARAMETERS) == list(RunbookParams.__dataclass_fields__) == list(PARAMETER_NAMES)
    for name, spec in PARAMETERS.items():
        assert spec.kind in KINDS and spec.comment and len(spec.comment) <= 60, name
        assert type(getattr(RunbookParams(), name)) is spec.kind.type, name
    assert [n for n, s in PARAMETERS.items() if not s.in_form] == ["connect_timeout", "read_timeout"]


@pytest.mark.parametrize("values", [{"role": Secret("hunter2-123456")}, {"admin_user": Secret("hunter2-123456")},
                                    {"colour": Secret("hunter2-123456")}])
def test_a_secret_is_never_a_parameter_value(values):
    (name,) = values
    with pytest.raises(ParameterError) as info:
        validate(values)
    assert info.value.parameter == name
    assert info.value.problem.startswith("is a Secret: secrets are never parameters")
    assert "BP_API_SECRET" in info.value.fix and "hunter2" not in str(info.value)
    with pytest.raises(ParameterError, match="is a Secret"):  # a notebook's namespace, as its form would give it
        from_namespace(values, list(values))


def test_the_minimum_poll_interval_itself_is_accepted():
    assert validate({"poll_interval": 0.5}).poll_interval == 0.5


def test_params_that_are_not_a_regular_file_say_what_they_are(tmp_path):
    import os as _os

    fifo = tmp_path / "params.fifo"
    _os.mkfifo(fifo)  # reading it would wait forever for a writer
    for path, what in [("/dev/null", "is a device, not a regular file"), (tmp_path, "is a folder, not a file"),
                       (fifo, "is a fifo (named pipe), not a regular file"), (tmp_path / "nope.yaml", "does not exist")]:
        with pytest.raises(ParameterError) as info:
            load(path)
        assert info.value.parameter == "--params" and what in info.value.problem, info.value.problem
