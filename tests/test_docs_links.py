"""The README stays one page a newcomer reads top to bottom, and the depth it moved to docs/ stays reachable:
every relative link of README.md and docs/*.md leads to a file that exists, and every #anchor to a heading
of that page (GitHub's slugs). Plain text and the standard library only: nothing here imports the project,
so these tests run whatever the state of the code."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 300
TABLE_START = "<!-- runbook-table:start (built from the step declarations: python -m helpers.tools.build) -->"
TABLE_END = "<!-- runbook-table:end -->"

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
INLINE_LINK = re.compile(r"\]\(\s*<?([^()\s<>]+)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"""<a\b[^>]*?\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
ATX_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with inline code spans blanked out."""
    lines, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        opened = FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        lines.append((number, CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)))
    return lines


def links(text: str) -> list[tuple[int, str]]:
    """Every link target outside code: inline links and images, reference definitions, <a href> and <img src>."""
    found = []
    for number, line in prose_lines(text):
        for pattern in (INLINE_LINK, REFERENCE_DEFINITION, HTML_LINK):
            found += [(number, match.group(1)) for match in pattern.finditer(line)]
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, punctuation dropped, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link or image becomes its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors a page offers: one per heading (repeats get -1, -2, … as on GitHub), and explicit <a id>."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    raw = text.splitlines()
    fenced = {number for number in range(1, len(raw) + 1)} - {number for number, _ in prose_lines(text)}
    for number, line in enumerate(raw, 1):
        if number in fenced:
            continue
        match = ATX_HEADING.match(line)
        heading = match.group(2) if match else None
        underline = raw[number] if number < len(raw) else ""
        if heading is None and line.strip() and not line.lstrip().startswith("|") and number + 1 not in fenced \
                and re.fullmatch(r"\s{0,3}(=+|-+)\s*", underline):
            heading = line  # a setext heading
        if heading is not None:
            base = slug(heading)
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(match.group(1) for match in HTML_ANCHOR.finditer(line))
    return found


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the page's relative links, one line each; empty when every link leads somewhere."""
    problems = []
    for number, target in links(page.read_text(encoding="utf-8")):
        if SCHEME.match(target):
            continue  # http:, https:, mailto: … are not this test's business
        path_part, _, anchor = target.partition("#")
        path_part, anchor = unquote(path_part), unquote(anchor)
        where = f"{page.relative_to(root)}:{number}: {target}"
        resolved = ((root / path_part.lstrip("/")) if path_part.startswith("/") else (page.parent / path_part)) \
            if path_part else page
        resolved = resolved.resolve()
        if not resolved.is_relative_to(root.resolve()):
            problems.append(f"{where}: leads out of the repository")
            continue
        if not resolved.is_file():
            problems.append(f"{where}: {resolved.relative_to(root.resolve())} is not a file")
            continue
        if anchor and resolved.suffix.lower() == ".md" and anchor not in anchors(resolved.read_text(encoding="utf-8")):
            problems.append(f"{where}: {resolved.relative_to(root.resolve())} has no heading with the anchor "
                            f"#{anchor}")
    return problems


def test_the_readme_is_at_most_300_lines():
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count <= MAX_README_LINES, f"README.md has {count} lines; move depth into a page under docs/"


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading(page):
    problems = broken_links(page)
    assert not problems, "\n".join(problems)


def test_the_readme_links_at_least_three_docs_pages():
    linked = set()
    for _, target in links(README.read_text(encoding="utf-8")):
        path = unquote(target.partition("#")[0])
        if path and not SCHEME.match(path):
            resolved = (ROOT / path).resolve()
            if resolved.parent == DOCS.resolve() and resolved.suffix == ".md":
                linked.add(resolved.name)
    assert len(linked) >= 3, f"the README links only these docs pages: {sorted(linked)}"


def test_the_runbook_table_sits_between_its_markers():
    """The builder (python -m helpers.tools.build) rewrites exactly what lies between these two lines."""
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines.count(TABLE_START) == 1 and lines.count(TABLE_END) == 1
    start, end = lines.index(TABLE_START), lines.index(TABLE_END)
    table = lines[start + 1:end]
    assert len(table) >= 3 and all(line.startswith("|") for line in table), table
    assert table[0].startswith("| Notebook | Step |") and set(table[1]) <= set("|-: ")


def test_the_checker_finds_a_missing_file_a_missing_heading_and_ignores_code(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## The console (`/_emulator/`, emulator only)\n\n"
                                               "## Exit codes → task states\n\n## Twice\n\n## Twice\n",
                                               encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n[ok](docs/page.md#the-console-_emulator-emulator-only), "
                      "[ok](docs/page.md#exit-codes--task-states), [ok](docs/page.md#twice-1), [ok](#title), "
                      "[ok](https://example.com/nowhere.md), `[code](not-checked.md)`\n\n"
                      "```\n[fenced](not-checked-either.md)\n```\n\n"
                      "[gone](docs/gone.md) [no heading](docs/page.md#nowhere) [out](../outside.md)\n",
                      encoding="utf-8")
    problems = broken_links(readme, root=tmp_path)
    assert len(problems) == 3, problems
    assert "docs/gone.md is not a file" in problems[0]
    assert "has no heading with the anchor #nowhere" in problems[1]
    assert "leads out of the repository" in problems[2]
