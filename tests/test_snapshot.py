"""`python -m helpers snapshot` against the emulator over HTTP: what it names, what it never holds (the
seed's secrets, a token), and that it sends no write request (the emulator's request journal)."""

from __future__ import annotations

import re

import yaml

from emulator import EmulatorServer
from emulator.store import DEFAULT_SEED
from helpers.errors import TOKEN_SHAPED
from helpers.steps.params import load
from tests.support import cli

DOCS_SEED = DEFAULT_SEED.parent / "docs.yaml"
DOCS_SCOPE = "yourcompany.brightpattern.com"


def seed_secrets(seed: dict) -> list[str]:
    return [u["api_secret"] for t in seed["tenants"] for u in t.get("users", []) if u.get("api_secret")]


def docs_admin_secret() -> str:
    tenant = yaml.safe_load(DOCS_SEED.read_text())["tenants"][0]
    return next(u["api_secret"] for u in tenant["users"] if u["loginId"] == "admin")


def take(tmp_path, url: str, secret: str, *extra, out=None):
    env = {"BP_EMULATOR_URL": url, "BP_ADMIN_SECRET": secret, "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}
    out = out or tmp_path / "snap"
    return cli(tmp_path, "snapshot", "--tenant-url", "emulator", "--scope", DOCS_SCOPE, "--admin-user", "admin",
               "--out", str(out), *extra, env=env), out


def journal_writes(server) -> list[str]:
    import requests

    entries = requests.get(server.url + "/_emulator/requests", timeout=10).json()
    assert entries, "the journal recorded nothing: the test would prove nothing"
    return [f"{e['method']} {e['path']}" for e in entries
            if e["method"] != "GET" and e["path"] != "/configapi/v2/oauth/token"]


def test_the_docs_seed_snapshot_names_the_number_the_user_and_the_chat_service_and_writes_nothing(tmp_path):
    with EmulatorServer(seed="docs") as server:
        done, out = take(tmp_path, server.url, docs_admin_secret())
        writes = journal_writes(server)
    assert done.returncode == 0, done.stdout + done.stderr
    assert writes == []
    text = (out / "snapshot.yaml").read_text()
    snap = yaml.safe_load(text)
    frank = next(u for u in snap["users"] if u["login_id"] == "frank.zappa")
    assert frank == {"login_id": "frank.zappa", "team": "Customer Service", "roles": ["Agent"], "disabled": False,
                     "locked_out": False, "extension": "1048"}
    assert next(u for u in snap["users"] if u["login_id"] == "testuser005")["locked_out"] is True
    number = next(n for n in snap["access numbers"] if n["number"] == "16502505674")
    assert (number["media"], number["text_out_services"]) == ("text", ["Customer Service Chat"])
    assert snap["chat services"][0]["name"] == "Customer Service Chat"
    assert any("privileges" in entry["what"] for entry in snap["not read"])
    proposed = load(out / "params.yaml")  # loads as the runbook loads a parameter file
    assert (proposed.access_number, proposed.chat_service, proposed.admin_user) == (
        "+16502505674", "Customer Service Chat", "admin")
    assert "frank.zappa" in (out / "params.yaml").read_text()  # among the candidates, as a comment
    for path in out.iterdir():
        written = path.read_text()
        for secret in seed_secrets(yaml.safe_load(DOCS_SEED.read_text())):
            assert secret not in written, path.name
        assert not TOKEN_SHAPED.search(written), path.name
    assert "16502505674" in done.stdout or "Snapshot of" in done.stdout


def test_the_embedded_emulator_is_started_as_for_run(tmp_path):
    env = {"BP_ADMIN_SECRET": docs_admin_secret(), "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}
    done = cli(tmp_path, "snapshot", "--tenant-url", "emulator", "--emulator", "--emulator-seed", "docs", "--scope",
               DOCS_SCOPE, "--admin-user", "admin", "--out", str(tmp_path / "snap"), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Customer Service Chat" in (tmp_path / "snap" / "params.yaml").read_text()


def test_a_secret_in_a_tenant_value_is_scrubbed_from_both_files(tmp_path):
    """A team named with the admin's secret (a tenant may hold anything): the gate scrubs it."""
    seed = yaml.safe_load(DOCS_SEED.read_text())
    secret = docs_admin_secret()
    tenant = seed["tenants"][0]
    tenant["teams"].append(secret)
    next(u for u in tenant["users"] if u["loginId"] == "frank.zappa")["team"] = secret
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed))
    with EmulatorServer(seed=path) as server:
        done, out = take(tmp_path, server.url, secret)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("snapshot.yaml", "params.yaml"):
        assert secret not in (out / name).read_text()
    assert "[redacted" in (out / "snapshot.yaml").read_text().lower() or "redacted" in (out / "snapshot.yaml").read_text()


def test_a_refused_privilege_is_said_and_the_rest_is_written(tmp_path):
    seed = yaml.safe_load(DOCS_SEED.read_text())
    role = next(r for r in seed["tenants"][0]["roles"] if r["name"] == "Administrator")
    role["privileges"] = [p for p in role["privileges"] if p != "Manage phones"]
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed))
    with EmulatorServer(seed=path) as server:
        done, out = take(tmp_path, server.url, docs_admin_secret())
    assert done.returncode == 2, done.stdout + done.stderr
    snap = yaml.safe_load((out / "snapshot.yaml").read_text())
    assert snap["access numbers"] == "not read (see 'not read')"
    failed = next(e for e in snap["not read"] if e["what"].startswith("access numbers"))
    assert "403" in failed["why"] and "Manage phones" in failed["fix"]
    # The users' list is the directory (/phone/user), which needs Manage phones too; the teams are still read.
    assert snap["users"] == "not read (see 'not read')" and "Customer Service" in snap["teams"]
    assert re.search(r"not read: access numbers .*Fix: give the administrator a role with 'Manage phones'", done.stdout)


def test_an_earlier_snapshot_is_never_overwritten(tmp_path):
    out = tmp_path / "snap"
    out.mkdir()
    (out / "params.yaml").write_text("tenant_url: emulator  # edited by a person\n")
    with EmulatorServer(seed="docs") as server:
        done, _ = take(tmp_path, server.url, docs_admin_secret(), out=out)
    assert done.returncode == 3
    first = (done.stdout + done.stderr).splitlines()[0]
    assert first.startswith("error: ") and "--out" in first and "Fix: " in first
    assert (out / "params.yaml").read_text() == "tenant_url: emulator  # edited by a person\n"
    assert not (out / "snapshot.yaml").exists()


def test_without_the_admin_secret_nothing_is_read(tmp_path):
    with EmulatorServer(seed="docs") as server:
        done = cli(tmp_path, "snapshot", "--tenant-url", "emulator", "--scope", DOCS_SCOPE, "--admin-user", "admin",
                   "--out", str(tmp_path / "snap"), env={"BP_EMULATOR_URL": server.url, "BP_ADMIN_SECRET": "",
                                                        "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")})
    assert done.returncode == 3
    assert "BP_ADMIN_SECRET" in done.stdout.splitlines()[0] and "Fix: " in done.stdout
    assert not (tmp_path / "snap").exists()


def test_a_refused_admin_secret_reads_nothing(tmp_path):
    with EmulatorServer(seed="docs") as server:
        done, out = take(tmp_path, server.url, "Wrong" + "x" * 59)
    assert done.returncode == 2
    assert "refused" in done.stdout and "Fix: " in done.stdout
    assert not out.exists()


def proposed(data: dict) -> tuple[str, dict]:
    from helpers.steps.params import validate
    from helpers.tools.proposal import proposal

    text = proposal({"taken at (UTC)": "2026-01-01T00:00:00Z", **data}, validate({"tenant_url": "emulator",
                                                                                   "admin_user": "admin"}))
    return text, yaml.safe_load(text)


def test_the_proposal_decides_only_what_the_snapshot_shows_and_lists_the_candidates():
    users = [{"login_id": "admin", "roles": ["SMS API"], "disabled": False, "team": "Ops"},
             {"login_id": "sms.one", "roles": ["SMS API"], "disabled": False, "team": ""}]
    numbers = [{"number": "16505550100", "media": "voice", "type": "phone", "text_out_services": []},
               {"number": "16505550101", "media": "voice_text", "type": "scenario", "text_out_services": []},
               {"number": "16505550102", "media": "text", "type": "text-out", "text_out_services": ["Chat A", "Chat B"]}]
    text, values = proposed({"users": users, "teams": ["Ops"], "access numbers": numbers,
                             "chat services": [{"name": "Chat A"}, {"name": "Chat B"}]})
    assert values["access_number"] == "+16505550102"  # the SMS-capable number a service names, before the others
    assert "#   +16505550101  media voice_text" in text and "+16505550100" not in text  # voice-only: no candidate
    assert values["chat_service"] == "Chat A" and "several services: choose" in text
    assert (values["role"], values["api_user"]) == ("SMS API", "sms.one")
    assert "api_user_team" not in values and "# api_user_team: not decided: the value the tenant shows would be refused" in text


def test_a_tenant_whose_parts_could_not_be_read_gets_a_proposal_of_defaults_that_says_so():
    unread = "not read (see 'not read')"
    text, values = proposed({"users": unread, "teams": unread, "access numbers": unread, "chat services": unread})
    assert set(values) == {"tenant_url", "scope", "admin_user", "smoke_test"}
    for name in ("access_number", "chat_service", "role", "api_user", "api_user_team"):
        assert f"# {name}: not decided" in text
