"""`python -m helpers history`: a page per tenant whose strip is each step's recorded status run after
run; its --help examples find the demo's records; a tenant or folder not found gets the nearest match
(exit 3, with the fix)."""

from __future__ import annotations

import csv
import re
import shlex

import pytest

from helpers.cli import EXAMPLES
from helpers.run.history import nearest
from helpers.steps import STEPS
from tests.support import ROOT, cli, go, write_params
from tests.support.html_pages import Page

DEMO_FOLDER = "emulator_example.brightpattern.com"  # what `make demo` (params/demo.yaml, --emulator) writes


@pytest.mark.notebooks
def test_history_writes_a_page_whose_strip_is_the_recorded_statuses(tmp_path):
    first, printed = go(tmp_path, write_params(tmp_path, admin_user=""), emulator=True, only=["1"])
    assert first.exit_code == 2, printed
    second, printed = go(tmp_path, ROOT / "params" / "demo.yaml", emulator=True, only=["0,1,2"])
    assert second.exit_code == 0, printed
    out = tmp_path / "outputs"
    proc = cli(tmp_path, "history", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page_path = out / DEMO_FOLDER / "history.html"
    assert f"History page: {page_path}" in proc.stdout.splitlines()
    with (out / DEMO_FOLDER / "history.csv").open(newline="") as handle:
        recorded = list(csv.DictReader(handle))
    page = Page.of(page_path)
    strip = page.tables["strip"]
    assert [cell["text"] for cell in strip[0][1:]] == [r["run_id"][4:13] for r in recorded]  # oldest on the left
    for step, row in zip(STEPS, strip[1:], strict=False):
        assert row[0]["text"] == f"{step[:2]} {step[3:].replace('_', ' ')}"
        assert [cell["attrs"]["data-status"] for cell in row[1:]] == [r[step] for r in recorded], step
    assert [c["attrs"]["data-status"] for c in strip[2][1:]] == ["action-required", "changed"]  # 01 grant privilege
    assert [c["text"] for c in strip[-1][1:]] == ["2", "0"]  # the exit codes
    assert page.scripts == 0 and all((page_path.parent / h).is_file() for h in page.links)
    assert {h.split("/")[0] for h in page.links} == {first.run_dir.name, second.run_dir.name}


@pytest.mark.notebooks
def test_the_help_examples_find_the_demos_records(tmp_path):
    outcome, printed = go(tmp_path, ROOT / "params" / "demo.yaml", emulator=True, only=["0"])
    assert outcome.exit_code == 0 and outcome.run_dir.parent.name == DEMO_FOLDER, printed
    out = tmp_path / "outputs"
    examples = [shlex.split(line.split("#")[0])[3:] for line in EXAMPLES.splitlines()
                if re.match(r"\s+python -m helpers (history|verify) ", line)]
    assert [e[0] for e in examples] == ["history", "verify"]
    for args in examples:  # the examples as written, against this test's records folder instead of ./outputs
        args = [str(out / a.removeprefix("outputs/")) if a.startswith("outputs/") else a for a in args]
        proc = cli(tmp_path, *args, *(["--out", str(out)] if args[0] == "history" else []))
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        assert "No runs" not in proc.stdout and "error" not in proc.stdout


def test_a_tenant_or_folder_not_found_gets_the_nearest_match(tmp_path):
    out = tmp_path / "outputs"
    for name in (DEMO_FOLDER, "emulator_tenant01.practice.brightpattern.com"):
        (out / name).mkdir(parents=True)
        (out / name / "history.csv").write_text("run_id\n", encoding="utf-8")
    proc = cli(tmp_path, "history", "--out", str(out), "--tenant", "example.brightpattern.com")
    assert proc.returncode == 3
    assert proc.stdout.strip() == (f"error: parameter '--tenant': no records for 'example.brightpattern.com' under {out}. "
                                   f"Fix: did you mean --tenant {DEMO_FOLDER}?")
    proc = cli(tmp_path, "verify", str(out / "example.brightpattern.com"))
    assert proc.returncode == 3
    assert proc.stdout.strip().endswith(f"Fix: did you mean {out / DEMO_FOLDER}?")
    proc = cli(tmp_path, "history", "--out", str(tmp_path / "outptus"))
    assert proc.returncode == 3 and "parameter '--out'" in proc.stdout and "Fix: give the records folder" in proc.stdout


def test_nearest_suggests_only_what_is_close():
    names = [DEMO_FOLDER, "emulator_tenant01.practice.brightpattern.com", "acme.brightpattern.com"]
    assert nearest("example.brightpattern.com", names) == DEMO_FOLDER
    assert nearest("tenant01.practice.brightpattern.com", names) == "emulator_tenant01.practice.brightpattern.com"
    assert nearest("acme.brightpatern.com", names) == "acme.brightpattern.com"  # a typo
    assert nearest("zzz", names) is None


def test_an_unreadable_history_is_named_and_the_others_still_shown(tmp_path):
    out = tmp_path / "outputs"
    for name in ("good.example.com", "bad.example.com"):
        (out / name).mkdir(parents=True)
    (out / "good.example.com" / "history.csv").write_text("run_id,exit_code\n20260101T000000Z,0\n", encoding="utf-8")
    (out / "bad.example.com" / "history.csv").write_bytes(b"run_id\n\xff\xfe\n")
    proc = cli(tmp_path, "history", "--out", str(out))
    assert proc.returncode == 1
    assert (f"error: cannot read {out / 'bad.example.com' / 'history.csv'} (UnicodeDecodeError). "
            f"Fix: python -m helpers verify {out / 'bad.example.com'} says what is intact") in proc.stdout
    assert "20260101T000000Z" in proc.stdout and (out / "good.example.com" / "history.html").is_file()
    assert not (out / "bad.example.com" / "history.html").exists()
