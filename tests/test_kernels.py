"""The kernel pool and its papermill engine, with real kernels: fresh processes, environments and
secrets, working directories, dead kernels, warm-up, the zygote's children, and interruptions that must
leave no kernel process behind (checked by pid)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from papermill.iorw import papermill_io

from helpers.errors import KernelPoolError
from helpers.run.interrupt import Interrupted
from helpers.run.kernels.engine import ENGINE_NAME
from helpers.run.kernels.pool import KernelPool

ROOT = Path(__file__).resolve().parents[1]
FACTORIES = ["spawn", "fork"]
CANARIES = {"BP_API_SECRET": "canary-bp-secret-1f3a", "GITHUB_TOKEN": "canary-token-9b2c",
            "DB_PASSWORD": "canary-password-77d0", "ACME_PRIVATE": "canary-hidden-by-caller-5e61"}

pytestmark = [pytest.mark.notebooks, pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                                        reason="reads process states from /proc (Linux)")]


# -- processes, by pid --------------------------------------------------------------------------------

def running(pid: int) -> bool:
    """True while the process exists and is not a zombie (dead, waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


def descendants(root: int) -> set[int]:
    parents = {int(p.name): parent_of(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def survivors(pids, within: float = 20.0) -> set[int]:
    """The processes still running after waiting up to `within` seconds for them to end (a liveness
    bound: a process killed for real is gone in milliseconds)."""
    deadline = time.monotonic() + within
    alive = {pid for pid in pids if running(pid)}
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = {pid for pid in alive if running(pid)}
    return alive


# -- notebooks -----------------------------------------------------------------------------------------

def notebook(path: Path, *sources: str, parameters: str | None = None) -> Path:
    cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})] if parameters else []
    cells += [nbformat.v4.new_code_cell(textwrap.dedent(source).strip()) for source in sources]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def printed(nb) -> list[str]:
    return [output["text"] for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs
            if output.get("output_type") == "stream"]


def facts(nb) -> dict:
    """The JSON object the notebook's last cell printed."""
    return json.loads(printed(nb)[-1])


def execute(src: Path, pool: KernelPool, **kwargs):
    out = src.with_name(src.stem + "-out.ipynb")
    return pm.execute_notebook(str(src), str(out), engine_name=ENGINE_NAME, kernel_pool=pool, kernel_name="python3",
                               progress_bar=False, **kwargs)


@pytest.fixture
def pool_of(tmp_path):
    """Makes pools that keep their connection files in the test's folder, and closes them."""
    pools = []

    def make(**options) -> KernelPool:
        options.setdefault("runtime_dir", tmp_path / "runtime")
        pools.append(KernelPool(**options))
        return pools[-1]

    yield make
    for pool in pools:
        pool.close()


# -- one notebook, one fresh kernel ----------------------------------------------------------------------

@pytest.mark.parametrize("factory", FACTORIES)
def test_every_notebook_gets_a_fresh_kernel_that_ends_with_it(tmp_path, pool_of, factory):
    src = notebook(tmp_path / "nb.ipynb", """
        import json, os
        print(json.dumps({"pid": os.getpid(), "leftover": "leftover" in globals()}))
        leftover = 1
    """)
    threads = threading.active_count()
    pool = pool_of(size=1, factory=factory)
    seen = []
    for _ in range(3):
        result = facts(execute(src, pool))
        assert result["leftover"] is False  # nothing of the previous notebook
        seen.append(result["pid"])
        assert not survivors([result["pid"]]), "a kernel outlived its notebook"
    assert len(set(seen)) == 3
    held = pool.pids()
    pool.close()
    assert not survivors(held)
    assert not list((tmp_path / "runtime").iterdir()), "connection files left behind"
    assert threading.active_count() == threads, "threads left behind"


@pytest.mark.parametrize("factory", FACTORIES)
def test_handover_environment_reaches_the_notebook_and_secrets_never_do(tmp_path, pool_of, monkeypatch, factory):
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BP_PARENT_PLAIN", "from-the-parent")
    pool = pool_of(size=1, factory=factory, hide=["ACME_*"])
    names = [*CANARIES, "BP_PARENT_PLAIN", "BP_HANDOVER_ONLY"]
    src = notebook(tmp_path / "env.ipynb", "import os, sys", f"""
        import json
        print(json.dumps({{"env": {{n: os.environ.get(n) for n in {names!r}}}, "pid": os.getpid(),
                          "preimported": "helpers.notebook" in sys.modules}}))
    """)
    nb = execute(src, pool, kernel_env={"BP_HANDOVER_ONLY": "handed-over", "BP_QUIET": "quiet-canary-0c4e",
                                        "BP_PARENT_PLAIN": None})
    result = facts(nb)
    assert result["env"] == {**dict.fromkeys(CANARIES), "BP_PARENT_PLAIN": None, "BP_HANDOVER_ONLY": "handed-over"}
    assert result["preimported"] is False  # no warm-up asked for: nothing but the kernel itself
    # Not even in the environment the kernel (or its zygote) was started with.
    for pid in pool.pids():
        started_with = Path(f"/proc/{pid}/environ").read_bytes()
        assert not any(value.encode() in started_with for value in CANARIES.values())
    # The output notebook holds no trace of the handover: not its code, not a value only it carried.
    text = src.with_name("env-out.ipynb").read_text()
    for trace in ("quiet-canary-0c4e", "BP_QUIET", "kernel handover", "exec(compile", *CANARIES.values()):
        assert trace not in text
    assert [cell.execution_count for cell in nb.cells] == [1, 2]


@pytest.mark.parametrize("factory", FACTORIES)
def test_the_notebook_runs_where_papermill_was_told_to(tmp_path, pool_of, factory):
    work = (tmp_path / "work").resolve()
    work.mkdir()
    (work / "localmod.py").write_text("VALUE = 42\n")
    src = notebook(tmp_path / "cwd.ipynb", """
        import json, os, localmod
        print(json.dumps({"cwd": os.getcwd(), "value": localmod.VALUE, "dh": _dh}))
    """)
    pool = pool_of(size=1, factory=factory)
    result = facts(execute(src, pool, cwd=str(work)))
    assert result == {"cwd": str(work), "value": 42, "dh": [str(work)]}
    other = tmp_path / "other"
    other.mkdir()
    (other / "localmod.py").write_text("VALUE = 7\n")
    assert facts(execute(src, pool, kernel_cwd=str(other)))["value"] == 7


# -- kernels that die or never start -------------------------------------------------------------------

@pytest.mark.parametrize("factory", FACTORIES)
def test_a_kernel_that_died_before_handover_is_never_handed_out(tmp_path, pool_of, factory):
    pool = pool_of(size=1, factory=factory)
    [doomed] = pool.warm_pids()
    os.kill(doomed, signal.SIGKILL)
    src = notebook(tmp_path / "pid.ipynb", "import os, json; print(json.dumps({'pid': os.getpid()}))")
    assert facts(execute(src, pool))["pid"] != doomed
    assert not survivors([doomed])


def broken_kernel_spec(tmp_path: Path, monkeypatch) -> None:
    """A kernel spec whose kernel exits at once, found through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / "broken"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [sys.executable, "-c", "raise SystemExit(3)", "{connection_file}"],
                                                  "display_name": "broken", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))


def test_kernels_that_never_start_give_a_clear_error_and_leave_nothing(tmp_path, pool_of, monkeypatch):
    broken_kernel_spec(tmp_path, monkeypatch)
    before = descendants(os.getpid())
    pool = pool_of(size=1, factory="spawn", kernel_name="broken", startup_timeout=10)
    with pytest.raises(KernelPoolError, match=r"(?s)kernels in a row failed before handover.*kernel spec 'broken'"):
        pool.acquire()
    pool.close()
    assert not survivors(descendants(os.getpid()) - before)
    assert not list((tmp_path / "runtime").iterdir())


def test_a_kernel_spec_that_cannot_be_forked_is_refused_with_the_fix(tmp_path, pool_of, monkeypatch):
    broken_kernel_spec(tmp_path, monkeypatch)
    with pytest.raises(KernelPoolError, match=r"cannot be forked.*factory='spawn'"):
        pool_of(factory="fork", kernel_name="broken")
    with pytest.raises(KernelPoolError, match=r"no kernel spec named 'nope'"):
        pool_of(kernel_name="nope")


@pytest.mark.parametrize("factory", FACTORIES)
def test_the_kernel_spec_pip_install_writes_runs_with_a_bare_python(tmp_path, pool_of, monkeypatch, factory):
    """`pip install ipykernel` writes argv ["python", "-m", "ipykernel_launcher", ...]: jupyter_client runs
    sys.executable for it, and so must the zygote (a plain venv, no `make`, no kernelspec rewrite)."""
    spec = tmp_path / "jupyter" / "kernels" / "plain"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                                  "display_name": "plain", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    src = notebook(tmp_path / "plain.ipynb", "import json, sys; print(json.dumps({'python': sys.executable}))")
    pool = pool_of(size=1, factory=factory, kernel_name="plain")
    out = tmp_path / "plain-out.ipynb"
    nb = pm.execute_notebook(str(src), str(out), engine_name=ENGINE_NAME, kernel_pool=pool, kernel_name="plain",
                             progress_bar=False)
    assert facts(nb)["python"] == sys.executable


def test_bad_input_is_refused_with_the_fix(tmp_path, pool_of):
    with pytest.raises(KernelPoolError, match=r"size is 0.*1 or more"):
        pool_of(size=0)
    with pytest.raises(KernelPoolError, match=r"factory is 'thread'.*fork, spawn"):
        pool_of(factory="thread")
    pool = pool_of(size=1)
    src = notebook(tmp_path / "nb.ipynb", "1 + 1")
    cases = [({"kernel_env": {"N": 3}}, r"kernel_env\['N'\] is a int.*string, or None"),
             ({"kernel_env": {"PYTHONPATH": "x"}}, r"kernel_env\['PYTHONPATH'\].*before creating the pool"),
             ({"kernel_env": {"A=B": "x"}}, r"name 'A=B'"),
             ({"kernel_cwd": str(tmp_path / "missing")}, r"is not a folder"),
             ({"kernel_name": "other"}, r"needs kernel 'other' but the pool holds 'python3'"),
             ({"shutdown_kernel": "later"}, r"shutdown_kernel is 'later'.*'immediate' or 'graceful'")]
    for options, message in cases:
        with pytest.raises(KernelPoolError, match=message):
            pm.execute_notebook(str(src), str(tmp_path / "out.ipynb"), engine_name=ENGINE_NAME, kernel_pool=pool,
                                progress_bar=False, **{"kernel_name": "python3", **options})
    pool.close()
    with pytest.raises(KernelPoolError, match="closed"):
        pool.acquire()


# -- warm-up and the zygote ----------------------------------------------------------------------------

@pytest.mark.parametrize("factory", FACTORIES)
def test_warm_up_imports_before_handover_and_leaves_no_name(tmp_path, pool_of, factory):
    pool = pool_of(size=1, factory=factory, warmup="import helpers.notebook\nimport json as warm_json")
    src = notebook(tmp_path / "warm.ipynb", """
        import json, sys
        print(json.dumps({"preimported": "helpers.notebook" in sys.modules,
                          "names": sorted(n for n in ("helpers", "warm_json") if n in globals())}))
    """)
    assert facts(execute(src, pool)) == {"preimported": True, "names": []}


def test_a_warm_up_that_starts_threads_is_refused_for_forking(pool_of):
    threads = "import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True).start()"
    with pytest.raises(KernelPoolError, match=r"thread\(s\) running.*warm up with imports only"):
        pool_of(factory="fork", warmup=threads)


def test_forked_kernels_are_reaped_and_do_not_share_random_state(tmp_path, pool_of):
    pool = pool_of(size=1, factory="fork", warmup="import numpy")
    src = notebook(tmp_path / "rand.ipynb", """
        import json, random, numpy
        print(json.dumps([random.random(), float(numpy.random.random())]))
    """)
    draws = [tuple(facts(execute(src, pool))) for _ in range(3)]
    assert len({d[0] for d in draws}) == 3 and len({d[1] for d in draws}) == 3
    zygote = pool.zygote.pid
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the zygote reaps each kernel as it ends: no zombie stays
        children = {pid for pid in descendants(zygote) if parent_of(pid) == zygote}
        if children == set(pool.warm_pids()) and all(running(pid) for pid in children):
            break
        time.sleep(0.05)
    assert children == set(pool.warm_pids()) and all(running(pid) for pid in children)


def test_a_zygote_that_died_is_replaced(tmp_path, pool_of):
    pool = pool_of(size=1, factory="fork")
    first = pool.zygote.pid
    os.kill(first, signal.SIGKILL)
    assert not survivors([first])
    src = notebook(tmp_path / "pid.ipynb", "import os, json; print(json.dumps({'parent': os.getppid()}))")
    assert facts(execute(src, pool))["parent"] not in (first, os.getpid())
    assert pool.zygote.pid != first


# -- the output notebook's writes ------------------------------------------------------------------------

class KeptWrites:
    """A papermill I/O handler (papermill's extension point for where notebooks go) that keeps every
    write of an output notebook in memory, in order, by path."""

    SCHEME = "bp-test-writes://"
    written: dict[str, list[dict]] = {}

    @classmethod
    def write(cls, buf, path):
        cls.written.setdefault(path, []).append(json.loads(buf))

    @classmethod
    def read(cls, path):
        return json.dumps(cls.written[path][-1])

    @classmethod
    def listdir(cls, path):
        return sorted(cls.written)

    @classmethod
    def pretty_path(cls, path):
        return path


papermill_io.register(KeptWrites.SCHEME, KeptWrites)


class Ticks:
    """The throttle's clock: `step` seconds later at each reading, the first at 0. At reading
    `interrupt_at` it raises Interrupted instead: a signal arriving while the cells run."""

    def __init__(self, step: float, interrupt_at: int | None = None):
        self.step, self.interrupt_at, self.readings = step, interrupt_at, 0

    def __call__(self) -> float:
        self.readings += 1
        if self.readings == self.interrupt_at:
            raise Interrupted("SIGTERM")
        return (self.readings - 1) * self.step


def writes_of(tmp_path, src: Path, pool: KernelPool, clock: Ticks) -> tuple[list[dict], object]:
    """The writes of `src`'s output notebook, and how its execution ended (a notebook or an exception)."""
    out = f"{KeptWrites.SCHEME}{tmp_path}/{src.stem}-out.ipynb"
    try:
        ended = execute_to(src, out, pool, save_clock=clock)
    except (Exception, Interrupted) as exc:  # noqa: BLE001 (the test looks at what it was)
        ended = exc
    return KeptWrites.written.get(out, []), ended


def execute_to(src: Path, out: str, pool: KernelPool, **kwargs):
    return pm.execute_notebook(str(src), out, engine_name=ENGINE_NAME, kernel_pool=pool, kernel_name="python3",
                               progress_bar=False, **kwargs)


def outputs(nb: dict) -> list[list[str]]:
    """Each cell's outputs: a stream's text, an error's name."""
    return [["".join(o["text"]) if "text" in o else o.get("ename", "") for o in cell.get("outputs", [])]
            for cell in nb["cells"]]


def test_the_output_notebook_is_written_at_start_and_end_and_once_a_second_between(tmp_path, pool_of):
    src = notebook(tmp_path / "six.ipynb", *[f"print({i})" for i in range(6)])
    writes, ended = writes_of(tmp_path, src, pool_of(size=1), Ticks(0.25))
    assert not isinstance(ended, BaseException), ended
    # papermill's own write at the start; then 12 cell starts and ends, 0.25 s apart: one write a second
    # (at 1, 2 and 3 s), not twelve; papermill's own at the end, and its last (execute_notebook's).
    assert len(writes) == 1 + 3 + 1 + 1
    assert outputs(writes[0]) == [[]] * 6 and writes[0]["metadata"]["papermill"]["end_time"] is None
    assert [sum(map(bool, outputs(nb))) for nb in writes[1:4]] == [2, 4, 6]  # progress reaches the disk
    assert outputs(writes[4]) == [[f"{i}\n"] for i in range(6)] and writes[4]["metadata"]["papermill"]["end_time"]


def test_the_output_notebook_is_written_when_a_cell_raises(tmp_path, pool_of):
    src = notebook(tmp_path / "raises.ipynb", "print('before')", "1 / 0", "print('never')")
    writes, ended = writes_of(tmp_path, src, pool_of(size=1), Ticks(0.1))  # never a second between two saves
    assert isinstance(ended, pm.PapermillExecutionError) and ended.ename == "ZeroDivisionError"
    # The start; the cell that raised, at once; the end; papermill's error marker.
    assert len(writes) == 4
    assert outputs(writes[1]) == [["before\n"], ["ZeroDivisionError"], []]
    assert writes[1]["metadata"]["papermill"]["exception"] is True and writes[2]["metadata"]["papermill"]["end_time"]


def test_the_output_notebook_is_written_when_the_run_is_interrupted(tmp_path, pool_of):
    src = notebook(tmp_path / "stopped.ipynb", "import os; print(os.getpid())", "print('second')", "print('third')")
    pool = pool_of(size=1)
    # Readings: 1 at install, 2 and 3 the first cell's start and end, 4 the second cell's start.
    writes, ended = writes_of(tmp_path, src, pool, Ticks(0.1, interrupt_at=4))
    assert isinstance(ended, Interrupted)
    assert len(writes) == 2  # the start, and papermill's own at the end although interrupted
    [[pid], *rest] = outputs(writes[-1])
    assert rest == [[], []] and writes[-1]["metadata"]["papermill"]["end_time"]
    assert not survivors([int(pid)]), "the interrupted notebook's kernel outlived it"


def test_the_engine_copies_nothing_of_papermill_but_the_option_mapping_which_matches_it():
    """KernelPoolEngine overrides only papermill's engine hook; the one copied part (nbclient_options)
    is the installed papermill's NBClientEngine.execute_managed_notebook but its last line."""
    import ast
    import inspect

    from papermill.engines import NBClientEngine

    from helpers.run.kernels.engine import KernelPoolEngine, nbclient_options

    def statements(function) -> list[ast.stmt]:
        body = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0].body
        has_docstring = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        return body[1:] if has_docstring else body

    theirs, ours = statements(NBClientEngine.execute_managed_notebook), statements(nbclient_options)
    assert ast.unparse(theirs[-1]) == "return PapermillNotebookClient(nb_man, **final_kwargs).execute()"
    assert ast.unparse(ours[-1]) == "return final_kwargs"
    assert [ast.dump(s) for s in ours[:-1]] == [ast.dump(s) for s in theirs[:-1]], "papermill's mapping changed"
    their_options = list(inspect.signature(NBClientEngine.execute_managed_notebook).parameters.values())[1:]
    assert list(inspect.signature(nbclient_options).parameters.values()) == their_options  # nb_man aside
    assert {"execute_notebook", "execute_managed_notebook"} & set(vars(KernelPoolEngine)) == {"execute_managed_notebook"}


# -- interruptions: no kernel survives -------------------------------------------------------------------

DRIVER = """
import sys
import papermill as pm
from helpers.run.kernels.pool import KernelPool
factory, runtime, src, out = sys.argv[1:]
with KernelPool(size=2, factory=factory, runtime_dir=runtime) as pool:
    pm.execute_notebook(src, out, engine_name="bp-kernel-pool", kernel_pool=pool, kernel_name="python3",
                        progress_bar=False)
"""


def start_and_wait_for(command: list[str], started: Path, cwd: Path, env=None) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not started.exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the notebook never started"
        time.sleep(0.05)
    return process


@pytest.mark.parametrize(("factory", "signum"), [("fork", signal.SIGINT), ("fork", signal.SIGTERM), ("fork", signal.SIGKILL),
                                                 ("spawn", signal.SIGINT), ("spawn", signal.SIGKILL)])
def test_an_interrupted_pool_user_leaves_no_kernel(tmp_path, factory, signum):
    started = tmp_path / "started"
    src = notebook(tmp_path / "slow.ipynb", f"open({str(started)!r}, 'w').close()", "import time; time.sleep(120)")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    process = start_and_wait_for([sys.executable, str(driver), factory, str(tmp_path / "runtime"), str(src),
                                  str(tmp_path / "out.ipynb")], started, cwd=tmp_path)
    held = descendants(process.pid)
    assert len(held) >= 3  # the busy kernel, two warm ones (and the zygote)
    process.send_signal(signum)
    process.wait(timeout=60)
    assert not survivors(held), f"kernel processes survived {signal.Signals(signum).name}"
    if signum == signal.SIGINT:  # KeyboardInterrupt: the pool closed itself and cleaned up
        assert not list((tmp_path / "runtime").iterdir())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_runner_leaves_no_kernel(tmp_path, signum):
    params = tmp_path / "params.yaml"
    params.write_text("tenant_url: emulator\nscope: example.brightpattern.com\npractice_mode: true\nsmoke_test: true\n"
                      "test_destination: '+15005550007'\nsmoke_timeout: 120\npoll_interval: 0.5\n")  # stays queued
    out = tmp_path / "outputs"
    private = tmp_path / "private"  # the runner's private folder (the practice secrets): not the machine's /tmp
    private.mkdir()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "BP_RUNBOOK_HANDOFF": str(tmp_path / "h.json"),
           "TMPDIR": str(private)}
    process = subprocess.Popen([sys.executable, "-m", "helpers", "run", "--params", str(params), "--emulator",
                                "--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not list(out.glob("*/*/06_smoke_test.ipynb")):  # step 06 runs: it waits for a final status
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "step 06 never started"
        time.sleep(0.05)
    held = descendants(process.pid)
    assert held
    process.send_signal(signum)
    process.wait(timeout=60)
    assert not survivors(held), f"kernel processes survived {signal.Signals(signum).name}"
    assert list(private.iterdir()) == []


def test_papermill_command_line_uses_the_engine_and_leaves_no_kernel(tmp_path):
    notebook(tmp_path / "cli.ipynb", """
        import json, os
        print(json.dumps({"pid": os.getpid(), "parent": os.getppid(), "x": x, "cwd": os.getcwd()}))
    """, parameters="x = 1")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    papermill = Path(sys.executable).with_name("papermill")
    done = subprocess.run([str(papermill), "--engine", ENGINE_NAME, "cli.ipynb", "cli-out.ipynb", "-p", "x", "5"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = facts(nbformat.read(tmp_path / "cli-out.ipynb", as_version=4))
    assert result["x"] == 5 and result["cwd"] == str(tmp_path.resolve())
    assert not survivors([result["pid"], result["parent"]])  # the kernel, and the zygote that forked it
    assert not list((tmp_path / "runtime").glob("kernel-*.json"))
