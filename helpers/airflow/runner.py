"""`python -m helpers run` for one tenant, as a subprocess through Airflow's SubprocessHook.

The hook starts the runner in its own process group, streams each line of its output into the task
log and sends SIGTERM to the group (on_kill). What it lacks, added here: the lines themselves (the
hook returns only the last one, and the report's path is not last), and a stop that lets the runner
record the interrupted run (SIGTERM, then up to `grace_s`, then SIGKILL to the group) whichever way
the task ends, its execution_timeout included."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field

from airflow.providers.standard.hooks.subprocess import SubprocessHook

from helpers.airflow.outcome import meaning


class _Kept:
    """The hook's logger, keeping the lines it logs (the hook logs each output line as info "%s")."""

    def __init__(self, log, lines: list[str]):
        self._log, self._lines = log, lines

    def info(self, message, *args, **kwargs):
        if message == "%s" and len(args) == 1:
            self._lines.append(str(args[0]))
        self._log.info(message, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._log, name)


@dataclass
class RunnerCall:
    """One run of the runner; `stop()` may come from another thread (the task's on_kill)."""

    command: list[str]
    cwd: str
    env: dict[str, str]
    grace_s: float
    log: object
    lines: list[str] = field(default_factory=list)
    hook: SubprocessHook = field(default_factory=SubprocessHook)

    def run(self) -> int:
        self.hook._log = _Kept(self.hook.log, self.lines)
        try:
            return self.hook.run_command(self.command, env=self.env, cwd=self.cwd).exit_code
        finally:
            self.stop()  # a timeout (AirflowTaskTimeout) or an error here: the runner records and ends

    def signal(self) -> None:
        """SIGTERM to the runner's process group, once it runs (on_kill)."""
        process = self.hook.sub_process
        if process is not None and process.poll() is None:
            self.hook.send_sigterm()

    def stop(self) -> None:
        """SIGTERM: the runner stops the current notebook, records the run as interrupted (exit 5) and
        releases the lock; its process group is killed only if it has not ended after grace_s. Its
        last lines (where the record is) still reach the task log."""
        process = self.hook.sub_process
        if process is None or process.poll() is not None:
            return
        self.hook.send_sigterm()
        try:
            rest, _ = process.communicate(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            rest, _ = process.communicate()
        for line in (rest or b"").decode("utf-8", errors="backslashreplace").splitlines():
            self.lines.append(line)
            self.log.info("%s", line)
        self.log.warning("the runner was stopped, exit %s (%s)", process.returncode, meaning(process.returncode))

    def report(self) -> str | None:
        return next((line.removeprefix("Report: ").strip() for line in reversed(self.lines)
                     if line.startswith("Report: ")), None)

    def last_line(self) -> str:
        return next((line.strip() for line in reversed(self.lines) if line.strip()), "")
