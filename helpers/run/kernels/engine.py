"""A papermill engine that runs each notebook in a warm, single-use kernel from a KernelPool.

Registered through papermill's `papermill.engine` entry point (pyproject.toml) as `bp-kernel-pool`:

    pm.execute_notebook(src, out, parameters=..., engine_name="bp-kernel-pool",
                        kernel_pool=pool,                          # a KernelPool; default: one per kernel spec
                        kernel_env={"BP_RUNBOOK_HEADLESS": "1"},   # this notebook's variables (None unsets)
                        kernel_cwd=None)                           # default: the cwd papermill runs the engine in

    papermill --engine bp-kernel-pool in.ipynb out.ipynb          # the command line: the default pool

Everything else is papermill's nbclient engine: same options, same output notebook. The kernel is
shut down when the notebook ends (`shutdown_kernel`: "graceful", nbclient's default, or "immediate").
The output notebook is written at the start, when a cell raised, at the end (also when interrupted)
and at most once a second in between (ThrottledSaves; `save_clock`, a monotonic clock, is its clock).

Only papermill's extension points are used: the engine entry point and the engine hook
`execute_managed_notebook`; the one copy (papermill's options mapped onto nbclient's, nbclient_options)
is compared with the installed papermill's source by tests/test_kernels.py.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from helpers.errors import KernelPoolError
from helpers.run.kernels.pool import KernelPool

ENGINE_NAME = "bp-kernel-pool"

_default_pools: dict[str, KernelPool] = {}
_default_lock = threading.Lock()


def default_pool(kernel_name: str) -> KernelPool:
    """The pool for callers that pass none (the papermill command line): one warm kernel, closed at exit."""
    with _default_lock:
        pool = _default_pools.get(kernel_name)
        if pool is None:
            pool = _default_pools[kernel_name] = KernelPool(size=1, kernel_name=kernel_name)
        return pool


@atexit.register
def close_default_pools() -> None:
    with _default_lock:
        pools = list(_default_pools.values())
        _default_pools.clear()
    for pool in pools:
        pool.close()


def nbclient_options(kernel_name, log_output=False, stdout_file=None, stderr_file=None, start_timeout=60,
                     execution_timeout=None, **kwargs):
    """papermill's options mapped onto nbclient's: the body of NBClientEngine.execute_managed_notebook
    but its last line (which makes a client that would start a kernel of its own). tests/test_kernels.py
    compares the two and fails when papermill's changes."""
    # Exclude parameters that are unused downstream
    kwargs = remove_args(['input_path'], **kwargs)

    # Exclude parameters that named differently downstream
    safe_kwargs = remove_args(['timeout', 'startup_timeout'], **kwargs)

    # Nicely handle preprocessor arguments prioritizing values set by engine
    final_kwargs = merge_kwargs(
        safe_kwargs,
        timeout=execution_timeout if execution_timeout else kwargs.get('timeout'),
        startup_timeout=start_timeout,
        kernel_name=kernel_name,
        log=logger,
        log_output=log_output,
        stdout_file=stdout_file,
        stderr_file=stderr_file,
    )
    return final_kwargs


class ThrottledSaves:
    """papermill writes the output notebook (validated, then encoded) at every cell's start and end:
    twenty writes for a nine-cell notebook, the largest CPU cost of a run in the parent process.

    Installed over the `save` of papermill's NotebookExecutionManager (an instance attribute) while the
    cells run, it lets a write through when a cell has raised, and otherwise at most once a second, so
    a long cell's progress still reaches the disk. The writes at the start (papermill's `notebook_start`)
    and at the end (its `notebook_complete`, also when interrupted: papermill's `finally`) are papermill's
    own: they happen before the throttle is installed and after it is removed."""

    min_interval = 1.0

    def __init__(self, nb_man, clock=time.monotonic):
        self.nb_man, self.clock = nb_man, clock
        self.write = nb_man.save  # papermill's own, bound
        self.last = clock()  # notebook_start has just written
        self.raised = False

    def save(self, **kwargs):
        if kwargs.get("nb") is not None:  # papermill's catch_nb_assignment, written or not
            self.nb_man.nb = kwargs["nb"]
        raised = bool(self.nb_man.nb.metadata.get("papermill", {}).get("exception"))
        now = self.clock()
        if raised != self.raised or now - self.last >= self.min_interval:
            self.raised, self.last = raised, now
            self.write(**kwargs)

    @classmethod
    @contextlib.contextmanager
    def installed(cls, nb_man, clock=time.monotonic):
        """papermill's NotebookExecutionManager `nb_man` writes through the throttle for the duration."""
        nb_man.save = cls(nb_man, clock).save
        try:
            yield
        finally:
            del nb_man.save  # papermill's own again, for notebook_complete's final write


class KernelPoolEngine(NBClientEngine):
    """papermill's nbclient engine with its kernel from a pool. papermill's Engine.execute_notebook
    (notebook_start, this engine's execute_managed_notebook, then notebook_complete) is papermill's."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, kernel_pool=None, kernel_env=None, kernel_cwd=None,
                                 shutdown_kernel="graceful", save_clock=time.monotonic, **kwargs):
        pool = kernel_pool if kernel_pool is not None else default_pool(kernel_name)
        if pool.kernel_name != kernel_name:
            raise KernelPoolError(f"the notebook needs kernel '{kernel_name}' but the pool holds "
                                  f"'{pool.kernel_name}' kernels. Fix: pass kernel_name='{pool.kernel_name}' or "
                                  f"a pool of '{kernel_name}' kernels")
        options = nbclient_options(kernel_name, **kwargs)
        # papermill has changed into `cwd` for the engine: a fresh kernel would have started there.
        cwd = kernel_cwd if kernel_cwd is not None else os.getcwd()
        with pool.kernel(env=kernel_env, cwd=cwd, timeout=options["startup_timeout"], shutdown=shutdown_kernel) as kernel, \
                ThrottledSaves.installed(nb_man, save_clock):
            client = PapermillNotebookClient(nb_man, km=kernel.km, **options)
            client.kc = kernel.kc  # connected and ready: nbclient uses it instead of starting a kernel
            return client.execute()
