"""What the browser tests share: Debian's headless Chromium through ChromeDriver (Selenium), the
practice admin UI as an engineer clicks it, JupyterLab on a copy of notebooks/, and screenshots kept
for the README (`make screenshots` sets BP_SCREENSHOT_DIR)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ROOT = Path(__file__).resolve().parents[2]
LAB_TOKEN = "test-token"


def require_chromium() -> None:
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the browser tests: install Debian's chromium and chromium-driver (.ci/run does)")
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")


def start_chromium(profile: Path, size: str = "1400,1800"):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Without the background-networking flags Chromium keeps knocking on this machine's closed network.
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--window-size={size}", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def keep_screenshot(browser, tmp_path: Path, name: str) -> Path:
    """Into tmp_path, and also into $BP_SCREENSHOT_DIR when set (the README's screenshots come from there)."""
    path = tmp_path / name
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    target = os.environ.get("BP_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / name)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_url(runtime_dir: Path) -> str | None:
    """Where the one Jupyter server of this runtime folder listens, from its own runtime file: a port
    chosen beforehand may be taken by then, and Jupyter then moves to another."""
    for info in runtime_dir.glob("jpserver-*.json"):
        try:
            return f"http://127.0.0.1:{json.loads(info.read_text())['port']}"
        except (OSError, ValueError, KeyError):
            return None  # being written: ask again
    return None


def body_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def current_panel(browser) -> str:
    """The DOM id of the document JupyterLab shows (other notebooks stay open in hidden tabs)."""
    return browser.execute_script("return window.jupyterapp.shell.currentWidget.id")


class AdminUI:
    """What an engineer does on the practice admin UI: menus, links, checkboxes, Save."""

    def __init__(self, browser):
        from selenium.webdriver.support.ui import WebDriverWait

        self.browser = browser
        self.wait = WebDriverWait(browser, 30)

    def text(self) -> str:
        return body_text(self.browser)

    def menu(self, item: str, under: str | None = None) -> None:
        from selenium.webdriver.common.by import By

        scope = f"//nav//div[span[normalize-space()={under!r}]]" if under else "//nav"
        self.browser.find_element(By.XPATH, f"{scope}//a[normalize-space()={item!r}]").click()

    def open(self, link: str) -> None:
        from selenium.webdriver.common.by import By

        self.browser.find_element(By.XPATH, f"//main//a[normalize-space()={link!r}]").click()

    def checkbox(self, group: str, label: str):
        from selenium.webdriver.common.by import By

        return self.browser.find_element(
            By.XPATH, f"//fieldset[legend[normalize-space()={group!r}]]//label[starts-with(normalize-space(), {label!r})]/input")

    def tick(self, group: str, label: str) -> None:
        box = self.checkbox(group, label)
        assert not box.is_selected(), f"'{label}' is ticked already"
        box.click()

    def press(self, button: str, group: str | None = None) -> str:
        """Press a button and return the confirmation the next page shows."""
        from selenium.webdriver.common.by import By

        scope = f"//fieldset[legend[normalize-space()={group!r}]]" if group else "//form"
        self.browser.find_element(By.XPATH, f"{scope}//button[normalize-space()={button!r}]").click()
        return self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.notice")
                               and d.find_element(By.CSS_SELECTOR, "p.notice").text)

    def back_to_runbook(self) -> None:
        """The header's link back to the runbook's landing page (make lab tells the emulator where it is)."""
        from selenium.webdriver.common.by import By

        self.browser.find_element(By.XPATH, "//header//a[normalize-space()='← Back to the runbook']").click()

    def generate_secret(self, login_id: str) -> str:
        """Users & Teams > Users > the user > API secret > Generate; the value shown once."""
        from selenium.webdriver.common.by import By

        self.menu("Users", under="Users & Teams")
        self.open(login_id)
        assert self.press("Generate", group="API secret").startswith("Generated a new API secret")
        return self.browser.find_element(By.ID, "api-secret").get_attribute("value")


class Lab:
    """JupyterLab on a copy of notebooks/, its kernels pointed at the test emulator."""

    def __init__(self, emulator_url: str, tmp_path: Path):
        self.root = tmp_path / "notebooks"
        shutil.copytree(ROOT / "notebooks", self.root)
        self.handoff = tmp_path / "handoff.json"
        runtime = tmp_path / "runtime"
        env = {**os.environ, "BP_EMULATOR_URL": emulator_url, "BP_RUNBOOK_HANDOFF": str(self.handoff),
               "BP_RUNBOOK_PENDING_SENDS": str(tmp_path / "pending-sends"), "JUPYTER_RUNTIME_DIR": str(runtime),
               "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
               # A developer's own Jupyter settings stay out of the test.
               "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
               "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-user-settings")}
        for name in ("BP_RUNBOOK_HEADLESS", "BP_API_SECRET", "BP_ADMIN_SECRET"):
            env.pop(name, None)
        self.log_path = tmp_path / "lab.log"
        self._log = self.log_path.open("w")
        from helpers.tools.lab import lab_command  # the command `make lab` runs; port 0: the system picks a free one

        command = lab_command(self.root, 0, open_browser=False, euid=os.geteuid(),
                              extra=["--ip=127.0.0.1", f"--IdentityProvider.token={LAB_TOKEN}",
                                     "--LabApp.expose_app_in_browser=True"])
        self.proc = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            self.url = served_url(runtime)
            try:
                if self.url and requests.get(f"{self.url}/api/status?token={LAB_TOKEN}", timeout=1).ok:
                    # What `make lab` does: the practice admin UI links back to this JupyterLab's landing page.
                    from helpers.tools.lab import link_back

                    assert link_back(emulator_url, f"{self.url}/lab/tree/README.md?token={LAB_TOKEN}")
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail("JupyterLab did not start: " + self.log_path.read_text()[-2000:])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self._log.close()

    def open_and_run_all(self, browser, notebook: str):
        """Open a notebook as a person would (click into it, wait for its kernel) and run all cells."""
        # ?reset: a fresh workspace, so the notebook opened before is not restored beside this one.
        browser.get(f"{self.url}/lab/tree/{notebook}?reset&token={LAB_TOKEN}")
        return self.run_all_here(browser, notebook)

    def run_all_here(self, browser, notebook: str):
        """Run all cells of a notebook this browser already shows (opened by following a link)."""
        from selenium.common.exceptions import ElementNotInteractableException, StaleElementReferenceException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        # The page re-renders while kernels and widgets come up: an element read a moment ago may be gone.
        wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,
                                                               ElementNotInteractableException))
        wait.until(lambda d: d.execute_script(
            "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            f"return !!w && w.context && w.context.path === {json.dumps(notebook)};"))
        # Headless Chromium gives the page focus only on a click, and JupyterLab's current widget follows focus.
        # The prompt, not the cell's middle: a page's first cell holds links, and a click there would follow one.
        visible = f"#{current_panel(browser)} .jp-Notebook .jp-Cell .jp-InputPrompt"
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, visible).click() or True)
        wait.until(lambda d: d.execute_script(
            "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            "const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
            "return !!k && k.status === 'idle';"))
        browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        return wait

    def save(self, browser, notebook: str) -> str:
        from selenium.webdriver.support.ui import WebDriverWait

        saved = self.root / notebook
        before = saved.stat().st_mtime_ns
        browser.execute_script("window.jupyterapp.commands.execute('docmanager:save')")
        WebDriverWait(browser, 30).until(lambda d: saved.stat().st_mtime_ns != before)
        return saved.read_text()
