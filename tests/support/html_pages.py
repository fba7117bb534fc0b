"""Reading the record's HTML pages as a browser's parser would (html.parser): links, scripts, tables by id."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class Page(HTMLParser):
    """The links, scripts, meta tags and the cells of each table (by the table's id) of one page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.scripts = 0
        self.meta: list[dict] = []
        self.tables: dict[str, list[list[dict]]] = {}  # id -> rows -> cells {"tag", "text", "attrs"}
        self._table: str | None = None
        self._cell: dict | None = None
        self.title = ""
        self._in_title = False
        self.headings: list[str] = []
        self.texts: list[str] = []
        self._heading: list[str] | None = None
        self.feed(text)

    @classmethod
    def of(cls, path: Path) -> Page:
        return cls(Path(path).read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "script":
            self.scripts += 1
        if tag == "meta":
            self.meta.append(attrs)
        if tag == "title":
            self._in_title = True
        if tag in ("h1", "h2", "h3"):
            self._heading = []
        if tag == "table":
            self._table = attrs.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        if tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        if tag in ("td", "th") and self._table is not None:
            self._cell = {"tag": tag, "text": "", "attrs": attrs}
            self.tables[self._table][-1].append(self._cell)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None
        if tag in ("td", "th"):
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        self.texts.append(data)
        if self._in_title:
            self.title += data
        if self._heading is not None:
            self._heading.append(data)
        if self._cell is not None:
            self._cell["text"] += data

    @property
    def text(self) -> str:
        """What a reader sees, without the markup."""
        return "".join(self.texts)

    def rows(self, table: str) -> list[list[str]]:
        """The table's cells' texts, stripped, row by row (the header row first)."""
        return [[c["text"].strip() for c in row] for row in self.tables[table]]
