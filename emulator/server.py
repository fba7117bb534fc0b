"""Run the emulator in a background thread (tests, `helpers run --emulator`) or in the foreground."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_app
from .store import Store


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # tests and runbook runs: no access log noise
        pass


REQUEST_LOG = logging.getLogger("emulator.requests")
_CONTROL_CHARS = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


class RequestLogHandler(WSGIRequestHandler):
    """One plain line per request, with its status (`python -m emulator`).

    Werkzeug paints 4xx answers yellow and red, but here they are the expected answers a person
    practises with (401 for a wrong secret, 403 for a missing privilege, 404 for the SMS probe), so
    they log plainly at INFO. 5xx stays distinguishable: logged at ERROR and marked "server error"
    (the emulator answers 500 only for a wrong Configuration API endpoint, a documented quirk, or
    for an injected fault).
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        line = getattr(self, "requestline", "").translate(_CONTROL_CHARS)
        status = str(code)
        message = f'{self.address_string()} - - [{self.log_date_time_string()}] "{line}" {status} {size}'
        if status.startswith("5"):
            REQUEST_LOG.error("%s  <- server error", message)
        else:
            REQUEST_LOG.info("%s", message)


class EmulatorServer:
    """A threaded HTTP server on loopback; port 0 picks a free port (moto's habit for tests)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, db_path: str | Path | None = None,
                 seed=None, quiet: bool = True, ssl_context=None, clock=None):
        # clock: tests inject one (moto's habit) so that token lifetimes and timed progressions pass
        # without anybody waiting.
        self.store = Store(db_path=db_path, seed=seed, **({"clock": clock} if clock else {}))
        self.app = create_app(self.store)
        # ssl_context=(certfile, keyfile) serves HTTPS: the TLS tests' stand-in for a real tenant.
        self._server = make_server(host, port, self.app, threaded=True, ssl_context=ssl_context,
                                   request_handler=_QuietHandler if quiet else RequestLogHandler)
        self.scheme = "https" if ssl_context else "http"
        self.host, self.port = host, self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        # A short poll: stop() returns at once instead of waiting out the default half second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="bp-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
