"""The practice workspace `make lab` opens: copies of the runbook pages, brought up to date at each
start, an engineer's work set aside (never lost) when its page changes or on --reset."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from helpers.tools import workspace


@pytest.fixture
def source(tmp_path):
    """A stand-in for notebooks/: two pages and a landing page."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("00_preflight.ipynb", "01_grant_privilege.ipynb"):
        (folder / name).write_text(json.dumps({"cells": [], "page": name}), encoding="utf-8")
    (folder / "README.md").write_text("# Landing page\n", encoding="utf-8")
    return folder


def at(hour: int):
    return lambda: datetime(2026, 12, 3, hour, 0, 0, tzinfo=UTC)


def test_the_first_start_copies_every_page(tmp_path, source):
    said = []
    folder = workspace.prepare(tmp_path / "practice", source, say=said.append)
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        ".sources.json", "00_preflight.ipynb", "01_grant_privilege.ipynb", "README.md"]
    assert (folder / "README.md").read_text() == "# Landing page\n"
    assert said == []


def test_an_engineers_work_stays_while_its_page_is_unchanged(tmp_path, source):
    folder = workspace.prepare(tmp_path / "practice", source)
    (folder / "01_grant_privilege.ipynb").write_text('{"cells": ["my result"]}', encoding="utf-8")
    workspace.prepare(folder, source)
    assert (folder / "01_grant_privilege.ipynb").read_text() == '{"cells": ["my result"]}'


def test_a_changed_page_replaces_an_untouched_copy_silently(tmp_path, source):
    folder = workspace.prepare(tmp_path / "practice", source)
    (source / "00_preflight.ipynb").write_text('{"cells": ["new wording"]}', encoding="utf-8")
    said = []
    workspace.prepare(folder, source, say=said.append)
    assert (folder / "00_preflight.ipynb").read_text() == '{"cells": ["new wording"]}'
    assert said == [] and not (folder / workspace.PREVIOUS).exists()


def test_a_changed_page_sets_the_engineers_copy_aside_before_replacing_it(tmp_path, source):
    folder = workspace.prepare(tmp_path / "practice", source)
    (folder / "01_grant_privilege.ipynb").write_text('{"cells": ["my result"]}', encoding="utf-8")
    (source / "01_grant_privilege.ipynb").write_text('{"cells": ["new wording"]}', encoding="utf-8")
    said = []
    workspace.prepare(folder, source, say=said.append, now=at(9))
    aside = folder / workspace.PREVIOUS / "01_grant_privilege-20261203T090000Z.ipynb"
    assert aside.read_text() == '{"cells": ["my result"]}'
    assert (folder / "01_grant_privilege.ipynb").read_text() == '{"cells": ["new wording"]}'
    assert said == [f"01_grant_privilege.ipynb: the runbook page changed; your copy is kept as {aside}"]


def test_reset_replaces_every_copy_and_loses_no_work(tmp_path, source):
    folder = workspace.prepare(tmp_path / "practice", source)
    (folder / "00_preflight.ipynb").write_text('{"cells": ["day one"]}', encoding="utf-8")
    said = []
    workspace.prepare(folder, source, reset=True, say=said.append, now=at(10))
    assert (folder / "00_preflight.ipynb").read_bytes() == (source / "00_preflight.ipynb").read_bytes()
    assert (folder / workspace.PREVIOUS / "00_preflight-20261203T100000Z.ipynb").read_text() == '{"cells": ["day one"]}'
    assert len(said) == 1 and said[0].startswith("00_preflight.ipynb: reset; your copy is kept as ")


def test_a_lost_record_never_overwrites_work(tmp_path, source):
    folder = workspace.prepare(tmp_path / "practice", source)
    (folder / "01_grant_privilege.ipynb").write_text('{"cells": ["my result"]}', encoding="utf-8")
    (folder / workspace.SOURCES).write_text("not json", encoding="utf-8")
    workspace.prepare(folder, source, now=at(11))
    assert (folder / workspace.PREVIOUS / "01_grant_privilege-20261203T110000Z.ipynb").read_text() == (
        '{"cells": ["my result"]}')


def test_the_default_workspace_is_ignored_by_git():
    """outputs/ is ignored except its README and .gitkeep: the copies and their records stay out of git."""
    assert workspace.PRACTICE.parent == workspace.ROOT / "outputs"
    ignore = (workspace.ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "outputs/*" in ignore
