"""`make lab` (`python -m helpers.tools.lab`): one command to practise the runbook in JupyterLab.

1. The emulator: if one answers at $BP_EMULATOR_URL (default http://127.0.0.1:8765), it is reused;
   otherwise one is started in this process for the session and stopped when JupyterLab exits.
2. JupyterLab as a child process on the practice workspace, copies of notebooks/ under an ignored
   folder (helpers.tools.workspace), so practising never edits a tracked file; its kernels pointed at
   that emulator through BP_EMULATOR_URL, opening README.md (the landing page) when it exists.
3. Ctrl-C, SIGTERM or SIGHUP stop JupyterLab cleanly (its kernels too), then the emulator.

It lives in `helpers`, beside the runner: it is the runbook's interactive front door as the runner is
the headless one, and it shares the runbook's notion of "the emulator" (`helpers.steps.params`). The
emulator package stays a stand-in for Bright Pattern that knows nothing of JupyterLab.

JupyterLab's own distractions are switched off through a settings directory this module owns
(`helpers/lab_settings/`, passed as `--LabApp.app_settings_dir`):
- `page_config.json` disables the `@jupyterlab/apputils-extension:announcements` plugin. In
  JupyterLab 4.6 that plugin asks "Would you like to get notified about official Jupyter news?" as
  long as the `fetchNews` setting is unanswered, even with `--LabApp.news_url=None` (which only
  empties the feed); it is also what checks PyPI for updates. Without it, neither happens.
- `overrides.json` opens Markdown files rendered (Markdown Preview) rather than in the text editor,
  so the landing page reads as a page. "Open With > Editor" still edits it.

JupyterLab runs in its own process group so that the terminal's Ctrl-C reaches only this launcher,
which turns it into one clean SIGTERM: JupyterLab shuts its kernels down and exits, without its
"Shut down this Jupyter server (y/[n])?" prompt. A second Ctrl-C kills it outright.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from helpers.errors import ApiConnectionError, ApiError, ApiTimeoutError, ParameterError
from helpers.safety.private import sweep
from helpers.steps.params import DEFAULT_EMULATOR_URL, EMULATOR_URL_ENV
from helpers.tenant.transport import RetryPolicy, Transport, check_base_url, decode_json, is_loopback
from helpers.tools import workspace

LAB_SETTINGS = Path(__file__).with_name("lab_settings")
LANDING_PAGE = "README.md"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

EMULATOR, ABSENT, SOMETHING_ELSE = "emulator", "absent", "something else"


def probe(url: str) -> str:
    """What answers at `url`: the emulator (its console's JSON), nothing, or something else."""
    transport = Transport(url, connect_timeout=2, read_timeout=5, retry=RetryPolicy(max_attempts=1))
    try:
        info = decode_json(transport.request("GET", "/_emulator/", idempotent=True), "GET", "/_emulator/")
    except (ApiConnectionError, ApiTimeoutError):
        return ABSENT
    except ApiError:
        return SOMETHING_ELSE
    return EMULATOR if isinstance(info, dict) and "emulator" in info else SOMETHING_ELSE


def emulator_url(emulator_port: int | None, environ=os.environ) -> str:
    """--emulator-port wins over $BP_EMULATOR_URL, which wins over the default address."""
    if emulator_port is not None:
        return f"http://127.0.0.1:{emulator_port}"
    return check_base_url(environ.get(EMULATOR_URL_ENV) or DEFAULT_EMULATOR_URL, EMULATOR_URL_ENV)


def port_number(text: str) -> int:
    """argparse type for --port and --emulator-port: a TCP port, said plainly when it is not one."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; give one from 1 to 65535 (e.g. 8766)")
    return port


def free_port_from(port: int, tries: int = 50) -> int:
    """The first port from `port` on that nothing listens on (what JupyterLab itself would move to), so
    that the landing page's address is known before JupyterLab starts."""
    for candidate in range(port, min(port + tries, 65536)):
        with socket.socket() as probe_socket:
            try:
                probe_socket.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    return port


def link_back(emulator: str, landing: str) -> bool:
    """Tell the emulator's practice admin UI where the runbook's landing page is, for its "Back to the
    runbook" link; False (the link stays as it was) when the emulator does not take it."""
    transport = Transport(emulator, connect_timeout=2, read_timeout=5, retry=RetryPolicy(max_attempts=1))
    try:
        transport.request("PUT", "/_emulator/runbook-link", json_body={"url": landing}, idempotent=True)
    except ApiError:
        return False
    return True


def lab_command(notebook_dir: Path, port: int, *, open_browser: bool, extra: list[str], euid: int) -> list[str]:
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={notebook_dir}", f"--ServerApp.port={port}",
               f"--LabApp.app_settings_dir={LAB_SETTINGS}"]
    if (notebook_dir / LANDING_PAGE).is_file():
        command.append(f"--LabApp.default_url=/lab/tree/{LANDING_PAGE}")
    if not open_browser:
        command.append("--no-browser")
    if euid == 0:
        command.append("--allow-root")  # JupyterLab refuses root otherwise (containers, CI machines)
    return command + extra


def run_lab(command: list[str], env: dict[str, str]) -> int:
    """Run JupyterLab until it exits; the stop signals ask it to shut down cleanly (twice: kill it)."""
    lab = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, process_group=0)
    asked = []

    def stop(signum, frame):
        if lab.poll() is not None:
            return
        if asked:
            print("Stopping JupyterLab now (second signal).", flush=True)
            os.killpg(lab.pid, signal.SIGKILL)
        else:
            print("Stopping JupyterLab and its kernels (again to force) ...", flush=True)
            lab.send_signal(signal.SIGTERM)
        asked.append(signum)

    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        code = lab.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0 if asked and code in (0, -signal.SIGTERM, -signal.SIGKILL) else code


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.tools.lab", allow_abbrev=False,
        description="Practise the runbook: JupyterLab on copies of notebooks/ (the practice workspace, "
                    "outputs/_practice: practising never edits a tracked file) against the local emulator, which is "
                    "reused if it already answers and otherwise started for the session. Any other option "
                    "is passed to JupyterLab.",
        epilog="Examples: make lab | python -m helpers.tools.lab --port 8890 --emulator-port 8766 --no-browser")
    parser.add_argument("--port", type=port_number, default=8888,
                        help="JupyterLab's port (default: 8888; JupyterLab takes the next free one if it is busy)")
    parser.add_argument("--emulator-port", type=port_number,
                        help=f"the emulator's port on 127.0.0.1 (default: ${EMULATOR_URL_ENV}, else {DEFAULT_EMULATOR_URL})")
    parser.add_argument("--practice-dir", type=Path, default=workspace.PRACTICE,
                        help="the practice workspace: copies of notebooks/, brought up to date at each start "
                             "(default: outputs/_practice)")
    parser.add_argument("--reset", action="store_true",
                        help="replace every copy in the practice workspace with the committed page (your changed "
                             "copies are set aside under _previous/, never deleted)")
    parser.add_argument("--notebook-dir", type=Path,
                        help="serve this folder as it is instead of the practice workspace (its files get edited)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args, extra = parser.parse_known_args(argv)

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    for folder in sweep():  # what a hard-killed run left (helpers/safety/private.py)
        say(f"Removed {folder}: a private folder left by a run that was killed.")

    try:
        url = emulator_url(args.emulator_port)
    except ParameterError as exc:
        say(f"error: {exc}")
        return 2
    if args.notebook_dir is not None and not args.notebook_dir.is_dir():
        say(f"error: --notebook-dir {args.notebook_dir} is not a directory")
        return 2
    if args.notebook_dir is None:
        try:
            args.notebook_dir = workspace.prepare(args.practice_dir, reset=args.reset, say=say)
        except OSError as exc:
            say(f"error: --practice-dir {args.practice_dir}: cannot prepare the practice copies ({exc.strerror or exc}). "
                "Give a writable folder.")
            return 2
        say(f"Practice workspace: {args.notebook_dir} (copies of notebooks/; practising never edits those)")

    server = None
    found = probe(url)
    if found == SOMETHING_ELSE:
        say(f"error: {url} answers, but not as the emulator. Stop what listens there, or choose another address "
            f"with --emulator-port or {EMULATOR_URL_ENV}.")
        return 2
    if found == ABSENT:
        parts = urlsplit(url)
        if not is_loopback(parts.hostname or ""):
            say(f"error: no emulator answers at {url}, and this launcher starts one only on loopback. "
                f"Start it there, or unset {EMULATOR_URL_ENV}.")
            return 2
        from emulator import EmulatorServer  # Flask and the store load only when an emulator is started

        try:
            server = EmulatorServer(parts.hostname, parts.port or 80, quiet=True).start()
        except OSError as exc:
            say(f"error: cannot start the emulator on {parts.hostname}:{parts.port}: {exc.strerror}. "
                "Choose another --emulator-port.")
            return 2
        say(f"Emulator started for this session at {url} (it stops when JupyterLab exits).")
    else:
        say(f"Emulator: reusing the one already answering at {url} (it keeps running after JupyterLab exits).")
    try:
        port = free_port_from(args.port)
        landing = f"http://localhost:{port}/lab/tree/{LANDING_PAGE}"
        if (args.notebook_dir / LANDING_PAGE).is_file() and not link_back(url, landing):
            say("The practice admin UI did not take the runbook's address: it shows no link back to it.")
        say(f"Practice admin UI (stands in for Contact Center Administrator): {url}/_emulator/")
        say(f"Notebook kernels get {EMULATOR_URL_ENV}={url}.")
        say(f"Starting JupyterLab on {args.notebook_dir} (Ctrl-C stops it"
            f"{' and the emulator' if server else ''}) ...")
        command = lab_command(args.notebook_dir.resolve(), port, open_browser=not args.no_browser, extra=extra,
                              euid=os.geteuid())
        return run_lab(command, {**os.environ, EMULATOR_URL_ENV: url})
    finally:
        if server is not None:
            server.stop()
            say(f"Emulator at {url} stopped.")


if __name__ == "__main__":
    raise SystemExit(main())
