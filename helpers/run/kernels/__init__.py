"""Warm, single-use Jupyter kernels for papermill.

    pool.py     KernelPool: kernels started ahead, handed over once (environment, working directory)
    handover.py a warm kernel handed over to one notebook: its environment and working directory
    engine.py   the papermill engine `bp-kernel-pool` that takes its kernels from a pool
    environ.py  the sanitized environment pooled kernels start with
    forked.py   the "fork" factory: a jupyter_client provisioner whose kernels are forked from a zygote
    zygote.py   the zygote process itself

Nothing is imported here: import what you use from its module.
"""
