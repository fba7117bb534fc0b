"""`make lab` (`python -m helpers.tools.lab`) as a subprocess on free ports: it starts an emulator for the
session or reuses a running one, JupyterLab answers on notebooks/ with its landing page rendered and
no news pop-up (in Debian's headless Chromium), kernels see BP_EMULATOR_URL, and SIGINT or SIGTERM
stop everything the launcher started, leaving no process behind."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from helpers.errors import ParameterError
from helpers.tools import lab
from tests.support.browser import free_port, served_url, start_chromium

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "lab-test-token"
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds processes through /proc (Linux)")]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chrome"), size="1400,1000")
    yield driver
    driver.quit()


def processes_marked(marker: str) -> dict[int, dict[str, str]]:
    """Every live process whose environment carries `marker`: the launcher, JupyterLab, kernels."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in raw:
            found[int(entry.name)] = dict(v.split("=", 1) for v in raw.decode(errors="replace").split("\0") if "=" in v)
    return found


def answers(url: str) -> bool:
    try:
        requests.get(url, timeout=5)
        return True
    except requests.ConnectionError:
        return False


class Launcher:
    """`python -m helpers.tools.lab` with JupyterLab's state in tmp_path and a marker in its environment."""

    def __init__(self, tmp_path: Path, args: list[str], env: dict[str, str]):
        self.marker = uuid.uuid4().hex
        self.lab_port = free_port()
        self.url = f"http://127.0.0.1:{self.lab_port}"
        self.log_path = tmp_path / "launcher.log"
        self.runtime = tmp_path / "runtime"
        env = {**env, "BP_LAB_TEST_MARKER": self.marker, "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
               "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-user-settings"),
               "JUPYTER_RUNTIME_DIR": str(self.runtime), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "helpers.tools.lab", "--port", str(self.lab_port), "--no-browser",
             f"--IdentityProvider.token={TOKEN}", "--LabApp.expose_app_in_browser=True", *args],
            env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for_lab(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.proc.poll() is None:
            self.url = served_url(self.runtime) or self.url  # JupyterLab moves on if the port was taken meanwhile
            try:
                if requests.get(f"{self.url}/api/status", headers={"Authorization": f"token {TOKEN}"}, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop(signal.SIGTERM)
        pytest.fail("JupyterLab did not answer: " + self.log()[-3000:])

    def kernel_environment(self) -> dict[str, str]:
        """Start a kernel as the notebook page would, and read the environment it runs with."""
        kernel = requests.post(f"{self.url}/api/kernels", json={"name": "python3"},
                               headers={"Authorization": f"token {TOKEN}"}, timeout=60)
        assert kernel.status_code == 201, kernel.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for pid, environ in processes_marked(self.marker).items():
                if kernel.json()["id"] in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    return environ
            time.sleep(0.2)
        pytest.fail(f"no process runs kernel {kernel.json()['id']}")

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=120)
        finally:
            self._log.close()

    def leftovers(self) -> dict[int, dict[str, str]]:
        """Processes still carrying the marker once they had time to exit (there should be none)."""
        deadline = time.monotonic() + 30
        while processes_marked(self.marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        return processes_marked(self.marker)


def test_lab_starts_an_emulator_for_the_session_and_sigint_stops_everything(browser, tmp_path):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    (notebooks / "README.md").write_text("# Practice landing page\n\nStart with `00_preflight`.\n")
    emulator_url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "BP_EMULATOR_URL"}
    launcher = Launcher(tmp_path, ["--emulator-port", emulator_url.rsplit(":", 1)[1], "--notebook-dir", str(notebooks)], env)
    try:
        launcher.wait_for_lab()
        assert "emulator" in requests.get(f"{emulator_url}/_emulator/", timeout=10).json()
        assert f"Emulator started for this session at {emulator_url}" in launcher.log()
        assert f"Practice admin UI (stands in for Contact Center Administrator): {emulator_url}/_emulator/" in launcher.log()
        assert launcher.kernel_environment()["BP_EMULATOR_URL"] == emulator_url

        browser.get(f"{launcher.url}/?token={TOKEN}")  # JupyterLab's front page: the landing page, rendered
        wait = WebDriverWait(browser, 90)
        heading = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-RenderedMarkdown h1"))[0]
        assert heading.text.startswith("Practice landing page")
        browser.execute_async_script("const done = arguments[arguments.length - 1];"
                                     "window.jupyterapp.restored.then(() => done(true));")
        # The plugin that asks "Would you like to get notified about official Jupyter news?" is not even loaded.
        assert browser.execute_script(f"return window.jupyterapp.hasPlugin('{NEWS_PLUGIN}')") is False
        assert browser.execute_script("return window.jupyterapp.hasPlugin('@jupyterlab/apputils-extension:notification')")
        assert "Jupyter news" not in browser.find_element(By.TAG_NAME, "body").text
    except BaseException:
        if launcher.proc.poll() is None:
            launcher.stop(signal.SIGTERM)
        raise

    assert launcher.stop(signal.SIGINT) == 0, launcher.log()[-3000:]
    assert launcher.leftovers() == {}
    assert not answers(f"{emulator_url}/_emulator/")
    assert not answers(f"{launcher.url}/api/status")
    assert launcher.log().rstrip().endswith(f"Emulator at {emulator_url} stopped.")


def committed_pages_status() -> str:
    """What git says of the tracked runbook pages: empty when practice left them as committed."""
    return subprocess.run(["git", "status", "--porcelain", "--", "notebooks"], capture_output=True, text=True,
                          cwd=ROOT, check=True).stdout


def test_lab_reuses_a_running_emulator_practises_on_copies_and_sigterm_stops_jupyterlab_only(emulator, tmp_path):
    practice = tmp_path / "practice"
    before = committed_pages_status()
    launcher = Launcher(tmp_path, ["--practice-dir", str(practice)], {**os.environ, "BP_EMULATOR_URL": emulator.url})
    try:
        launcher.wait_for_lab()
        assert f"Emulator: reusing the one already answering at {emulator.url}" in launcher.log()
        assert f"Practice workspace: {practice}" in launcher.log()
        # The practice admin UI links back to the landing page of this JupyterLab.
        ui = requests.get(f"{emulator.url}/_emulator/ui/tenants/example.brightpattern.com/", timeout=10).text
        assert f'href="http://localhost:{launcher.lab_port}/lab/tree/README.md">← Back to the runbook' in ui
        assert launcher.kernel_environment()["BP_EMULATOR_URL"] == emulator.url
        # JupyterLab saves a page the way its Save command does (the contents API): into the copy, never
        # into notebooks/.
        page = f"{launcher.url}/api/contents/01_grant_privilege.ipynb"
        auth = {"Authorization": f"token {TOKEN}"}
        model = requests.get(page, headers=auth, timeout=30).json()
        model["content"]["cells"][0]["source"] += "\n\nPractised here."
        saved = requests.put(page, headers=auth, timeout=30,
                             json={"type": "notebook", "format": "json", "content": model["content"]})
        assert saved.status_code == 200, saved.text
        assert "Practised here." in (practice / "01_grant_privilege.ipynb").read_text(encoding="utf-8")
        assert committed_pages_status() == before
    except BaseException:
        if launcher.proc.poll() is None:
            launcher.stop(signal.SIGTERM)
        raise

    assert launcher.stop(signal.SIGTERM) == 0, launcher.log()[-3000:]
    assert launcher.leftovers() == {}
    assert not answers(f"{launcher.url}/api/status")
    assert "emulator" in requests.get(f"{emulator.url}/_emulator/", timeout=10).json()  # not ours to stop
    assert f"Emulator at {emulator.url} stopped." not in launcher.log()


def test_jupyterlab_command(tmp_path):
    (tmp_path / "README.md").write_text("# Landing\n")
    as_root = lab.lab_command(tmp_path, 8888, open_browser=False, extra=["--ServerApp.ip=127.0.0.1"], euid=0)
    assert "--allow-root" in as_root and "--no-browser" in as_root
    assert "--LabApp.default_url=/lab/tree/README.md" in as_root
    assert f"--LabApp.app_settings_dir={lab.LAB_SETTINGS}" in as_root
    assert as_root[-1] == "--ServerApp.ip=127.0.0.1"
    (tmp_path / "README.md").unlink()
    as_user = lab.lab_command(tmp_path, 8888, open_browser=True, extra=[], euid=1000)
    assert "--allow-root" not in as_user and "--no-browser" not in as_user
    assert not any(arg.startswith("--LabApp.default_url") for arg in as_user)


def test_emulator_address():
    assert lab.emulator_url(None, {}) == "http://127.0.0.1:8765"
    assert lab.emulator_url(None, {"BP_EMULATOR_URL": "http://127.0.0.1:9000/"}) == "http://127.0.0.1:9000"
    assert lab.emulator_url(9100, {"BP_EMULATOR_URL": "http://127.0.0.1:9000"}) == "http://127.0.0.1:9100"
    with pytest.raises(ParameterError, match="BP_EMULATOR_URL"):
        lab.emulator_url(None, {"BP_EMULATOR_URL": "ftp://127.0.0.1"})


class _NotTheEmulator(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"some other service")

    def log_message(self, *args):
        pass


def test_lab_refuses_an_address_where_something_else_answers(tmp_path):
    other = ThreadingHTTPServer(("127.0.0.1", 0), _NotTheEmulator)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    out = io.StringIO()
    try:
        code = lab.main(["--emulator-port", str(other.server_port), "--no-browser", "--notebook-dir", str(tmp_path)], out=out)
    finally:
        other.shutdown()
        other.server_close()
    assert code == 2
    assert f"http://127.0.0.1:{other.server_port} answers, but not as the emulator" in out.getvalue()


@pytest.mark.parametrize("option, value", [("--emulator-port", "70000"), ("--port", "0"), ("--emulator-port", "abc")])
def test_lab_names_a_bad_port_before_starting_anything(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as exit_:
        lab.main([option, value, "--no-browser", "--notebook-dir", str(tmp_path)], out=io.StringIO())
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: '{value}' is not a port number; give one from 1 to 65535" in err
    assert "Traceback" not in err
