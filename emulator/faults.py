"""Fault injection and the request journal, as one WSGI middleware around the tenant APIs.

Faults never touch the console (`/_emulator/`), so a test can always clear what it injected.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections import deque
from urllib.parse import parse_qsl

CONSOLE_PREFIX = "/_emulator"
FAULT_KINDS = ("status", "rate_limit", "latency", "drop", "answer", "echo")
ECHO_ENCODINGS = ("raw", "html", "json", "repr", "url", "base64", "split", "tail")
REDACTED_FIELDS = ("client_secret", "password")


class FaultInjector:
    """A queue of faults; each applies to the next `count` matching requests."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[dict] = []

    def add(self, spec: dict) -> dict:
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        fault = {
            "kind": kind,
            "count": int(spec.get("count", 1)),
            "status": int(spec.get("status", 503 if kind == "status" else 429)),
            "retry_after": spec.get("retry_after", 1),
            "seconds": float(spec.get("seconds", 0.5)),
            "path_prefix": spec.get("path_prefix", "/"),
            "method": (spec.get("method") or "").upper() or None,
        }
        if kind == "echo":
            # A careless tenant or proxy quoting the presented credential back in an error body:
            # what the runbook's scrub-then-scan must keep out of every record.
            fault["status"] = int(spec.get("status", 401))
            fault["encoding"] = spec.get("encoding", "raw")
            if fault["encoding"] not in ECHO_ENCODINGS:
                raise ValueError(f"encoding must be one of {', '.join(ECHO_ENCODINGS)}")
        if kind == "answer":
            # A canned answer, as another tenant might give it: any status, body and content type.
            # Lets tests show the runbook answers the documentation leaves open (nothing is processed).
            fault["status"] = int(spec.get("status", 200))
            fault["body"] = spec.get("body", "")
            fault["content_type"] = spec.get("content_type", "application/json")
            if not 100 <= fault["status"] <= 599:
                raise ValueError("status must be an HTTP status (100-599)")
        if fault["count"] < 1:
            raise ValueError("count must be at least 1")
        if kind == "status" and not 400 <= fault["status"] <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict]:
        with self._lock:
            return [dict(f) for f in self._faults]

    def take(self, method: str, path: str) -> dict | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault["path_prefix"]) and fault["method"] in (None, method):
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        self._faults.remove(fault)
                    return dict(fault)
        return None


class Journal:
    """The last requests the tenant APIs received, with secret form fields redacted."""

    def __init__(self, size: int = 500):
        self._lock = threading.Lock()
        self._entries: deque = deque(maxlen=size)

    def record(self, entry: dict) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _describe_body(content_type: str, raw: bytes):
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: ("***" if k in REDACTED_FIELDS else v) for k, v in parse_qsl(text, keep_blank_values=True)}
    if content_type.startswith("application/json"):
        try:
            body = json.loads(text)
        except ValueError:
            return text[:2000]
        if isinstance(body, dict):
            body = {k: ("***" if k in REDACTED_FIELDS else v) for k, v in body.items()}
        return body
    return text[:2000]


class FaultMiddleware:
    def __init__(self, app, injector: FaultInjector, journal: Journal):
        self.app, self.injector, self.journal = app, injector, journal

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path.startswith(CONSOLE_PREFIX):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)  # re-readable: the socket stream is consumed
        content_type = environ.get("CONTENT_TYPE", "")
        entry = {"time": time.time(), "method": method, "path": path, "query": environ.get("QUERY_STRING", ""),
                 "content_type": content_type, "body": _describe_body(content_type, raw),
                 "authorization": _auth_scheme(environ.get("HTTP_AUTHORIZATION"))}
        fault = self.injector.take(method, path)
        if fault and fault["kind"] == "latency":
            time.sleep(fault["seconds"])
            fault = None
        if fault and fault["kind"] == "echo":
            entry.update(status=fault["status"], fault="echo")
            self.journal.record(entry)
            data = _echo_body(_presented_credential(environ, raw), fault["encoding"]).encode()
            start_response(f"{fault['status']} Echo", [("Content-Type", "text/plain; charset=utf-8"),
                                                       ("Content-Length", str(len(data)))])
            return [data]
        if fault and fault["kind"] == "answer":
            entry.update(status=fault["status"], fault="answer")
            self.journal.record(entry)
            body = fault["body"] if isinstance(fault["body"], str) else json.dumps(fault["body"])
            data = body.encode()
            start_response(f"{fault['status']} Canned", [("Content-Type", fault["content_type"]),
                                                         ("Content-Length", str(len(data)))])
            return [data]
        if fault and fault["kind"] in ("status", "rate_limit"):
            entry.update(status=fault["status"], fault=fault["kind"])
            self.journal.record(entry)
            body = json.dumps({"error": "injected_fault", "error_description": f"emulator fault: HTTP {fault['status']}"}).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            if fault["kind"] == "rate_limit":
                headers.append(("Retry-After", str(fault["retry_after"])))
            start_response(f"{fault['status']} Injected", headers)
            return [body]

        captured = {}

        def recording_start_response(status, headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info) if not fault else (lambda data: None)

        if fault and fault["kind"] == "drop":
            # The request is processed, then the connection is cut before any answer: exactly the
            # case where a client cannot know whether a non-idempotent call took effect.
            result = self.app(environ, recording_start_response)
            b"".join(result)
            entry.update(status=captured.get("status"), fault="drop")
            self.journal.record(entry)
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            raise ConnectionResetError("emulator fault: connection dropped")
        result = self.app(environ, recording_start_response)
        entry["status"] = captured.get("status")
        self.journal.record(entry)
        return result


def _presented_credential(environ, raw: bytes) -> str:
    """The client_secret of a form body, else the bearer token of the Authorization header."""
    form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    if form.get("client_secret"):
        return form["client_secret"]
    return (environ.get("HTTP_AUTHORIZATION") or "").partition(" ")[2]


def _echo_body(value: str, encoding: str) -> str:
    import base64
    import html
    from urllib.parse import quote

    shown = {"raw": value, "html": html.escape(value), "json": json.dumps(value), "repr": repr(value),
             "url": quote(value, safe=""), "base64": base64.b64encode(b"x" + value.encode()).decode(),
             "split": value[:len(value) // 2] + "\n" + value[len(value) // 2:],
             "tail": "." * 280 + value}[encoding]  # "tail": a long body, cut short by the client's truncation
    return f"invalid credential presented: {shown}"


def _auth_scheme(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(" ", 1)[0]

