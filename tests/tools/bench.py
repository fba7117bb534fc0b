"""Benchmark: prints figures (no pass/fail). `make bench`.

Measures, against the in-process emulator on loopback: the client's token request, Send Message and
Get Message latencies; the cost of one papermill notebook (fresh kernel); and a whole practice run
of the runbook, step by step.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path

import requests

from emulator import EmulatorServer
from helpers.client import BrightPatternClient
from helpers.runner import RunOptions, run
from helpers.secrets import Secret

SCOPE = "example.brightpattern.com"
ROOT = Path(__file__).resolve().parents[2]


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{name:<38} {len(samples):>5} {statistics.median(samples):>10.2f} {p95:>10.2f} {max(samples):>10.2f}"


def main() -> None:
    print(f"{'measure (ms)':<38} {'n':>5} {'median':>10} {'p95':>10} {'max':>10}")
    with EmulatorServer() as server:
        secret = requests.post(f"{server.url}/_emulator/tenants/{SCOPE}/users/admin/api-secret").json()["apiSecret"]
        client = BrightPatternClient(server.url, SCOPE, "admin", Secret(secret))
        print(row("token request (client -> emulator)", timed(client.tokens.request_token, 200)))
        print(row("cached token lookup", timed(client.tokens.token, 2000)))
        sids = []
        print(row("Send Message", timed(lambda: sids.append(client.sms.send("+15551234567", "+14151234567", "bench").sid), 200)))
        it = iter(sids * 2)
        print(row("Get Message", timed(lambda: client.sms.get(next(it)), 400)))
        print(row("GET /configapi/v2/phone/ext", timed(client.phones.access_numbers, 200)))

    with tempfile.TemporaryDirectory() as tmp:
        import os

        import papermill as pm
        os.environ["BP_RUNBOOK_HEADLESS"] = "1"
        with EmulatorServer() as server:
            os.environ["BP_EMULATOR_URL"] = server.url
            os.environ["BP_RUNBOOK_HANDOFF"] = str(Path(tmp) / "h.json")
            print(row("papermill 00_preflight (fresh kernel)", timed(lambda: pm.execute_notebook(
                str(ROOT / "notebooks" / "00_preflight.ipynb"), str(Path(tmp) / "o.ipynb"), parameters={"admin_user": ""},
                cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False), 5)))
        out = io.StringIO()
        started = time.perf_counter()
        outcome = run(RunOptions(params_path=ROOT / "params" / "demo.yaml", emulator=True, out_dir=Path(tmp)), out)
        total = time.perf_counter() - started
    print()
    print(f"whole practice run (make demo's work): {total:.1f} s, exit {outcome.exit_code}")
    for entry in outcome.summary["steps"]:
        print(f"  {entry['result']['step']:<20} {entry['seconds']:>6.2f} s  {entry['result']['status']}")


if __name__ == "__main__":
    main()
