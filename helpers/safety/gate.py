"""One gate for everything that leaves the process.

Every file the product writes, every line it prints and every log record it emits passes through a
`Gate`: it scrubs (helpers/safety/scrub.py), then scans what is left, and fails closed. A file where a
secret survived is withheld (its content replaced by a notice), a line where one survived is replaced
by one line saying so; both are counted in `gate.leaks`, which makes the run exit 1.

The gate knows secrets added later (`know`: a secret generated during the run), and values the
parameter file gave (`keep`): those are never redacted as token-shaped strings (the runner refuses a
parameter that holds a secret, so a kept value is not one).

The gate keeps a ledger of what it wrote and printed (`gate.ledger`: resolved paths and stream
names), so a test can check that nothing left the process without it.

    gate = Gate(secrets, keep=params.public().values())
    gate.write_json(run_dir / "summary.json", summary)
    gate.print("Report: …", sys.stdout)
    logging.getLogger().addHandler(gate.handler(sys.stderr, logging.INFO, fmt))
    gate.publish(run_dir / "summary.json", store, "tenant/run/summary.json", create=True)  # to S3
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from helpers.safety.scrub import Scanner, Scrubber, scrub_and_scan
from helpers.safety.scrub import withhold as withhold_file  # Gate.publish has a keyword named withhold

LINE_WITHHELD = "(line withheld: a secret survived scrubbing)"


def _stream_name(stream) -> str:
    if stream is sys.stdout or stream is sys.__stdout__:
        return "<stdout>"
    if stream is sys.stderr or stream is sys.__stderr__:
        return "<stderr>"
    return getattr(stream, "gate_name", None) or f"<stream {type(stream).__name__}>"


class Gate:
    """Scrub, then scan, then write or print; fail closed. See the module's docstring."""

    def __init__(self, secrets: Iterable[str] = (), *, keep: Iterable[object] = ()):
        self.secrets: set[str] = set()
        self.kept: set[str] = set()
        self.ledger: dict[str, str] = {}  # what left the process: resolved path or stream name -> how
        self.leaks: dict[str, list[str]] = {}  # what was withheld: path or stream -> the kinds that survived
        self.keep(keep)
        self.know(secrets)

    # -- what the gate knows --------------------------------------------------------------------
    def know(self, secrets: Iterable[str]) -> None:
        """Add secrets (a secret generated during the run); the gate never forgets one."""
        self.secrets |= {s for s in secrets if isinstance(s, str) and s}
        self.scrubber = Scrubber(sorted(self.secrets), keep=self.kept)
        self.scanner = Scanner(sorted(self.secrets), keep=self.kept)

    def keep(self, values: Iterable[object]) -> None:
        """Parameter values: never redacted as token-shaped strings (a known secret always is)."""
        self.kept |= {v.strip() for v in values if isinstance(v, str) and v.strip()}
        self.know(())

    # -- texts -----------------------------------------------------------------------------------
    def clean(self, text: str) -> tuple[str, list[str]]:
        """The text scrubbed, and what survived the scrub in it (empty when clean)."""
        text = self.scrubber.text(text)
        return text, self.scanner.text_leaks(text)

    def line(self, text: str, where: str = "<line>") -> str:
        """A line as it may leave: scrubbed, or the notice when a secret survived."""
        text, leaks = self.clean(text)
        if leaks:
            self.leaks.setdefault(where, []).extend(k for k in leaks if k not in self.leaks.get(where, []))
            return LINE_WITHHELD
        return text

    def data(self, data):
        """A JSON structure with every string and key scrubbed."""
        return self.scrubber.data(data)

    def handed(self, data, where: str):
        """A JSON structure as it may be handed to another process (a fleet's worker to the fleet, the
        DAG's XCom): scrubbed, or None when a secret survived the scrub (counted as withheld)."""
        clean = self.data(data)
        leaks = self.scanner.text_leaks(json.dumps(clean, ensure_ascii=False, default=str))
        if leaks:
            self.leaks[where] = leaks
            return None
        self.ledger.setdefault(where, "handed")
        return clean

    # -- streams ---------------------------------------------------------------------------------
    def print(self, text: str, stream: TextIO | None = None) -> None:
        stream = sys.stdout if stream is None else stream
        name = _stream_name(stream)
        stream.write("\n".join(self.line(piece, name) for piece in text.split("\n")) + "\n")
        stream.flush()
        self.ledger.setdefault(name, "printed")

    def handler(self, stream: TextIO, level: int, formatter: logging.Formatter | None = None) -> logging.Handler:
        """A logging handler whose every formatted record passes the gate on its way to `stream`."""
        handler = GateHandler(self, stream)
        handler.setLevel(level)
        if formatter is not None:
            handler.setFormatter(formatter)
        return handler

    # -- files -----------------------------------------------------------------------------------
    def _landed(self, path: Path, how: str) -> list[str]:
        """The scan of a file the gate wrote: withheld when anything survived."""
        self.ledger[str(Path(path).resolve())] = how
        leaks = self.scanner.leaks(Path(path))
        if leaks:
            self.leaks[Path(path).name] = leaks
            withhold_file(Path(path))
        return leaks

    def write_text(self, path: Path, text: str) -> list[str]:
        """Write a text file, scrubbed; scanned once written; withheld when a secret survived. Returns
        what survived (empty when clean). OSError goes to the caller (a full disk is the caller's to say)."""
        Path(path).write_text(self.scrubber.text(text), encoding="utf-8")
        return self._landed(path, "written")

    def write_json(self, path: Path, data, *, indent: int = 2) -> list[str]:
        Path(path).write_text(json.dumps(self.data(data), indent=indent, default=str, ensure_ascii=False) + "\n",
                              encoding="utf-8")
        return self._landed(path, "written")

    def append_line(self, path: Path, text: str) -> None:
        """Append one line (a log file), scrubbed and scanned as a line."""
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(self.line(text, Path(path).name) + "\n")
        self.ledger[str(Path(path).resolve())] = "appended"

    def seal(self, paths: Iterable[Path], scan=None) -> dict[str, list[str]]:
        """Files another writer made (papermill's notebooks, run.log, the summaries): scrubbed and
        scanned in place, withheld when a secret survived; each goes into the ledger. `scan`: the
        (paths, secrets) -> leaks function to use (default: scrub_and_scan with this gate's scrubber)."""
        paths = list(paths)
        if scan is None or scan is scrub_and_scan:
            found = scrub_and_scan(paths, sorted(self.secrets), scrubber=self.scrubber)
        else:
            found = scan(paths, sorted(self.secrets))
        for path in paths:
            self.ledger[str(Path(path).resolve())] = "sealed"
        self.leaks.update(found)
        return found

    def publish(self, path: Path, store, name: str, *, digests: Iterable[str] = (), withhold: bool = True,
                **condition) -> str:
        """A file of the record handed to a storage (helpers/run/storage.py: an S3 bucket), scanned as it
        leaves: when a secret survived it is withheld first (its notice is what leaves), or with
        `withhold=False` (a history: its notice would end the chain) not published at all (ValueError).
        `digests`: the SHA-256 digests of a manifest or history, the only token-shaped strings let through.
        `condition` goes to store.put (create=True, etag=…). Returns the object's ETag; OSError (a
        condition that did not hold, S3 unreachable) goes to the caller."""
        path = Path(path)
        scanner = Scanner(sorted(self.secrets), keep=self.kept | set(digests)) if digests else self.scanner
        leaks = scanner.leaks(path)
        if leaks:
            self.leaks[path.name] = leaks
            if not withhold:
                raise ValueError(f"a secret survived in {path.name}: not published")
            withhold_file(path)
        etag = store.put(name, path.read_bytes(), **condition)
        self.ledger[store.url(name)] = "published"
        return etag

    def row(self, row: dict) -> dict:
        """A history row as it may be appended: every value scrubbed; a value where a secret survived
        is withheld."""
        clean = {}
        for key, value in row.items():
            clean[key] = self.line(str(value), "history.csv") if isinstance(value, str) else value
        return clean

    def noted(self, path: Path, how: str) -> None:
        """A file written through the gate's checks by a writer that cannot take its text (the history's
        csv writer gets rows from `row`, the manifest holds only names and hashes)."""
        self.ledger[str(Path(path).resolve())] = how


class GateHandler(logging.Handler):
    """A log handler that writes each record through the gate: scrubbed, scanned, never a traceback
    unless the formatter gives one (the terminal's does not)."""

    def __init__(self, gate: Gate, stream: TextIO):
        super().__init__()
        self.gate, self.stream = gate, stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.gate.print(self.format(record), self.stream)
        except Exception:  # noqa: BLE001 (logging's contract: a handler never raises)
            self.handleError(record)


__all__ = ["LINE_WITHHELD", "Gate", "GateHandler"]
