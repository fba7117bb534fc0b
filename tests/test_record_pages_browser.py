"""In Chromium, offline: the run's summary opens a step's rendered page (not the notebook's JSON), and the
page leads on to the next step and back to the summary."""

from __future__ import annotations

import io

import pytest

from helpers.run.runner import RunOptions, run
from tests.support import ROOT
from tests.support.browser import start_chromium

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]


def test_the_summary_opens_a_rendered_step_page(tmp_path):
    from selenium.webdriver.common.by import By

    outcome = run(RunOptions(params_path=ROOT / "params" / "demo.yaml", emulator=True, out_dir=tmp_path / "out",
                             only=["0,1"], private_root=tmp_path), io.StringIO())
    assert outcome.exit_code == 0
    browser = start_chromium(tmp_path / "chromium")
    try:
        browser.get(f"file://{outcome.run_dir / 'summary.html'}")
        steps = browser.find_element(By.ID, "steps").find_elements(By.TAG_NAME, "tr")
        steps[1].find_elements(By.TAG_NAME, "td")[2].find_element(By.TAG_NAME, "a").click()  # 00's status
        assert browser.current_url == f"file://{outcome.run_dir / '00_preflight.html'}"
        heading = browser.find_element(By.TAG_NAME, "h1").text
        assert heading.startswith("Step 1 of 7: Preflight")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Result of step 00: ok" in body and '"cells"' not in body  # rendered, not the notebook's JSON
        browser.find_element(By.CSS_SELECTOR, "nav a[rel=next]").click()
        assert browser.current_url.endswith("/01_grant_privilege.html")
        browser.find_element(By.CSS_SELECTOR, "nav a[rel=up]").click()
        assert browser.current_url.endswith("/summary.html")
        assert browser.execute_script("return document.scripts.length") == 0
    finally:
        browser.quit()
