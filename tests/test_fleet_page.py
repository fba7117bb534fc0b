"""The fleet's page (fleet-summary.html) for a person reading about many tenants: counts per outcome
first, then the grid with the steps' names, then the to-do lists in the order that unblocks the most;
a tenant refused before any step shows its parameter and the fix (carried from its run through the
gate). The page's layout from a fleet's data, then a real fleet (workers, papermill, the emulator)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from helpers.run.fleet import run_fleet
from helpers.run.fleet_page import render
from helpers.run.runner import RunOptions
from helpers.steps import STEPS
from tests.support import private
from tests.support.html_pages import Page


def entry(status: str, actions=(), failure=None, page=None) -> dict:
    return {"status": status, "summary": f"summary: {status}", "notebook": None, "page": page,
            "actions": list(actions), "failure": failure}


def tenant(name: str, code: int, steps: dict, refusal=None) -> dict:
    meanings = {0: "all steps ok", 1: "a step failed", 2: "a person must act", 3: "bad parameters"}
    return {"tenant": name, "exit_code": code, "exit_meaning": meanings[code], "run_dir": None, "refusal": refusal,
            "steps": steps}


REFUSAL = {"parameter": "read_timeout", "problem": "is out of range (more than 0 and at most 3600 seconds)",
           "fix": "give read_timeout in seconds, more than 0 and at most 3600, e.g. 30", "message": "…"}
FLEET = {"fleet_id": "20260101T000000Z", "duration_s": 1.0, "jobs": 2, "exit_code": 3, "exit_meaning": "bad parameters",
         "tenants": [
             tenant("a.example.com", 2, {"00_preflight": entry("ok"),
                                         "03_api_secret": entry("action-required", ["generate the secret"])}),
             tenant("b.example.com", 2, {"00_preflight": entry("ok"),
                                         "01_grant_privilege": entry("action-required", ["grant the privilege"])}),
             tenant("c.example.com", 1, {"00_preflight": entry("ok"),
                                         "04_access_token": entry("failed", failure="cell [3] raised StepFailed")}),
             tenant("d.example.com", 0, {s: entry("ok") for s in STEPS}),
             tenant("e.yaml", 3, {}, refusal=REFUSAL),
         ]}


def test_the_page_starts_with_counts_per_outcome_then_the_grid_with_step_names(tmp_path):
    page = Page(render(FLEET, tmp_path))
    assert page.headings[1:4] == ["Tenants by outcome", "Tenants by step",
                                  "What people must do, in the order that unblocks the most"]
    counts = {row[0].split(":")[0]: int(row[1]) for row in page.rows("outcomes")[1:]}
    assert counts == {"exit 3": 1, "exit 1": 1, "exit 2": 2, "exit 0": 1}
    assert [row[0].split(":")[0] for row in page.rows("outcomes")[1:]] == ["exit 3", "exit 1", "exit 2", "exit 0"]
    assert page.rows("outcomes")[3][2] == "a.example.com, b.example.com"  # who, for what needs someone
    header = page.rows("grid")[0]
    assert header == ["tenant", "00 preflight", "01 grant privilege", "02 define user", "03 api secret",
                      "04 access token", "05 chat service", "06 smoke test", "outcome", "changed since the last run"]
    assert [h["attrs"]["title"] for h in page.tables["grid"][0][1:-2]] == [s.title for s in STEPS.values()]


def test_the_to_do_lists_follow_what_unblocks_what(tmp_path):
    """b's step 01 unblocks more than a's step 03, whatever the tenants' order; a refused run comes first."""
    page = Page(render(FLEET, tmp_path))
    todo = page.headings[page.headings.index("What people must do, in the order that unblocks the most") + 1:]
    assert todo == ["Before any step: runs refused", "Step 01 grant privilege (unblocks steps 02–06)",
                    "Step 03 api secret (unblocks steps 04–06)", "Step 04 access token (unblocks steps 05–06)"]
    text = page.text
    assert text.index("grant the privilege") < text.index("generate the secret") < text.index("raised StepFailed")


def test_a_refused_tenant_shows_its_parameter_and_the_fix(tmp_path):
    page = Page(render(FLEET, tmp_path))
    row = next(r for r in page.rows("grid") if r[0] == "e.yaml")
    said = ("parameter 'read_timeout': is out of range (more than 0 and at most 3600 seconds). Fix: give "
            "read_timeout in seconds, more than 0 and at most 3600, e.g. 30")
    assert row[-2].endswith(said) and row[1:-2] == [""] * len(STEPS) and row[-1] == "not run"
    assert f"e.yaml (exit 3): {said}" in page.text


@pytest.mark.notebooks
def test_a_real_fleet_carries_a_refused_tenants_parameter_and_fix_to_its_page(tmp_path):
    folder = tmp_path / "fleet"
    folder.mkdir()
    good = {"tenant_url": "emulator", "scope": "tenant01.practice.brightpattern.com", "practice_mode": True}
    (folder / "tenant01.yaml").write_text(yaml.safe_dump(good), encoding="utf-8")
    bad = {**good, "scope": "tenant02.practice.brightpattern.com", "connect_timeout": 0}
    (folder / "tenant02.yaml").write_text(yaml.safe_dump(bad), encoding="utf-8")
    out = io.StringIO()
    outcome = run_fleet(RunOptions(params_path="", out_dir=tmp_path / "outputs", private_root=private(tmp_path),
                                   emulator=True, emulator_seed="fleet", only=["0,4"]), [folder], 2, out)
    assert outcome.exit_code == 3, out.getvalue()
    summary = json.loads((outcome.folder / "fleet-summary.json").read_text())
    refused = next(t for t in summary["tenants"] if t["exit_code"] == 3)
    assert refused["refusal"]["parameter"] == "connect_timeout" and refused["refusal"]["fix"]
    page = Page.of(outcome.folder / "fleet-summary.html")
    said = f"parameter 'connect_timeout': {refused['refusal']['problem']}. Fix: {refused['refusal']['fix']}"
    assert said in page.text and refused["refusal"]["problem"] in out.getvalue()  # the console said the same
    counts = {row[0].split(":")[0]: int(row[1]) for row in page.rows("outcomes")[1:]}
    assert counts == {"exit 3": 1, "exit 2": 1}  # step 04 without the API secret: a person must act
    links = page.links
    assert links and not [h for h in links if ".ipynb" in h]
    assert all((outcome.folder / h).resolve().is_file() for h in links)
    assert {Path(h).name for h in links} == {"summary.html", "00_preflight.html", "04_access_token.html"}
