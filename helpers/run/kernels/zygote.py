"""The zygote: one process that imports the kernel machinery once, then forks a fresh kernel per request.

Run by `forked.Zygote` as `python [the kernel spec's interpreter flags] .../zygote.py FD PARENT_PID`; it
imports nothing of this project, so neither do the kernels it forks (besides the warm-up's imports).
FD is one end of a SOCK_SEQPACKET socket pair (one JSON message per packet):

    parent -> zygote   {"warmup": "<code>"}                      once, first; reply {"ready": pid} or {"error": text}
    parent -> zygote   {"argv": [...], "env": {...}, "cwd": ...}  with one file descriptor attached: the kernel's channel
    zygote -> channel  {"pid": n} or {"error": text}, later {"exit": code} (Popen's convention), then the channel closes
    channel -> zygote  {"signal": n}                              delivered to the kernel's process group while it lives
    channel closed by the parent: the zygote kills that kernel.   Control socket closed: it kills all and exits.

Forking is only safe while the zygote has one thread and no ZeroMQ context: it only imports modules and
runs the warm-up code before forking, and checks the thread count. Each child then is what
`python -m ipykernel_launcher` would be: a new session (process group), stdin on /dev/null, the
requested environment and working directory, and an IPKernelApp created from scratch. It dies with
the zygote (PR_SET_PDEATHSIG on Linux, ipykernel's parent poller elsewhere), and the zygote kills its
children and exits when its control socket closes, which happens however its parent dies: a killed
runner leaves no kernel behind.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import traceback

# What IPKernelApp.initialize() and a kernel's first execution would import; imported once here.
KERNEL_MODULES = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
    "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect", "IPython.extensions.storemagic",
    "IPython.utils.wildcard", "sqlite3", "tornado.platform.asyncio",
)
PACKET = 1 << 20  # largest message; a kernel environment is a few kB


def die_with_parent() -> None:
    """Linux: the kernel gets SIGKILL the moment its parent (the thread that forked it) dies."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def send(sock: socket.socket, message: dict) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass  # the other end is gone: nobody to tell


class Zygote:
    def __init__(self, control: socket.socket):
        self.control = control
        self.selector = selectors.DefaultSelector()
        self.wakeup_r, self.wakeup_w = os.pipe()
        self.children: dict[int, socket.socket] = {}  # pid -> its channel

    def prepare(self) -> None:
        """Import the kernel machinery and run the warm-up code, then make sure forking stays safe."""
        message = json.loads(self.control.recv(PACKET))
        for name in KERNEL_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:
                pass  # only an optimisation: the child imports what it needs
        if message.get("warmup"):
            exec(compile(message["warmup"], "<kernel pool warm-up>", "exec"), {"__name__": "__warmup__"})
        if threading.active_count() != 1:
            raise RuntimeError(f"the warm-up left {threading.active_count() - 1} thread(s) running; "
                               "forking kernels from it would be unsafe. Fix: warm up with imports only")

    def serve(self) -> None:
        os.set_blocking(self.wakeup_w, False)
        signal.set_wakeup_fd(self.wakeup_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the selector through the wakeup fd
        self.selector.register(self.control, selectors.EVENT_READ, "control")
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, "wakeup")
        while True:
            for key, _ in self.selector.select():
                if key.data == "control":
                    if not self.spawn():
                        return
                elif key.data == "wakeup":
                    os.read(self.wakeup_r, 4096)
                    self.reap()
                elif key.fileobj.fileno() != -1:  # not closed by reap() earlier in this batch
                    self.from_channel(key.fileobj, key.data)

    def spawn(self) -> bool:
        """One request on the control socket; False when the parent has gone."""
        try:
            data, fds, _, _ = socket.recv_fds(self.control, PACKET, 1)
        except OSError:
            return False
        if not data:
            return False
        if not fds:
            return True  # a request without its channel: nothing to answer on
        channel = socket.socket(fileno=fds[0])
        request = json.loads(data)
        try:
            pid = os.fork()
        except OSError as exc:
            send(channel, {"error": f"fork failed: {exc}"})
            channel.close()
            return True
        if pid == 0:
            self.become_kernel(request, channel)  # never returns
        self.children[pid] = channel
        self.selector.register(channel, selectors.EVENT_READ, pid)
        send(channel, {"pid": pid})
        return True

    def from_channel(self, channel: socket.socket, pid: int) -> None:
        try:
            data = channel.recv(PACKET)
        except OSError:
            data = b""
        if not data:  # the parent let go of this kernel: it must not outlive that
            self.signal(pid, signal.SIGKILL)
            self.selector.unregister(channel)
            return
        message = json.loads(data)
        if "signal" in message:
            self.signal(pid, int(message["signal"]))

    def signal(self, pid: int, signum: int) -> None:
        # The child is not reaped yet (reap() forgets it first), so its pid cannot have been reused.
        if pid in self.children:
            try:
                os.killpg(pid, signum)
            except OSError:
                try:
                    os.kill(pid, signum)  # before the child's setsid()
                except OSError:
                    pass

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            channel = self.children.pop(pid, None)
            if channel is not None:
                send(channel, {"exit": os.waitstatus_to_exitcode(status)})
                if channel.fileno() in self.selector.get_map():
                    self.selector.unregister(channel)
                channel.close()

    def shutdown(self) -> None:
        for pid in list(self.children):
            self.signal(pid, signal.SIGKILL)
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass

    def become_kernel(self, request: dict, channel: socket.socket) -> None:
        """In the forked child: drop the zygote's state, then run ipykernel as its launcher would."""
        code = 1
        try:
            os.setsid()
            die_with_parent()
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.selector.close()
            for sock in (self.control, channel, *self.children.values()):
                sock.close()
            os.close(self.wakeup_r)
            os.close(self.wakeup_w)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            if request.get("cwd"):
                os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["env"])
            os.environ["JPY_PARENT_PID"] = str(os.getppid())
            if "numpy" in sys.modules:  # the zygote's random state must not be shared by its children
                sys.modules["numpy"].random.seed()
            from ipykernel.kernelapp import IPKernelApp

            # parent_handle: the trait's default was read from the zygote's environment at import time.
            argv = list(request["argv"]) + [f"--IPKernelApp.parent_handle={os.getppid()}"]
            sys.argv = ["ipykernel_launcher", *argv]
            IPKernelApp.launch_instance(argv=argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                atexit._run_exitfuncs()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)


def main(argv: list[str]) -> int:
    control_fd, parent_pid = int(argv[0]), int(argv[1])
    # This script's folder must not shadow the notebooks' imports (ipykernel_launcher drops its own too).
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    if os.getppid() != parent_pid:
        return 1  # the parent died before we started
    # No PR_SET_PDEATHSIG here: it follows the parent *thread*, and a pool may be made in any thread.
    # The control socket's end of file says the parent has gone, however it died.
    control = socket.socket(fileno=control_fd)
    zygote = Zygote(control)
    try:
        zygote.prepare()
    except BaseException as exc:  # reported to the parent, which raises it
        send(control, {"error": "".join(traceback.format_exception_only(type(exc), exc)).strip()})
        return 1
    send(control, {"ready": os.getpid()})
    try:
        zygote.serve()
    finally:
        zygote.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
