"""Benchmark: prints figures (no pass/fail). `make bench`.

Measures, against the in-process emulator on loopback: the client's token request, Send Message and
Get Message latencies; the cost of one papermill notebook (fresh kernel); a whole practice run of the
runbook, step by step; then, in one process and interleaved, the floor a naive runner pays (papermill's
default engine, a fresh kernel per notebook) against the runner with its kernel pool, the ratio of the
two, what one kernel start costs in CPU, and the runbook with each kind of kernel pool.
"""

from __future__ import annotations

import io
import os
import resource
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import nbformat
import papermill as pm
import requests

from emulator import EmulatorServer
from helpers.run.kernels.pool import KernelPool
from helpers.run.runner import RunOptions, run
from helpers.safety.secrets import Secret
from helpers.tenant.client import BrightPatternClient

SCOPE = "example.brightpattern.com"
ROOT = Path(__file__).resolve().parents[2]
REPEATS = 5  # floor and runbook, interleaved; the medians are printed
VARIANT_REPEATS = 3
WARMUP = "import helpers.notebook"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


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


def cpu_seconds() -> float:
    """This process and its reaped children (pooled kernels are reaped when the pool closes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


@contextmanager
def runner_pool(**forced):
    """The runner's kernel pool, with some of its settings replaced."""
    class Pool(KernelPool):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, **forced})

    with mock.patch("helpers.run.kernels.pool.KernelPool", Pool):
        yield


def client_latencies() -> None:
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


def one_notebook(tmp: Path) -> None:
    env = {"BP_RUNBOOK_HEADLESS": "1", "BP_RUNBOOK_HANDOFF": str(tmp / "h.json")}
    with EmulatorServer() as server, mock.patch.dict(os.environ, {**env, "BP_EMULATOR_URL": server.url}):
        print(row("papermill 00_preflight (fresh kernel)", timed(lambda: pm.execute_notebook(
            str(ROOT / "notebooks" / "00_preflight.ipynb"), str(tmp / "o.ipynb"), parameters={"admin_user": ""},
            cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False), 5)))


def runbook(tmp: Path):
    """One practice run of the real runner on the embedded emulator: (seconds, CPU seconds, outcome)."""
    started, cpu = time.perf_counter(), cpu_seconds()
    outcome = run(RunOptions(params_path=ROOT / "params" / "demo.yaml", emulator=True, out_dir=tmp / "outputs"),
                  io.StringIO())
    if outcome.exit_code != 0:
        raise SystemExit(f"the practice run ended with exit {outcome.exit_code}: the figures would mean nothing")
    return time.perf_counter() - started, cpu_seconds() - cpu, outcome


def floor(tmp: Path) -> float:
    """7 trivial notebooks in series, papermill's default engine and settings: a fresh kernel each."""
    trivial = tmp / "trivial.ipynb"
    if not trivial.exists():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, trivial)
    started = time.perf_counter()
    for i in range(7):
        pm.execute_notebook(str(trivial), str(tmp / f"trivial-{i}.ipynb"), kernel_name="python3", progress_bar=False)
    return time.perf_counter() - started


def kernel_start_cpu(tmp: Path, factory: str, warmup: str, n: int = 6) -> tuple[float, float]:
    """CPU of one kernel start: the kernel process's own CPU when handed over (median), and the pool's
    whole CPU per kernel (this process, the kernels, the zygote), for n kernels one after the other."""
    per_kernel = []
    cpu = cpu_seconds()
    with KernelPool(size=1, factory=factory, warmup=warmup, runtime_dir=tmp / "runtime") as pool:
        for _ in range(n):
            with pool.kernel(cwd=tmp) as kernel:
                per_kernel.append(process_cpu(kernel.pid))
    return statistics.median(per_kernel), (cpu_seconds() - cpu) / n


def fleet_run(tmp: Path, jobs: int) -> float:
    """`make demo-fleet`'s work in this process: 20 practice tenants, `jobs` at a time."""
    from helpers.run.fleet import run_fleet

    out = tmp / f"fleet-{jobs}-{time.monotonic_ns()}"
    started = time.perf_counter()
    outcome = run_fleet(RunOptions(params_path="", emulator=True, emulator_seed="fleet", out_dir=out),
                        [ROOT / "params" / "fleet"], jobs, io.StringIO())
    if outcome.exit_code != 0:
        raise SystemExit(f"the fleet ended with exit {outcome.exit_code}: the figures would mean nothing")
    return time.perf_counter() - started


class PeakMemory:
    """The largest resident memory of this process and all its descendants (kernels, the zygote),
    sampled every 50 ms while the block runs."""

    def __enter__(self):
        import threading

        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return self.peak / 2 ** 20

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.05):
            parents, rss = {}, {}
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                pid = int(stat.parent.name)
                parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * page
            tree, grew = {os.getpid()}, True
            while grew:
                more = {pid for pid, parent in parents.items() if parent in tree} - tree
                tree |= more
                grew = bool(more)
            self.peak = max(self.peak, sum(rss.get(pid, 0) for pid in tree))


def main() -> None:
    client_latencies()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one_notebook(tmp)
        seconds, _, outcome = runbook(tmp)
        print()
        print(f"whole practice run (make demo's work): {seconds:.1f} s, exit {outcome.exit_code}")
        for entry in outcome.summary["steps"]:
            print(f"  {entry['result']['step']:<20} {entry['seconds']:>6.2f} s  {entry['result']['status']}")

        floors, runs = [], []
        for _ in range(REPEATS):  # interleaved: both see the same machine
            floors.append(floor(tmp))
            runs.append(runbook(tmp)[0])
        x, y = statistics.median(floors), statistics.median(runs)
        print()
        print(f"floor: 7 trivial notebooks in series: {x:.2f} s")
        print(f"runbook: 7 steps, practice: {y:.2f} s")
        print(f"ratio runbook/floor: {y / x:.2f}")
        print(f"  (medians of {REPEATS}; floor {', '.join(f'{s:.2f}' for s in floors)}; "
              f"runbook {', '.join(f'{s:.2f}' for s in runs)})")
        t = fleet_run(tmp, jobs=2)
        print(f"fleet: 20 tenants, --jobs 2: {t:.2f} s ({20 / t * 60:.1f} tenants/min)")
        print(f"fleet ratio: {t / (20 * y):.2f}")
        with PeakMemory() as peak:
            fleet_run(tmp, jobs=4)
        print(f"peak memory, fleet --jobs 4: {peak.mib:.0f} MiB")

        print()
        print("kernel start, CPU seconds      kernel at handover   pool per kernel (all processes)")
        for factory in ("spawn", "fork"):
            for warmup in ("", WARMUP):
                own, whole = kernel_start_cpu(tmp, factory, warmup)
                name = f"{factory}{', warm-up' if warmup else ''}"
                print(f"  {name:<28} {own:>18.3f} {whole:>18.3f}")

        print()
        print(f"runbook by kernel pool (medians of {VARIANT_REPEATS})   wall s    CPU s")
        variants = [("spawn", "", 1), ("spawn", WARMUP, 1), ("spawn", WARMUP, 2), ("fork", "", 1),
                    ("fork", WARMUP, 1), ("fork", WARMUP, 2)]
        for factory, warmup, size in variants:
            with runner_pool(factory=factory, warmup=warmup, size=size):
                samples = [runbook(tmp)[:2] for _ in range(VARIANT_REPEATS)]
            name = f"{factory}{', warm-up' if warmup else ''}, size {size}"
            print(f"  {name:<38} {statistics.median(s[0] for s in samples):>8.2f} "
                  f"{statistics.median(s[1] for s in samples):>8.2f}")


if __name__ == "__main__":
    main()
