"""Handing a warm kernel over to one notebook: make sure it answers on both channels, then apply that
notebook's environment and working directory inside it with a silent execute request (no history, no
output, no execution count), so the output notebook shows nothing of it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from queue import Empty

from helpers.errors import KernelPoolError

# Variables a Python process reads only when it starts: setting them at handover would do nothing.
STARTUP_ONLY = ("PYTHON", "LD_")

# Run by the handover request in a namespace of its own: nothing is left in the notebook's.
HANDOVER = """
import os
for name, value in ENV.items():
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
if CWD:
    os.chdir(CWD)
    from IPython import get_ipython
    shell = get_ipython()
    if shell is not None and isinstance(shell.user_ns.get("_dh"), list):
        shell.user_ns["_dh"][:] = [CWD]  # %dhist starts where the notebook runs, as in a fresh kernel
"""


def handover_code(env: Mapping[str, str | None], cwd: str | None) -> str:
    return f"exec(compile({HANDOVER!r}, '<kernel handover>', 'exec'), {{'ENV': {dict(env)!r}, 'CWD': {cwd!r}}})"


def warmup_code(warmup: str) -> str:
    return f"exec(compile({warmup!r}, '<kernel pool warm-up>', 'exec'), {{'__name__': '__warmup__'}})"


def check_env(env: Mapping[str, str | None] | None) -> dict[str, str | None]:
    env = dict(env or {})
    for name, value in env.items():
        if not isinstance(name, str) or not name or "=" in name:
            raise KernelPoolError(f"kernel_env has the name {name!r}. Fix: variable names are non-empty strings "
                                  "without '='")
        if value is not None and not isinstance(value, str):
            raise KernelPoolError(f"kernel_env[{name!r}] is a {type(value).__name__}. Fix: give a string, "
                                  "or None to unset the variable")
        if name.upper().startswith(STARTUP_ONLY):
            raise KernelPoolError(f"kernel_env[{name!r}] would be set after the kernel started, when Python no "
                                  "longer reads it. Fix: set it in the environment before creating the pool")
    return env


async def hand_over(kc, env: dict, cwd: str | None, timeout: float) -> None:
    """Make sure the kernel answers on both channels, then apply the notebook's environment and working
    directory. (jupyter_client's wait_for_ready would do the first part but always ends by waiting for
    0.2 s of IOPub silence.)"""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await _reply(kc, kc.kernel_info(), deadline)
        try:
            await kc.get_iopub_msg(timeout=0.2)
            break  # IOPub is connected: nbclient will see every output of the notebook
        except Empty:
            pass  # subscribed too late for that request's messages: ask again
    msg_id = kc.execute(handover_code(env, cwd), silent=True, store_history=False, allow_stdin=False)
    content = (await _reply(kc, msg_id, deadline))["content"]
    if content.get("status") != "ok":
        raise KernelPoolError(f"the handover failed in the kernel: {content.get('ename')}: {content.get('evalue')}")
    await _idle(kc, msg_id, max(0.0, deadline - asyncio.get_running_loop().time()))  # leave IOPub drained


async def _reply(kc, msg_id: str, deadline: float) -> dict:
    loop = asyncio.get_running_loop()
    while True:
        try:
            reply = await kc.get_shell_msg(timeout=min(1.0, max(0.0, deadline - loop.time())))
        except Empty:
            if not await kc.is_alive():
                raise KernelPoolError("the kernel died before handover") from None
            if loop.time() >= deadline:
                raise KernelPoolError("the kernel did not answer before the start-up timeout") from None
            continue
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


async def _idle(kc, msg_id: str, timeout: float) -> bool:
    """Read IOPub up to the kernel's `idle` after request `msg_id`; False if it did not come in time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            msg = await kc.get_iopub_msg(timeout=max(0.0, deadline - loop.time()))
        except Empty:
            return False
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"):
            return True
