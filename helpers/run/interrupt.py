"""Interruption as a first-class outcome: SIGTERM (what `systemctl stop` sends), SIGINT (Ctrl-C) and
SIGHUP stop the run with `Interrupted`, and the runner records what happened. While the runner
cleans up, further signals are remembered but do not interrupt the cleanup: the private temp folder
is always removed and the record always completed."""

from __future__ import annotations

import contextlib
import signal
import threading

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))


class Interrupted(BaseException):
    """Raised in the main thread by the first signal. A BaseException, like KeyboardInterrupt, so
    that no `except Exception` on the way swallows it."""

    def __init__(self, signame: str):
        super().__init__(signame)
        self.signame = signame


@contextlib.contextmanager
def held_signals():
    """Hold SIGTERM, SIGINT and SIGHUP back for the duration of a block that must not be cut in two
    (killing every kernel of a pool, removing the secrets' folder); they arrive right after it."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class SignalGuard:
    def __init__(self):
        self.received: list[str] = []
        self._deferring = False

    @property
    def signame(self) -> str | None:
        return self.received[0] if self.received else None

    def _handler(self, signum, _frame):
        name = signal.Signals(signum).name
        self.received.append(name)
        if not self._deferring and len(self.received) == 1:
            raise Interrupted(name)

    @contextlib.contextmanager
    def installed(self):
        """Handle the signals for the duration (main thread only; elsewhere the caller's own
        handling stays in charge)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handler) for s in SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def stop_raising(self) -> None:
        """From now on signals are recorded, never raised (the record is being completed)."""
        self._deferring = True
