"""A papermill engine that runs each notebook in a warm, single-use kernel from a KernelPool.

Registered through papermill's `papermill.engine` entry point (pyproject.toml) as `bp-kernel-pool`:

    pm.execute_notebook(src, out, parameters=..., engine_name="bp-kernel-pool",
                        kernel_pool=pool,                          # a KernelPool; default: one per kernel spec
                        kernel_env={"BP_RUNBOOK_HEADLESS": "1"},   # this notebook's variables (None unsets)
                        kernel_cwd=None)                           # default: the cwd papermill runs the engine in

    papermill --engine bp-kernel-pool in.ipynb out.ipynb          # the command line: the default pool

Everything else is papermill's nbclient engine: same options, same output notebook. The kernel is
shut down when the notebook ends (`shutdown_kernel`: "graceful", nbclient's default, or "immediate").
"""

from __future__ import annotations

import atexit
import os
import threading

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager
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


class ThrottledSaves(NotebookExecutionManager):
    """papermill writes the output notebook (validated, then encoded) at every cell's start and end:
    twenty writes for a nine-cell notebook, the largest CPU cost of a run in the parent process. This
    writes it at the start, on an exception, at the end (also when interrupted: papermill's `finally`)
    and at most once a second in between, so a long cell's progress still reaches the disk."""

    min_interval = 1.0

    def save(self, force: bool = False, **kwargs):
        last = getattr(self, "last_save_time", None)
        if force or last is None or (self.now() - last).total_seconds() >= self.min_interval:
            super().save(**kwargs)

    def notebook_start(self, **kwargs):
        super().notebook_start(**kwargs)
        self.save(force=True)

    def cell_exception(self, cell, cell_index=None, **kwargs):
        super().cell_exception(cell, cell_index, **kwargs)
        self.save(force=True)

    def notebook_complete(self, **kwargs):
        super().notebook_complete(**kwargs)
        self.save(force=True)


class KernelPoolEngine(NBClientEngine):
    @classmethod
    def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                         autosave_cell_every=30, **kwargs):
        """papermill's Engine.execute_notebook, with ThrottledSaves as the execution manager."""
        nb_man = ThrottledSaves(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                                autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                 start_timeout=60, execution_timeout=None, kernel_pool=None, kernel_env=None,
                                 kernel_cwd=None, shutdown_kernel="graceful", **kwargs):
        pool = kernel_pool if kernel_pool is not None else default_pool(kernel_name)
        if pool.kernel_name != kernel_name:
            raise KernelPoolError(f"the notebook needs kernel '{kernel_name}' but the pool holds "
                                  f"'{pool.kernel_name}' kernels. Fix: pass kernel_name='{pool.kernel_name}' or "
                                  f"a pool of '{kernel_name}' kernels")
        # As NBClientEngine does: papermill's option names mapped onto nbclient's.
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(safe_kwargs, timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                                    startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                                    log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
        # papermill has changed into `cwd` for the engine: a fresh kernel would have started there.
        cwd = kernel_cwd if kernel_cwd is not None else os.getcwd()
        with pool.kernel(env=kernel_env, cwd=cwd, timeout=start_timeout, shutdown=shutdown_kernel) as kernel:
            client = PapermillNotebookClient(nb_man, km=kernel.km, **final_kwargs)
            client.kc = kernel.kc  # connected and ready: nbclient uses it instead of starting a kernel
            return client.execute()
