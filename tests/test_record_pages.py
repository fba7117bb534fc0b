"""The record's pages for people: each step's output notebook rendered as an HTML page beside it
(nbconvert), through the gate, in the manifest and checked by `verify`; summary.html links those pages
and never a .ipynb (which a browser shows as raw JSON). Real runs: the emulator, papermill, nbconvert."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

import pytest

from emulator import EmulatorServer
from helpers.run.record import verify
from helpers.run.runner import Collaborators
from tests.support import CANARY_ADMIN, CANARY_API, ROOT, go, ready_seed, write_params
from tests.support.html_pages import Page

pytestmark = pytest.mark.notebooks


def resolves(base: Path, href: str) -> Path:
    return (base / href.split("#")[0]).resolve()


def test_summary_links_each_step_page_and_never_a_notebook(tmp_path):
    outcome, printed = go(tmp_path, ROOT / "params" / "demo.yaml", emulator=True)
    assert outcome.exit_code == 0, printed
    run_dir = outcome.run_dir
    summary = Page.of(run_dir / "summary.html")
    assert summary.links and not [h for h in summary.links if ".ipynb" in h]
    pages = [h for h in summary.links if h.endswith(".html")]
    assert sorted(set(pages)) == [f"{e['result']['step']}.html" for e in outcome.summary["steps"]]
    assert all(resolves(run_dir, h).is_file() for h in summary.links)
    # the status cell itself opens the page: what a person clicks first
    statuses = [row[2] for row in summary.rows("steps")[1:]]
    assert statuses == [e["result"]["status"] for e in outcome.summary["steps"]]
    assert json.loads((run_dir / "summary.json").read_text())["steps"][4]["page"] == "04_access_token.html"

    listed = json.loads((run_dir / "manifest.json").read_text())["files"]
    for entry in outcome.summary["steps"]:
        step = entry["result"]["step"]
        page = Page.of(run_dir / f"{step}.html")
        assert f"{step}.html" in listed
        assert page.scripts == 0 and not [h for h in page.links if ".ipynb" in h]
        assert any(m.get("http-equiv") == "Content-Security-Policy" and "default-src 'none'" in m["content"]
                   for m in page.meta)  # nothing runs, nothing is fetched: readable offline
        assert page.headings[0].startswith(f"Step {int(step[:2]) + 1} of 7: ")
        assert f"Result of step {step[:2]}: {entry['result']['status']}" in page.text  # the notebook's verdict
        assert 'tenant_url = "emulator"' in page.text  # the parameters the run gave it
        assert "StepNotebook(" not in page.text  # the plumbing stays in the notebook
        assert "summary.html" in page.links and all(resolves(run_dir, h).is_file() for h in page.links
                                                     if not h.startswith(("http", "#")))
    assert verify(run_dir.parent) == []


def test_an_altered_step_page_is_found_by_verify(tmp_path):
    outcome, printed = go(tmp_path, ROOT / "params" / "demo.yaml", emulator=True, only=["0"])
    page = outcome.run_dir / "00_preflight.html"
    assert outcome.exit_code == 0 and page.is_file(), printed
    page.write_text(page.read_text().replace("preflight", "preflight!"))
    assert verify(outcome.run_dir.parent) == [f"{outcome.run_dir.name}/00_preflight.html was altered"]


def test_a_step_page_passes_the_gate(tmp_path):
    """Whatever the renderer puts on a page, the gate scrubs it before it lands, and the ledger names it."""
    with EmulatorServer(seed=str(ready_seed(tmp_path))) as server, \
            mock.patch.dict(os.environ, {"BP_EMULATOR_URL": server.url, "BP_ADMIN_SECRET": CANARY_ADMIN,
                                         "BP_API_SECRET": CANARY_API}):
        leaky = Collaborators(render_step_page=lambda notebook, where: f"<p>{where.step_id} {CANARY_ADMIN}</p>")
        outcome, printed = go(tmp_path, write_params(tmp_path), only=["0"], collaborators=leaky)
    page = outcome.run_dir / "00_preflight.html"
    assert outcome.exit_code == 0, printed
    assert CANARY_ADMIN not in page.read_text() and "00_preflight" in page.read_text()
    assert str(page.resolve()) in outcome.gate.ledger


def test_a_page_that_cannot_be_rendered_is_a_gap_in_the_record(tmp_path):
    def broken(notebook, where):
        raise RuntimeError("no template")

    outcome, printed = go(tmp_path, ROOT / "params" / "demo.yaml", emulator=True, only=["0"],
                          collaborators=Collaborators(render_step_page=broken))
    assert outcome.exit_code == 1 and "00_preflight.html: not rendered (RuntimeError)" in printed
    assert not (outcome.run_dir / "00_preflight.html").exists()
    summary = Page.of(outcome.run_dir / "summary.html")
    assert summary.links == [] and summary.rows("steps")[1][-1] == "(no page)"
    assert verify(outcome.run_dir.parent) == []
