"""The README's troubleshooting table says exactly what a user sees: each bad input is run for real
and its message must be in the README, word for word."""

from __future__ import annotations

import io
import os
from pathlib import Path
from unittest import mock

import pytest

from helpers.run.runner import RunOptions, run

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

CASES = [  # (parameter file, environment, options, the message's fixed part, as in the README)
    ("access_number: 16502505674\n", {}, {}, "error: parameter 'access_number': was read as a number, not text. "
     "Fix: quote it in the YAML file, e.g. access_number: \"+16502505674\""),
    ("client_secret: abc\n", {}, {}, "error: parameter 'client_secret': secrets are never parameters (papermill "
     "writes parameters into every output notebook in plain text)."),
    ("smoke_message: " + "A1b2" * 10 + "\n", {}, {}, "error: parameter 'smoke_message': holds a value shaped like an "
     "API secret or token."),
    ("tenant_url: http://acme.example.com\n", {}, {}, "error: parameter 'tenant_url': uses plain http for a host "
     "that is not loopback (credentials would travel in clear)."),
    ("tenant_url: https://acme.example.com/configapi\n", {}, {}, "error: parameter 'tenant_url': has a path, query "
     "or fragment."),
    ("tenant_url: https://[::1\n", {}, {}, "error: parameter 'tenant_url': is not a valid URL (a bracket, port or "
     "character is wrong)."),
    ("scope: ..\n", {}, {}, "error: parameter 'scope': is not a host name."),
    ("connect_timeout: .inf\n", {}, {}, "error: parameter 'connect_timeout': is not a finite number."),
    ("smoke_timeout: 0\n", {}, {}, "error: parameter 'smoke_timeout': is out of range (more than 0 and at most "
     "3600 seconds)."),
    ("access_number: '+1650CALLNOW'\n", {}, {}, "error: parameter 'access_number': contains letters (vanity numbers "
     "are not accepted)."),
    ("role: SMS API\nrole: Other\n", {}, {}, "error: parameter '--params': the key role appears twice (line 2)."),
    ("colour: blue\n", {}, {}, "error: parameter 'colour': is not a runbook parameter."),
    ("practice_mode: true\ntenant_url: https://acme.example.com\n", {}, {},
     "error: parameter 'practice_mode': is only allowed against the local emulator."),
    ("smoke_test: true\ntenant_url: https://acme.example.com\n", {}, {}, "error: parameter 'test_destination': is "
     "still the example number while smoke_test is on for a real tenant."),
    ("tenant_url: https://acme.example.com\n", {"BP_ADMIN_SECRET": ""}, {}, "error: parameter 'BP_ADMIN_SECRET': no "
     "secret for the admin user 'admin'."),
    ("tenant_url: emulator\n", {"BP_ADMIN_SECRET": "short7!"}, {"emulator": True}, "error: parameter "
     "'BP_ADMIN_SECRET': the admin secret (environment variable BP_ADMIN_SECRET) is shorter than 8 characters, too "
     "short to be kept out of the records reliably."),
    ("tenant_url: emulator\n", {}, {"only": [""]}, "error: parameter '--only': names no step."),
]


@pytest.mark.parametrize("content,env,options,message", CASES, ids=[c[3][:60] for c in CASES])
def test_the_troubleshooting_table_quotes_what_the_runner_says(tmp_path, content, env, options, message):
    params = tmp_path / "p.yaml"
    params.write_text(content, encoding="utf-8")
    out = io.StringIO()
    with mock.patch.dict(os.environ, env):
        outcome = run(RunOptions(params_path=params, out_dir=tmp_path / "o", private_root=tmp_path, **options), out)
    assert outcome.exit_code == 3
    assert message in out.getvalue(), out.getvalue()
    assert message in README, "the README's Troubleshooting table no longer quotes this message"


def test_an_empty_parameter_file_as_the_readme_says(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("", encoding="utf-8")
    out = io.StringIO()
    run(RunOptions(params_path=params, out_dir=tmp_path / "o", private_root=tmp_path), out)
    assert f"error: parameter '--params': {params} is empty." in out.getvalue()
    assert "error: parameter '--params': <file> is empty." in README
