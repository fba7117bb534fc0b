"""What a run says and logs: the printer (every line scrubbed), run.log (masked as written), and the
terminal log line (never a traceback)."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import TextIO

from helpers.safety.gate import Gate
from helpers.safety.scrub import Scrubber


class Printer:
    """The runner's own output, through the run's gate (helpers/safety/gate.py): every line scrubbed,
    then scanned, withheld when a secret survived, so stdout (and a scheduler's log of it) never carries
    a secret, whatever a step recorded."""

    def __init__(self, out: TextIO, gate: Gate | None = None):
        self.out, self.gate = out, gate or Gate()

    @property
    def scrubber(self) -> Scrubber:
        return self.gate.scrubber

    def know(self, secrets: list[str]) -> None:
        self.gate.know(secrets)

    def say(self, text: str) -> None:
        self.gate.print(text, self.out)


def describe_os_error(error: OSError) -> str:
    return error.strerror or type(error).__name__


class OneLine(logging.Formatter):
    """A terminal log line: the message only, never a traceback (it goes to run.log, scrubbed)."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        return super().format(record)


class MaskSecrets(logging.Filter):
    """python-gitlab's habit: a log record never carries a known secret or a token-shaped string."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.scrubber = Scrubber(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.scrubber.text(record.getMessage()), ()
        return True


class RunLogHandler(logging.FileHandler):
    """run.log, through the run's gate: each record scrubbed and scanned as it is written. A failed
    write (a full disk) is remembered, never printed as a traceback."""

    def __init__(self, path: Path, gate: Gate):
        super().__init__(path, encoding="utf-8")
        self.failure: OSError | None = None
        self.gate = gate
        gate.noted(path, "logged")

    def format(self, record: logging.LogRecord) -> str:
        return self.gate.line(super().format(record), "run.log")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        error = sys.exc_info()[1]
        if isinstance(error, OSError) and self.failure is None:
            self.failure = error


@contextlib.contextmanager
def run_log(path: Path, level: str, secrets: list[str], gate: Gate | None = None):
    """run.log gets the runner's and papermill's records (cell outputs included), masked as written."""
    gate = gate or Gate(secrets)
    gate.know(secrets)
    handler = RunLogHandler(path, gate)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskSecrets(secrets))
    handler.setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.INFO)
    loggers = [logging.getLogger(n) for n in ("papermill", "helpers", "asyncio")]
    saved_levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(min(handler.level, logging.INFO))
    try:
        yield handler
    finally:
        for lg, saved in zip(loggers, saved_levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(saved)
        handler.close()


def quiet_event_loop_noise() -> None:
    """An interrupted notebook leaves nbclient's tasks behind, and asyncio reports them ("Task exception
    was never retrieved", with a traceback) whenever they are collected. During a run they go to
    run.log; outside one, nowhere: the step was already recorded as interrupted, and no user is ever
    shown a traceback."""
    noise = logging.getLogger("asyncio")
    noise.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in noise.handlers):
        noise.addHandler(logging.NullHandler())
