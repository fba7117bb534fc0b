"""Drift between runs (helpers/run/drift.py): the observations steps record (found before acting,
left after), their comparison with the tenant's previous run (table driven), which run is the
previous one and when none is trusted (real records: manifests and a hash-chained history), and
end to end: a change made through the practice admin UI between two runs is named by the second."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import requests

from helpers.run import drift
from helpers.run.record import HISTORY, append_history, verify, write_manifest
from helpers.safety.scrub import Scrubber
from helpers.steps import findings
from helpers.steps.results import StepResult
from tests.support import API_USER, ROOT, SCOPE, go, write_params

# ------------------------------------------------------------------------------ observations


def test_an_observation_is_found_before_the_step_changes_anything_and_left_after():
    r = StepResult("05_chat_service", "t")
    findings.observe(r, "text-out services", ("Other", "Chat A"))
    findings.observe(r, "text-out services", ["Chat A"])  # a second look before acting: found stays the first
    r.changed.append("set the number as an outbound chat account")
    findings.observe(r, "text-out services", ["SMS Chat", "Chat A"])
    findings.observe(r, "created", True)  # seen only after the step's own change: nothing found
    assert r.observed[findings.OBSERVATIONS] == {
        "text-out services": {"found": ["Chat A", "Other"], "left": ["Chat A", "SMS Chat"]},
        "created": {"left": True}}


@pytest.mark.parametrize("value", [None, {"a": 1}, object()])
def test_an_observation_is_a_plain_value(value):
    with pytest.raises(TypeError, match="is not str, int, float, bool or a list"):
        findings.observe(StepResult("02_define_user", "t"), "x", value)


def test_a_value_the_scrub_would_redact_is_kept_as_a_digest_only():
    token_shaped = "Z" * 40
    scrubber = Scrubber(["a-known-secret-value-of-some-length"])
    results = []
    for value in (token_shaped, token_shaped, "Y" * 40, "SMS Chat"):
        r = StepResult("05_chat_service", "t")
        findings.observe(r, "v", value)
        findings.digested(r, lambda text: scrubber.text(text) != text)
        results.append(r.observed[findings.OBSERVATIONS]["v"]["found"])
    same, again, other, plain = results
    assert same.startswith(findings.DIGEST) and token_shaped not in same
    assert same == again and same != other  # a change is still seen, never the value
    assert plain == "SMS Chat"


# ------------------------------------------------------------------------------ the comparison
def step(status="ok", summary="fine", **observations) -> dict:
    return {"status": status, "summary": summary, "observations": observations}


SEEN = {"found": "before this run acted", "left": "after this run's own change (it did not look before)"}
TYPE = "05_chat_service"


@pytest.mark.parametrize("before, after, kind, detail", [
    ({TYPE: step(type={"found": "x", "left": "text-out"})}, {TYPE: step(type={"found": "text-out", "left": "text-out"})},
     "unchanged", None),
    ({TYPE: step(type={"found": "unassigned", "left": "text-out"})},
     {TYPE: step(type={"found": "unassigned", "left": "text-out"})},
     "changes", ("text-out", "unassigned", SEEN["found"])),
    ({TYPE: step(roles={"left": ["SMS API"]})}, {TYPE: step(roles={"left": ["Other"]})},
     "changes", (["SMS API"], ["Other"], SEEN["left"])),
    ({TYPE: step(roles={"left": ["SMS API"]})}, {TYPE: step(roles={"found": ["SMS API"], "left": ["SMS API"]})},
     "unchanged", None),
    ({TYPE: step(lifetime={"left": 3600})}, {TYPE: step(lifetime={"found": 7200})}, "changes", (3600, 7200, SEEN["found"])),
    ({TYPE: step(disabled={"left": False})}, {TYPE: step(disabled={"found": True})}, "changes", (False, True, SEEN["found"])),
    ({TYPE: step("skipped", "dry run: would send")}, {TYPE: step(x={"found": 1})},
     "not_compared", "the previous run's step 05 was skipped: dry run: would send"),
    ({TYPE: step(x={"left": 1})}, {}, "not_compared", "this run did not run step 05"),
    ({}, {TYPE: step(x={"left": 1})}, "not_compared", "the previous run did not run step 05"),
    ({TYPE: step(x={"left": 1})}, {TYPE: step("action-required", "no admin secret")},
     "not_compared", "this run's step 05 ended action-required without observing it: no admin secret"),
    ({TYPE: step(x={"left": 1})}, {TYPE: step("failed", "cell [3] raised")},
     "not_compared", "this run's step 05 was failed: cell [3] raised"),
])
def test_compare(before, after, kind, detail):
    found = drift.compare(before, after)
    assert sum(len(v) for v in found.values()) == 1, found
    [item] = found[kind]
    if kind == "changes":
        assert (item["before"], item["after"], item["seen"]) == detail and not item["digest"]
    if kind == "not_compared":
        assert item["reason"] == detail


def test_a_digested_value_is_said_to_have_changed_never_what_it_was():
    old, new = findings.DIGEST + "aaaaaaaaaaaa", findings.DIGEST + "bbbbbbbbbbbb"
    found = drift.compare({TYPE: step(v={"left": old})}, {TYPE: step(v={"found": new})})
    [change] = found["changes"]
    assert change["digest"] and change["before"] is None and change["after"] is None
    assert drift.change_words(change) == "05 v: changed (a value the record never shows)"
    assert drift.compare({TYPE: step(v={"left": old})}, {TYPE: step(v={"found": old})})["unchanged"]


@pytest.mark.parametrize("record, line", [
    (None, "not compared: no comparison was recorded"),
    (drift.not_compared("no earlier run"), "not compared: no earlier run"),
    ({"compared": True, "changes": [], "not_compared": []}, "nothing changed"),
    ({"compared": True, "changes": [], "not_compared": [{}, {}]}, "nothing changed (2 not compared)"),
    ({"compared": True, "not_compared": [{}],
      "changes": [{"step": "05_chat_service", "name": "text-out services", "before": ["SMS Chat"], "after": []},
                  {"step": "02_define_user", "name": "disabled", "before": False, "after": True}]},
     "05 text-out services: SMS Chat -> (none); 02 disabled: false -> true (1 not compared)"),
])
def test_headline(record, line):
    assert drift.headline(record) == line


# ------------------------------------------------------------------------------ the previous run
def entry(step_id: str, status="ok", notebook=True, **observations) -> dict:
    result = StepResult(step_id, "t").finish(status, f"{status} here")
    if observations:
        result.observed[findings.OBSERVATIONS] = observations
    return {"result": result.to_dict(), "notebook": f"{step_id}.ipynb" if notebook else None}


def record_run(tenant_dir: Path, run_id: str, entries: list[dict], **summary) -> Path:
    """A run's record as the runner leaves it: summary.json, its manifest, its chained history row."""
    run_dir = tenant_dir / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps({"run_id": run_id, "started_at": run_id, "steps": entries,
                                                      **summary}), encoding="utf-8")
    append_history(tenant_dir / HISTORY, {"run_id": run_id, "manifest_sha256": write_manifest(run_dir)}, ["run_id"])
    return run_dir


ROLES = "02_define_user"


def current(tenant_dir: Path, roles=("SMS API",)) -> dict:
    run_dir = tenant_dir / "9-current"
    run_dir.mkdir(parents=True)  # this run's own folder, not yet in history.csv
    return drift.since_last_run(tenant_dir, run_dir, [entry(ROLES, roles={"found": list(roles), "left": list(roles)})])


def test_no_earlier_run_is_said(tmp_path):
    found = current(tmp_path / "t")
    assert not found["compared"] and "no earlier run" in found["why_not"] and found["headline"].startswith("not compared")


def test_the_newest_run_that_reached_the_steps_is_compared(tmp_path):
    tenant = tmp_path / "t"
    record_run(tenant, "1-old", [entry(ROLES, roles={"left": ["Old"]})])
    record_run(tenant, "2-prev", [entry(ROLES, roles={"left": ["Other"]})])
    record_run(tenant, "3-refused", [entry(ROLES, "failed", notebook=False)])  # no kernel could start: observed nothing
    found = current(tenant)
    assert found["compared"] and found["previous_run"]["run_id"] == "2-prev"
    assert found["headline"] == "02 roles: Other -> SMS API"
    assert found["previous_run"]["report"] == "../2-prev/summary.html"


def test_an_interrupted_previous_run_is_compared_for_what_it_observed(tmp_path):
    tenant = tmp_path / "t"
    record_run(tenant, "1-prev", [entry("00_preflight", v={"left": "refused"}),
                                  entry(ROLES, "skipped", notebook=False)], interrupted="SIGTERM")
    run_dir = tenant / "2-now"
    run_dir.mkdir()
    found = drift.since_last_run(tenant, run_dir, [entry("00_preflight", v={"found": "refused"}),
                                                   entry(ROLES, roles={"found": ["SMS API"]})])
    assert found["compared"] and found["previous_run"]["interrupted"] == "SIGTERM"
    assert found["unchanged"] == [{"step": "00_preflight", "name": "v"}]
    assert found["not_compared"] == [{"step": ROLES, "name": "roles",
                                      "reason": "the previous run's step 02 was skipped: skipped here"}]


@pytest.mark.parametrize("tamper", ["edit the previous summary", "edit an older history row", "remove the manifest"])
def test_a_record_that_fails_verification_is_never_compared(tmp_path, tamper):
    tenant = tmp_path / "t"
    record_run(tenant, "1-old", [entry(ROLES, roles={"left": ["Old"]})])
    run_dir = record_run(tenant, "2-prev", [entry(ROLES, roles={"left": ["Other"]})])
    if tamper == "edit the previous summary":
        path = run_dir / "summary.json"
        path.write_text(path.read_text().replace("Other", "SMS API"))
    elif tamper == "edit an older history row":
        path = tenant / HISTORY
        path.write_text(path.read_text().replace("1-old", "1-olt"))
    else:
        (run_dir / "manifest.json").unlink()
    found = current(tenant)
    assert not found["compared"] and found["changes"] == []
    assert found["why_not"].startswith("the tenant's record fails verification (")
    assert verify(tenant)  # the same record the verify command refuses


def test_problems_in_folders_the_comparison_does_not_read_do_not_stop_it(tmp_path):
    tenant = tmp_path / "t"
    older = record_run(tenant, "1-old", [entry(ROLES, roles={"left": ["Old"]})])
    record_run(tenant, "2-prev", [entry(ROLES, roles={"left": ["Other"]})])
    (older / "summary.json").write_text("{}")  # an older run altered
    (tenant / "2-killed").mkdir()  # what a run killed with SIGKILL leaves: a folder history.csv does not record
    found = current(tenant)
    assert found["compared"] and found["headline"] == "02 roles: Other -> SMS API"
    assert any("1-old/summary.json was altered" in p for p in verify(tenant))  # verify still names both
    assert any("2-killed/" in p for p in verify(tenant))


def test_a_previous_run_without_observations_is_not_compared(tmp_path):
    tenant = tmp_path / "t"
    record_run(tenant, "1-prev", [entry(ROLES)])  # recorded by a version before observations
    found = current(tenant)
    assert not found["compared"] and "recorded no observations" in found["why_not"]
    assert found["previous_run"]["run_id"] == "1-prev"


def test_an_unreadable_previous_summary_is_said(tmp_path):
    tenant = tmp_path / "t"
    run_dir = tmp_path / "t" / "1-prev"
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text("withheld: a secret survived scrubbing in this file", encoding="utf-8")
    append_history(tenant / HISTORY, {"run_id": "1-prev", "manifest_sha256": write_manifest(run_dir)}, ["run_id"])
    found = current(tenant)
    assert not found["compared"] and "summary.json (1-prev) is not readable" in found["why_not"]


def test_the_report_shows_the_changes_and_never_a_digested_value(tmp_path):
    record = {"compared": True, "why_not": None, "previous_run": {"run_id": "1-prev", "started_at": "then",
                                                                   "report": "../1-prev/summary.html"},
              "changes": [{"step": TYPE, "name": "text-out services", "before": ["SMS Chat"], "after": [],
                           "digest": False, "seen": SEEN["found"]},
                          {"step": ROLES, "name": "x", "before": None, "after": None, "digest": True,
                           "seen": SEEN["found"]}],
              "not_compared": [{"step": ROLES, "name": "roles", "reason": "this run's step 02 was <skipped>"}],
              "unchanged": [{"step": ROLES, "name": "team"}]}
    page = drift.html_section(record)
    assert "<td>text-out services</td><td>SMS Chat</td><td>(none)</td>" in page
    assert "<td>x</td><td>(not shown)</td><td>changed (not shown)</td>" in page
    assert "was &lt;skipped&gt;" in page and "Unchanged: 02 team." in page
    assert "href='../1-prev/summary.html'" in page


# ------------------------------------------------------------------------------ end to end
def through_the_admin_ui(emulator, path: str, form: dict) -> None:
    """A form post of the practice admin UI's own page (the browser sends its Origin)."""
    response = requests.post(f"{emulator.url}/_emulator/ui/tenants/{SCOPE}/{path}", data=form, timeout=10,
                             headers={"Origin": emulator.url}, allow_redirects=False)
    assert response.status_code in (302, 303), response.text


@pytest.mark.notebooks
def test_a_change_made_in_the_practice_admin_ui_is_named_by_the_next_run(tmp_path, emulator, console, ready):
    params = write_params(tmp_path, admin_user="admin")
    with mock.patch.dict(os.environ, ready):
        first, _ = go(tmp_path, params)
        assert first.exit_code == 0, first.summary["steps"]
        assert first.summary["drift"]["why_not"] == "no earlier run of this tenant in this --out (history.csv) reached the steps"
        # Between the runs, an administrator takes the number off the chat service and disables the API user.
        through_the_admin_ui(emulator, "services/SMS Chat", {})
        through_the_admin_ui(emulator, f"users/{API_USER}", {"role": ["SMS API"], "disabled": "on"})
        second, printed = go(tmp_path, params)
    assert second.exit_code == 2
    found = second.summary["drift"]
    assert found["compared"] and found["previous_run"]["run_id"] == first.run_dir.name
    changes = {(c["step"], c["name"]): (c["before"], c["after"]) for c in found["changes"]}
    assert changes[("05_chat_service", "text-out services")] == (["SMS Chat"], [])
    assert changes[("02_define_user", "disabled")] == (False, True)
    assert changes[("03_api_secret", "token request with the API secret")] == ("issued", "rejected")
    assert ("02_define_user", "roles") not in changes and {"step": "02_define_user", "name": "roles"} in found["unchanged"]
    # What the token step could not observe this time is not called changed.
    assert {"step": "04_access_token", "name": "token lifetime (s)",
            "reason": found["not_compared"][0]["reason"]} in found["not_compared"]
    assert found["not_compared"][0]["reason"].startswith("this run's step 04 ended action-required without observing it")

    recorded = json.loads((second.run_dir / "summary.json").read_text())["drift"]
    assert recorded["changes"] == found["changes"]
    page = (second.run_dir / "summary.html").read_text()
    assert "<td>05_chat_service</td><td>text-out services</td><td>SMS Chat</td><td>(none)</td>" in page
    row = (second.run_dir.parent / HISTORY).read_text().splitlines()[-1]
    assert "05 text-out services: SMS Chat -> (none)" in row and "02 disabled: false -> true" in row
    assert verify(second.run_dir.parent) == []
    shown = subprocess.run([sys.executable, "-m", "helpers", "history", "--out", str(tmp_path / "outputs")],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert any("05 text-out services: SMS Chat -> (none)" in line for line in shown.stdout.splitlines())

    # A previous run whose record fails verification is never compared against, and the run says why.
    (second.run_dir / "summary.json").write_text("{}")
    with mock.patch.dict(os.environ, ready):
        third, _ = go(tmp_path, params)
    assert not third.summary["drift"]["compared"]
    assert f"{second.run_dir.name}/summary.json was altered" in third.summary["drift"]["why_not"]



@pytest.mark.browser
def test_in_a_browser_a_change_in_the_admin_ui_shows_on_the_next_report(tmp_path, emulator, ready):
    from selenium.webdriver.common.by import By

    from tests.support import SMS_NUMBER
    from tests.support.browser import AdminUI, keep_screenshot, start_chromium

    params = write_params(tmp_path, admin_user="admin")
    browser = start_chromium(tmp_path / "chrome", size="1280,1400")
    try:
        with mock.patch.dict(os.environ, ready):
            assert go(tmp_path, params)[0].exit_code == 0
            page = AdminUI(browser)
            browser.get(f"{emulator.url}/_emulator/")
            page.menu("Services & Campaigns")
            page.open("SMS Chat")
            page.checkbox("Outbound chat accounts", SMS_NUMBER).click()  # untick the number
            assert page.press("Save") == "Saved chat service 'SMS Chat': Outbound chat accounts none."
            second, _ = go(tmp_path, params)
        browser.get((second.run_dir / "summary.html").as_uri())
        section = browser.find_element(By.XPATH, "//h2[normalize-space()='Changed since the last run']")
        table = section.find_element(By.XPATH, "following-sibling::table[1]")
        assert "05_chat_service text-out services SMS Chat (none) before this run acted" in table.text
        keep_screenshot(browser, tmp_path, "changed-since-the-last-run.png")
    finally:
        browser.quit()


@pytest.mark.notebooks
def test_the_fleet_page_says_what_changed_since_each_tenants_last_run(tmp_path, emulator, ready):
    import io

    from helpers.run.fleet import run_fleet
    from helpers.run.runner import RunOptions
    from tests.support import private

    params = write_params(tmp_path, admin_user="admin")
    with mock.patch.dict(os.environ, ready):  # one tenant: the generic secret variables serve it
        assert go(tmp_path, params)[0].exit_code == 0
        through_the_admin_ui(emulator, "services/SMS Chat", {})
        fleet = run_fleet(RunOptions(params_path="", out_dir=tmp_path / "outputs", private_root=private(tmp_path)),
                          [params], 1, io.StringIO())
    [tenant] = json.loads((fleet.folder / "fleet-summary.json").read_text())["tenants"]
    assert tenant["changed_since_last_run"].startswith("05 text-out services: SMS Chat -> (none)")
    page = (fleet.folder / "fleet-summary.html").read_text()
    assert "<th>changed since the last run</th>" in page
    assert f"<td>{html.escape(tenant['changed_since_last_run'])}</td></tr>" in page
