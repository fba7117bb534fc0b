"""Kernels forked from a zygote, behind jupyter_client's own extension point: a kernel provisioner.

A kernel's start-up is mostly importing ipykernel, IPython, ZeroMQ and the debugger. The zygote
(helpers/kernels/zygote.py) imports them once; each kernel is then a fork of it that only creates its
sockets and shell: a fresh, single-use process, at a fraction of the CPU. On two cores that CPU, not
the wall time, is what limits a fleet of runbooks.

`ZygoteProvisioner` is jupyter_client's `LocalProvisioner` with one change: `launch_kernel` asks the
zygote for a child instead of running the kernel spec's command. The KernelManager still picks the
ports, writes the connection file, adds the launch environment, signals, kills and cleans up.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Any

from helpers.errors import KernelPoolError

PACKET = 1 << 20
# Run as a script, not `-m helpers.run.kernels.zygote`: the kernels it forks then hold no module of this project.
ZYGOTE = Path(__file__).with_name("zygote.py")
LAUNCHER = ["-m", "ipykernel_launcher"]


def fork_supported() -> bool:
    # SOCK_SEQPACKET over AF_UNIX and PR_SET_PDEATHSIG: Linux. Elsewhere kernels are spawned as usual.
    return sys.platform.startswith("linux")


def bare_pythons() -> set[str]:
    """The interpreter names jupyter_client replaces with sys.executable (KernelManager.format_kernel_cmd)."""
    return {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}


def interpreter_of(argv: list[str]) -> list[str]:
    """The interpreter part of a kernel spec's argv: everything before `-m ipykernel_launcher`, a bare
    `python` (what `pip install ipykernel` writes) resolved to sys.executable as jupyter_client does."""
    for i in range(len(argv) - 1):
        if argv[i:i + 2] == LAUNCHER:
            interpreter = list(argv[:i])
            if interpreter and interpreter[0] in bare_pythons():
                interpreter[0] = sys.executable
            return interpreter
    raise KernelPoolError(f"the kernel spec's command {argv!r} does not run `-m ipykernel_launcher`, so its "
                          "kernels cannot be forked from a zygote. Fix: use KernelPool(factory='spawn')")


class ForkedProcess:
    """What LocalProvisioner expects of a subprocess.Popen, for a child of the zygote (not of us).

    The zygote reports the child's exit on the child's own channel, and delivers its signals while
    the child is not reaped yet, so a signal never reaches a recycled pid."""

    stdin = stdout = stderr = None

    def __init__(self, channel: socket.socket, pid: int):
        self.channel, self.pid = channel, pid
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def _read(self, timeout: float | None) -> None:
        self.channel.settimeout(timeout)
        try:
            data = self.channel.recv(PACKET)
        except (BlockingIOError, TimeoutError):
            return
        except OSError:
            data = b""
        # No message and a closed channel: the zygote is gone, and its children were killed with it.
        self.returncode = json.loads(data).get("exit", -signal.SIGKILL) if data else -signal.SIGKILL
        self.channel.close()

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None:
                self._read(0)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self._lock:
            if self.returncode is None:
                self._read(timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            return self.returncode

    def send_signal(self, signum: int) -> None:
        with self._lock:
            if self.returncode is None:
                try:
                    self.channel.send(json.dumps({"signal": int(signum)}).encode())
                except OSError:
                    pass  # the zygote is gone and took the child with it

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """The zygote process, started from a kernel spec's interpreter with a sanitized environment."""

    def __init__(self, interpreter: list[str], env: Mapping[str, str], warmup: str = "", cwd: str | None = None):
        self.interpreter = list(interpreter)
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._lock = threading.Lock()
        self._ready = False
        try:
            # A session of its own, like a kernel: a Ctrl-C at the terminal is the runner's to handle.
            self.process = subprocess.Popen(
                [*self.interpreter, str(ZYGOTE), str(theirs.fileno()), str(os.getpid())],
                pass_fds=[theirs.fileno()], env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self.control.close()
            raise KernelPoolError(f"the kernel zygote could not start ({exc}). Fix: check the kernel spec's "
                                  "interpreter, or use KernelPool(factory='spawn')") from exc
        finally:
            theirs.close()
        self.control.send(json.dumps({"warmup": warmup}).encode())

    @property
    def pid(self) -> int:
        return self.process.pid

    def _wait_ready(self, timeout: float) -> None:
        if self._ready:
            return
        self.control.settimeout(timeout)
        try:
            data = self.control.recv(PACKET)
        except TimeoutError:
            data = None
        message = json.loads(data) if data else {}
        if "ready" not in message:
            why = message.get("error") or ("it exited" if data is not None else f"not ready after {timeout:g} s")
            raise KernelPoolError(f"the kernel zygote did not start: {why}")
        self._ready = True

    def kernel_args(self, cmd: list[str]) -> list[str]:
        """The kernel's own arguments (after `-m ipykernel_launcher`), once sure the zygote runs its interpreter."""
        n = len(self.interpreter)
        if cmd[:n] != self.interpreter or cmd[n:n + 2] != LAUNCHER:
            raise KernelPoolError(f"kernel command {cmd!r} does not match the zygote's interpreter "
                                  f"{self.interpreter!r}. Fix: one pool per kernel spec")
        return cmd[n + 2:]

    def spawn(self, argv: list[str], env: Mapping[str, str], cwd: str | None, timeout: float = 60) -> ForkedProcess:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with self._lock:
                self._wait_ready(timeout)
                request = json.dumps({"argv": argv, "env": dict(env), "cwd": cwd}).encode()
                try:
                    socket.send_fds(self.control, [request], [theirs.fileno()])
                except OSError as exc:
                    raise KernelPoolError(f"the kernel zygote is gone ({exc})") from exc
        finally:
            theirs.close()
        mine.settimeout(timeout)
        try:
            data = mine.recv(PACKET)
        except (OSError, TimeoutError):
            data = b""
        reply = json.loads(data) if data else {"error": "no answer from the zygote"}
        if "pid" not in reply:
            mine.close()
            raise KernelPoolError(f"the kernel zygote could not fork a kernel: {reply['error']}")
        return ForkedProcess(mine, reply["pid"])

    def close(self, timeout: float = 10) -> None:
        """Closing the control socket makes the zygote kill its children and exit."""
        self.control.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ZygoteProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernels are forked from `zygote` instead of run from the kernel spec's command."""

    zygote = Any(help="the forked.Zygote that forks this provisioner's kernel")

    async def launch_kernel(self, cmd: list[str], **kwargs):
        self.process = self.zygote.spawn(self.zygote.kernel_args(cmd), kwargs.get("env") or {}, kwargs.get("cwd"))
        self.pid = self.pgid = self.process.pid  # the child starts its own session: its pid is its group
        self.cwd = kwargs.get("cwd") or os.getcwd()
        return self.connection_info

    async def send_signal(self, signum: int) -> None:
        # Through the zygote, which delivers it to the kernel's process group while the kernel lives.
        if self.process:
            self.process.send_signal(signum)
