"""A small pool of warm, single-use kernels.

    with KernelPool(size=1, warmup="import helpers.notebook") as pool:
        with pool.kernel(env={"BP_RUNBOOK_HEADLESS": "1"}, cwd="notebooks") as kernel:
            ...  # kernel.km, kernel.kc: started, handed over, used for one notebook only

While one notebook runs, the next one's kernel is already starting. A kernel serves ONE notebook and
is then shut down: the isolation papermill gives, without waiting for a start-up each time.

Kernels start before anyone knows what they will run, so they start with the parent's environment
minus secret-like variables (environ.py). At handover the pool applies that notebook's environment
and working directory inside the kernel with a silent execute request (no history, no output, no
execution count), so the output notebook shows nothing of it (handover.py).

Two factories: "spawn" runs the kernel spec's command for each kernel, as papermill does; "fork"
(Linux, the default there) forks each kernel from a zygote that has imported the kernel machinery
once (forked.py): far less CPU per kernel, still a fresh process per notebook.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import zmq
import zmq.asyncio
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_core.paths import jupyter_runtime_dir
from jupyter_core.utils import run_sync

from helpers.errors import KernelPoolError
from helpers.run.kernels.environ import sanitized_environ
from helpers.run.kernels.forked import Zygote, ZygoteProvisioner, fork_supported, interpreter_of
from helpers.run.kernels.handover import check_env, hand_over, warmup_code

log = logging.getLogger("helpers.run.kernels")

FACTORIES = ("fork", "spawn")
# nbclient's own choice: its execution loop is asyncio, so the notebook's client is asynchronous.
# The manager stays synchronous: it holds no event loop, so any thread can start or stop its kernel.
ASYNC_CLIENT = "jupyter_client.asynchronous.AsyncKernelClient"
class PooledKernel:
    """One kernel of the pool: `km` its manager, `kc` its client (asynchronous, as nbclient's own)."""

    def __init__(self, km: KernelManager, context: zmq.asyncio.Context):
        self.km = km
        # Connected now, not at handover: by then IOPub is subscribed, and no message of the notebook is lost.
        self.kc = km.client(context=context)
        # No heartbeat: liveness comes from the process (the manager's poll), as nbclient asks it. And
        # jupyter_client's heartbeat thread, stopped before it ran, spins creating sockets until the
        # context has none left (a kernel found dead right after its start).
        self.kc.start_channels(hb=False)
        self.kc.allow_stdin = False  # as nbclient sets it: a headless run has nobody to type an answer

    @property
    def pid(self) -> int | None:
        provisioner = self.km.provisioner
        return getattr(provisioner, "pid", None) if provisioner is not None else None

    def alive(self) -> bool:
        return self.km.has_kernel and self.km.is_alive()

    def __repr__(self) -> str:
        return f"PooledKernel(pid={self.pid})"


async def _wait_bounded(provisioner, timeout: float) -> None:
    try:
        await asyncio.wait_for(provisioner.wait(), timeout)
    except TimeoutError:
        log.warning("kernel %s did not exit within %g s of SIGKILL", provisioner.pid, timeout)


class KernelPool:
    """Keeps `size` kernels of one kernel spec started and waiting; each is handed out once.

    size        warm kernels kept ready besides those in use (1 for a serial runner)
    factory     "fork" (Linux default: kernels forked from a pre-imported zygote) or "spawn"
    warmup      code run before handover, in a namespace of its own (e.g. "import helpers.notebook");
                with "fork" it runs once, in the zygote, and must not start threads
    hide        more variable names or patterns kept out of the kernels' environment
    """

    def __init__(self, size: int = 1, *, kernel_name: str = "python3", factory: str | None = None,
                 warmup: str = "", hide: Iterable[str] = (), startup_timeout: float = 60.0,
                 runtime_dir: str | os.PathLike | None = None):
        if not isinstance(size, int) or size < 1:
            raise KernelPoolError(f"size is {size!r}. Fix: give a whole number of kernels, 1 or more")
        factory = factory or ("fork" if fork_supported() else "spawn")
        if factory not in FACTORIES:
            raise KernelPoolError(f"factory is {factory!r}. Fix: use one of {', '.join(FACTORIES)}")
        if factory == "fork" and not fork_supported():
            raise KernelPoolError("factory 'fork' needs Linux. Fix: use factory='spawn'")
        self.size, self.kernel_name, self.factory = size, kernel_name, factory
        self.warmup, self.startup_timeout = warmup, startup_timeout
        spec = self._spec()
        self.environ = sanitized_environ(hide)
        self.runtime_dir = Path(runtime_dir or jupyter_runtime_dir())
        self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._warm: deque[PooledKernel] = deque()
        self._busy: set[PooledKernel] = set()
        self._retiring: list[PooledKernel] = []
        self._lock = threading.RLock()
        self._closed = False
        # One context for the pool's clients. They connect before their kernel listens: retrying every
        # 10 ms instead of ZeroMQ's 100 ms makes a just-started kernel's IOPub subscription land sooner.
        self._context = zmq.asyncio.Context()
        self._context.setsockopt(zmq.RECONNECT_IVL, 10)
        self.zygote = None
        atexit.register(self.close)
        try:
            if factory == "fork":
                self.zygote = Zygote(interpreter_of(spec.argv), self.environ, warmup)
            self._fill()
        except BaseException:
            self.close()
            raise

    # -- the pool's life ---------------------------------------------------------------------------

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Shut every kernel down (warm, in use, retiring) and the zygote. Safe to call twice, from any thread.
        A signal arriving meanwhile waits until every kernel is gone (helpers.run.interrupt.held_signals)."""
        from helpers.run.interrupt import held_signals

        with held_signals():
            with self._lock:
                if self._closed:
                    return
                self._closed = True
                kernels = [*self._warm, *self._busy]
                self._warm.clear()
                self._busy.clear()
            for kernel in kernels:
                self._kill(kernel)
            self._reap(block=True)
            if self.zygote is not None:
                self.zygote.close()
            self._context.destroy(linger=0)
            atexit.unregister(self.close)

    def pids(self) -> list[int]:
        """Every process the pool holds: kernels warm, in use or being shut down, and the zygote."""
        with self._lock:
            kernels = [*self._warm, *self._busy, *self._retiring]
        return [k.pid for k in kernels if k.pid] + ([self.zygote.pid] if self.zygote else [])

    def warm_pids(self) -> list[int]:
        """The kernels waiting for a notebook."""
        with self._lock:
            return [k.pid for k in self._warm if k.pid]

    # -- handing kernels out -----------------------------------------------------------------------

    @contextlib.contextmanager
    def kernel(self, env: Mapping[str, str | None] | None = None, cwd: str | os.PathLike | None = None,
               timeout: float | None = None, shutdown: str = "immediate") -> Iterator[PooledKernel]:
        """A handed-over kernel for one notebook, shut down afterwards ("immediate" or "graceful")."""
        if shutdown not in ("immediate", "graceful"):
            raise KernelPoolError(f"shutdown_kernel is {shutdown!r}. Fix: use 'immediate' or 'graceful'")
        kernel = self.acquire(env, cwd, timeout)
        try:
            yield kernel
        finally:
            self.release(kernel, graceful=shutdown == "graceful")

    def acquire(self, env: Mapping[str, str | None] | None = None, cwd: str | os.PathLike | None = None,
                timeout: float | None = None) -> PooledKernel:
        """A warm kernel, alive and answering, with `env` applied (None unsets) and `cwd` as working directory."""
        env = check_env(env)
        if cwd is not None:
            cwd = str(Path(cwd).resolve())
            if not Path(cwd).is_dir():
                raise KernelPoolError(f"the kernel's working directory {cwd!r} is not a folder. Fix: give an "
                                      "existing folder")
        timeout = self.startup_timeout if timeout is None else timeout
        failures: list[str] = []
        while len(failures) <= self.size + 1:  # every warm kernel, and a fresh one or two, may fail
            kernel = self._take()
            try:
                run_sync(hand_over)(kernel.kc, env, cwd, timeout)
            except Exception as exc:  # a kernel that died or hangs is never handed out
                failures.append(f"kernel {kernel.pid}: {exc}")
                log.warning("kernel %s failed before handover and was replaced: %s", kernel.pid, exc)
                self._discard(kernel)
                continue
            except BaseException:
                self._discard(kernel)
                raise
            self._fill()  # the next notebook's kernel starts while this one runs
            return kernel
        raise KernelPoolError(f"{len(failures)} kernels in a row failed before handover; last: {failures[-1]}. "
                              f"Fix: check that the command of kernel spec '{self.kernel_name}' runs "
                              "(jupyter kernelspec list shows where it is)")

    def release(self, kernel: PooledKernel, graceful: bool = False) -> None:
        """The notebook is done: the kernel is shut down, never reused."""
        if kernel.kc is not None:
            kernel.kc.stop_channels()
            kernel.kc = None
        if graceful:
            with self._lock:
                self._busy.discard(kernel)
            kernel.km.shutdown_kernel(now=False)
            return
        self._discard(kernel)

    # -- inside --------------------------------------------------------------------------------------

    def _spec(self):
        try:
            return KernelSpecManager().get_kernel_spec(self.kernel_name)
        except NoSuchKernel:
            raise KernelPoolError(f"no kernel spec named '{self.kernel_name}'. Fix: install it (python -m ipykernel "
                                  "install --sys-prefix --name python3) or name another") from None

    def _start(self) -> PooledKernel:
        kernel_id = str(uuid.uuid4())
        km = KernelManager(kernel_name=self.kernel_name, client_class=ASYNC_CLIENT,
                           connection_file=str(self.runtime_dir / f"kernel-{kernel_id}.json"))
        km.kernel_id = kernel_id
        extra = []
        if self.zygote is not None and self.zygote.process.poll() is not None:
            # Its kernels died with it (see zygote.py); the pool goes on with a new one.
            log.warning("the kernel zygote exited with code %s; starting a new one", self.zygote.process.returncode)
            self.zygote.close()
            self.zygote = Zygote(self.zygote.interpreter, self.environ, self.warmup)
        if self.zygote is not None:
            # Set before start_kernel, the manager uses this provisioner instead of asking the kernel
            # spec for one; a kernel spec cannot name a provisioner that needs our zygote object.
            km.provisioner = ZygoteProvisioner(kernel_id=kernel_id, kernel_spec=km.kernel_spec, parent=km)
            km.provisioner.zygote = self.zygote
        elif self.warmup:
            extra = [f"--IPKernelApp.exec_lines={warmup_code(self.warmup)}"]
        if not any(arg.startswith("--IPKernelApp.log_level") for arg in km.kernel_spec.argv):
            # A plain `pip install`'s kernel spec: the same quiet kernels `make`'s kernel spec starts (loopback
            # only, so ipykernel's "TCP without encryption" warning would open every run's output).
            extra.append("--IPKernelApp.log_level=ERROR")
        try:
            km.start_kernel(env=self.environ, extra_arguments=extra)
        except KernelPoolError:
            raise
        except Exception as exc:
            km.cleanup_resources()
            raise KernelPoolError(f"a kernel of spec '{self.kernel_name}' could not start: {exc}") from exc
        return PooledKernel(km, self._context)

    def _take(self) -> PooledKernel:
        with self._lock:
            if self._closed:
                raise KernelPoolError("the kernel pool is closed. Fix: use the pool inside its `with` block")
            self._reap()
            for dead in [k for k in self._warm if not k.alive()]:
                log.warning("warm kernel %s died before handover; replaced", dead.pid)
                self._warm.remove(dead)
                self._kill(dead)
            kernel = self._warm.popleft() if self._warm else self._start()
            self._busy.add(kernel)
            return kernel

    def _fill(self) -> None:
        with self._lock:
            while not self._closed and len(self._warm) < self.size:
                self._warm.append(self._start())

    def _discard(self, kernel: PooledKernel) -> None:
        with self._lock:
            self._busy.discard(kernel)
            self._kill(kernel)

    def _kill(self, kernel: PooledKernel) -> None:
        """SIGKILL now, reap later: KernelManager's own shutdown polls every 0.1 s, twice, per kernel."""
        if kernel.kc is not None:
            kernel.kc.stop_channels()
            kernel.kc = None
        provisioner = kernel.km.provisioner
        if provisioner is not None and provisioner.has_process:
            try:
                run_sync(provisioner.kill)()
            except OSError:
                pass  # already gone
        self._retire(kernel)

    def _retire(self, kernel: PooledKernel) -> None:
        with self._lock:
            self._retiring.append(kernel)

    def _reap(self, block: bool = False) -> None:
        """Wait for killed kernels (all of them, or those already gone) and remove their files and ports."""
        with self._lock:
            retiring, self._retiring = self._retiring, []
        still = []
        for kernel in retiring:
            provisioner = kernel.km.provisioner
            if provisioner is not None and provisioner.has_process:
                if not block and run_sync(provisioner.poll)() is None:
                    still.append(kernel)
                    continue
                if block:
                    with contextlib.suppress(OSError, ValueError):  # already gone
                        run_sync(provisioner.kill)()
                run_sync(_wait_bounded)(provisioner, 10.0)
            kernel.km.cleanup_resources()
        with self._lock:
            self._retiring.extend(still)
