"""Pages in a real browser (Debian's headless Chromium through ChromeDriver): the notebook form in
JupyterLab, as an engineer uses it, and the run report."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpers.runner import RunOptions, run

from .conftest import API_USER, SMS_ROLE

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: install Debian's chromium and chromium-driver (.ci/run does)")
    pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1800", f"--user-data-dir={tmp_path_factory.mktemp('chrome')}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(emulator, tmp_path):
    """JupyterLab on a copy of notebooks/, its kernels pointed at the test emulator."""
    root = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", root)
    port = free_port()
    env = {**os.environ, "BP_EMULATOR_URL": emulator.url, "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
    env.pop("BP_RUNBOOK_HEADLESS", None)
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             "--ServerApp.token=test-token", f"--ServerApp.root_dir={root}", "--allow-root",
                             "--LabApp.expose_app_in_browser=True"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/api/status?token=test-token", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        proc.terminate()
        pytest.fail("JupyterLab did not start: " + (tmp_path / "lab.log").read_text()[-2000:])
    yield {"url": base, "root": root, "handoff": tmp_path / "handoff.json"}
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def body_text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def open_and_run_all(browser, lab, notebook: str) -> WebDriverWait:
    """Open a notebook in JupyterLab, wait for its kernel, run all cells as a person would."""
    wait = WebDriverWait(browser, 90)
    browser.get(f"{lab['url']}/lab/tree/{notebook}?token=test-token")
    # A person clicks into the notebook; headless Chromium gives the page focus only then, and
    # JupyterLab's current widget follows focus.
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"))
    browser.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell").click()
    wait.until(lambda d: d.execute_script(
        "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        "const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
        "return !!k && k.status === 'idle';"))
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return wait


def test_engineer_hands_over_the_api_secret_through_the_form(browser, lab, console, admin):
    admin.users.create(API_USER, "API", "SMS", "Admins", roles=[SMS_ROLE])
    secret = console.generate_secret(API_USER)  # what the engineer copied from the admin UI
    wait = open_and_run_all(browser, lab, "03_api_secret.ipynb")
    wait.until(lambda d: "03_api_secret: action-required - no API secret for 'api.sms' yet" in body_text(d))
    field = browser.find_element(By.CSS_SELECTOR, "input[type=password]")
    field.send_keys(secret)
    browser.find_element(By.XPATH, "//button[contains(., 'Run 03_api_secret')]").click()
    wait.until(lambda d: "ok: the API secret of 'api.sms' works: a token was issued" in body_text(d))
    assert field.get_attribute("value") == ""
    assert secret not in browser.page_source
    # The next notebook (a fresh kernel) finds the secret through the private handoff file.
    assert secret in lab["handoff"].read_text()
    assert oct(lab["handoff"].stat().st_mode & 0o777) == "0o600"
    # Saving the notebook keeps no trace of it either.
    saved = lab["root"] / "03_api_secret.ipynb"
    before = saved.stat().st_mtime_ns
    browser.execute_script("window.jupyterapp.commands.execute('docmanager:save')")
    wait.until(lambda d: saved.stat().st_mtime_ns != before)
    assert "Hand it to the runbook" in saved.read_text()  # the run's outputs were saved
    assert secret not in saved.read_text()


def test_form_edits_flow_into_the_parameters(browser, lab, console):
    wait = open_and_run_all(browser, lab, "01_grant_privilege.ipynb")
    wait.until(lambda d: "01_grant_privilege: action-required" in body_text(d))
    practice = browser.find_element(By.XPATH, "//label[contains(., 'practice mode')]//input[@type='checkbox']"
                                              " | //div[contains(@class,'widget-checkbox')][.//*[contains(., 'practice mode')]]//input")
    practice.click()
    browser.find_element(By.XPATH, "//button[contains(., 'Run 01_grant_privilege')]").click()
    wait.until(lambda d: "changed: granted 'Use SMS/MMS API' to role 'SMS API' (practice) and verified" in body_text(d))
    role = next(r for r in console.tenant_state()["roles"] if r["name"] == SMS_ROLE)
    assert role["privileges"] == ["Use SMS/MMS API"]


def test_run_report_renders(browser, tmp_path):
    outcome = run(RunOptions(params_path=ROOT / "params" / "demo.yaml", emulator=True, out_dir=tmp_path,
                             only=["0,1,2,3,4"]), io.StringIO())
    browser.get(f"file://{outcome.run_dir / 'summary.html'}")
    rows = browser.find_element(By.TAG_NAME, "table").find_elements(By.TAG_NAME, "tr")  # the steps table
    assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows[1:]] == ["ok", "changed", "changed", "changed", "ok"]
    status = rows[2].find_elements(By.TAG_NAME, "td")[2]
    assert status.value_of_css_property("background-color") == "rgba(9, 105, 218, 1)"  # changed = blue
    link = rows[1].find_element(By.TAG_NAME, "a")
    link.click()
    assert browser.current_url.endswith("/00_preflight.ipynb")
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 20_000
