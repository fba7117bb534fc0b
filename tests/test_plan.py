"""`python -m helpers plan` against the emulator over HTTP: what it says a run would do, per tenant and step,
and that it changes nothing (the emulator's request journal and its state)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from unittest import mock

from helpers.run.plan import PlanOptions, make_plan
from helpers.safety.gate import Gate
from tests.support import ROOT, cli, private, write_params

WRITES = ("POST", "PUT", "DELETE", "PATCH")


def plan(tmp_path, env, *files, keep_going=False) -> tuple[int, str, dict, Path]:
    out = io.StringIO()
    with mock.patch.dict("os.environ", env):
        code = make_plan(PlanOptions([str(f) for f in files], str(tmp_path / "out"), keep_going=keep_going,
                                     private_root=private(tmp_path)), out, Gate())
    found = sorted((tmp_path / "out" / "plans").glob("*/plan.json"))
    return code, out.getvalue(), json.loads(found[-1].read_text()) if found else {}, found[-1].parent if found else None


def would(plan_json: dict) -> dict:
    return {s["step"]: s["would"] for s in plan_json["tenants"][0]["steps"]}


def writes(console, since: int = 0) -> list[str]:
    """The write requests the tenant APIs received after the journal's first `since` entries."""
    journal = console.requests()[since:]
    assert journal, "the journal recorded nothing: the test would prove nothing"
    return [f"{e['method']} {e['path']}" for e in journal
            if e["method"] in WRITES and e["path"] != "/configapi/v2/oauth/token"]


def test_a_fresh_tenant_plan_says_who_acts_and_sends_no_write_request(tmp_path, env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    params = write_params(tmp_path, admin_user="admin", smoke_test=True)
    before = console.tenant_state()
    code, printed, made, folder = plan(tmp_path, env, params)
    after = console.tenant_state()
    assert code == 0, printed
    assert writes(console) == []
    assert {**before, "active_tokens": None} == {**after, "active_tokens": None}
    assert would(made) == {"00_preflight": "nothing", "01_grant_privilege": "person acts",
                           "02_define_user": "runbook acts", "03_api_secret": "person acts",
                           "04_access_token": "person acts", "05_chat_service": "person acts",
                           "06_smoke_test": "runbook acts"}
    steps = {s["step"]: s for s in made["tenants"][0]["steps"]}
    assert steps["02_define_user"]["what"] == "would create user 'api.sms' with role 'SMS API'"
    assert steps["06_smoke_test"]["what"] == "would send one text from +16502505674 to +15551234567"
    assert "Services & Campaigns" in steps["05_chat_service"]["what"]  # the admin UI instruction, filled in
    assert "example.brightpattern.com  02_define_user        runbook acts  would create user 'api.sms'" in printed
    page = (folder / "plan.html").read_text()
    assert "What people must do" in page and "Services &amp; Campaigns" in page


def test_a_ready_tenant_plan_is_nothing_but_the_one_text(tmp_path, ready, console):
    params = write_params(tmp_path, admin_user="admin", smoke_test=True)
    setup = len(console.requests())  # the fixture created the user: not the plan's
    code, printed, made, _ = plan(tmp_path, ready, params)
    assert code == 0, printed
    assert set(would(made).values()) == {"nothing", "runbook acts"}
    assert [s for s, kind in would(made).items() if kind == "runbook acts"] == ["06_smoke_test"]
    assert writes(console, setup) == [] and console.tenant_state()["messages"] == []


def test_a_fleet_plan_is_one_page_and_a_bad_file_is_its_own_row(tmp_path, env, console, admin_secret):
    env["BP_ADMIN_SECRET__EXAMPLE_BRIGHTPATTERN_COM"] = admin_secret
    good = write_params(tmp_path, admin_user="admin")
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    good.rename(fleet / "a.yaml")
    (fleet / "b.yaml").write_text('tenant_url: emulator\nscope: other.example.com\naccess_number: "12"\n')
    code, printed, made, folder = plan(tmp_path, env, fleet)
    assert code == 3, printed
    assert [t["tenant"] for t in made["tenants"]] == ["example.brightpattern.com", str(fleet / "b.yaml")]
    assert "access_number" in made["tenants"][1]["error"] and made["tenants"][1]["steps"] == []
    page = (folder / "plan.html").read_text()
    assert "example.brightpattern.com" in page and "a run would not start" in page
    assert writes(console) == []


def test_the_steps_after_a_failing_one_are_not_reached_as_in_a_run(tmp_path, env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    console.fault(kind="status", status=503, method="GET", path_prefix="/configapi/v2/user/api.sms", count=10)
    code, printed, made, _ = plan(tmp_path, env, write_params(tmp_path, admin_user="admin"))
    assert code == 0, printed
    assert [s["would"] for s in made["tenants"][0]["steps"]] == ["nothing", "person acts", "run fails"] + [
        "not reached"] * 4
    assert "a run stops after 02_define_user fails (--keep-going runs the rest)" in printed


def test_with_keep_going_the_steps_after_a_failing_one_are_planned_and_marked(tmp_path, env, console, admin_secret):
    env["BP_ADMIN_SECRET"] = admin_secret
    console.fault(kind="status", status=503, method="GET", path_prefix="/configapi/v2/user/api.sms", count=10)
    code, printed, made, _ = plan(tmp_path, env, write_params(tmp_path, admin_user="admin"), keep_going=True)
    assert code == 0, printed  # the plan is made; it says where a run would fail
    steps = made["tenants"][0]["steps"]
    assert [(s["step"], s["would"]) for s in steps][:3] == [
        ("00_preflight", "nothing"), ("01_grant_privilege", "person acts"), ("02_define_user", "run fails")]
    assert [s.get("reached") for s in steps[:3]] == [None, None, None]
    assert all(s["reached"] == "only with --keep-going: a run stops after 02_define_user fails" for s in steps[3:])
    assert "(only with --keep-going" in printed


def test_plan_on_the_command_line_with_the_embedded_emulator(tmp_path):
    done = cli(tmp_path, "plan", "--params", str(ROOT / "params" / "demo.yaml"), "--emulator", "--out",
               str(tmp_path / "out"), env={"BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "06_smoke_test" in done.stdout and "Nothing was changed, nothing sent." in done.stdout
    assert list((tmp_path / "out" / "plans").glob("*/plan.html"))
    made = json.loads(next((tmp_path / "out" / "plans").glob("*/plan.json")).read_text())
    steps = {s["step"]: s for s in made["tenants"][0]["steps"]}
    # Practice mode: what the dry run left undone, and said so, is in the plan (never done: it is a change).
    assert "a run would generate the API secret of the admin user 'admin' through the console" in \
        steps["02_define_user"]["what"]
    assert steps["01_grant_privilege"]["what"] == "would grant 'Use SMS/MMS API' to role 'SMS API' through the console"
    assert not (tmp_path / "out" / "emulator_example.brightpattern.com").exists()  # a plan is not a run: no record


def test_one_bad_parameter_file_is_one_line_and_exit_3_as_for_run(tmp_path, env):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenant_url: http://acme.example.com\n")
    code, printed, made, _ = plan(tmp_path, env, bad)
    assert code == 3 and made == {}
    assert printed.splitlines() == ["error: parameter 'tenant_url': uses plain http for a host that is not loopback "
                                    "(credentials would travel in clear). Fix: use https://, or http:// only for a "
                                    "loopback emulator such as http://127.0.0.1:8765"]
