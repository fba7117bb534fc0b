"""The plan's page for a fleet, in a real browser (Debian's headless Chromium through ChromeDriver): one
row per tenant, one coloured cell per step, and what people must do."""

from __future__ import annotations

import io

import pytest

from helpers.run.plan import PlanOptions, make_plan
from helpers.safety.gate import Gate
from tests.support import private
from tests.support.browser import ROOT, body_text, require_chromium, start_chromium

pytestmark = [pytest.mark.browser]


def test_a_fleet_plan_is_one_page(tmp_path):
    require_chromium()
    out = io.StringIO()
    code = make_plan(PlanOptions([str(ROOT / "params" / "fleet")], str(tmp_path / "out"), emulator=True,
                                 emulator_seed="fleet", private_root=private(tmp_path)), out, Gate())
    assert code == 0, out.getvalue()
    page = next((tmp_path / "out" / "plans").glob("*/plan.html"))
    driver = start_chromium(tmp_path / "chrome", size="1280,1000")
    try:
        from selenium.webdriver.common.by import By

        driver.get(f"file://{page}")
        table = driver.find_elements(By.TAG_NAME, "table")[0]
        rows = table.find_elements(By.TAG_NAME, "tr")
        assert len(rows) == 1 + 20  # the head, then one row per tenant of params/fleet/
        assert [h.text for h in rows[0].find_elements(By.TAG_NAME, "th")][:3] == [
            "tenant", "00 preflight", "01 grant privilege"]  # step names, as on the fleet page
        assert driver.find_elements(By.TAG_NAME, "script") == []  # the record pages' shell: nothing runs
        first = rows[1].find_elements(By.TAG_NAME, "td")
        assert first[0].text == "tenant01.practice.brightpattern.com"
        assert [c.text for c in first[1:]] == ["nothing", "runbook acts", "person acts", "runbook acts",
                                               "person acts", "person acts", "runbook acts"]
        assert first[2].value_of_css_property("background-color") == "rgba(9, 105, 218, 1)"  # runbook acts = blue
        assert "would send one text" in first[7].get_attribute("title")
        text = body_text(driver)
        assert "What people must do" in text and "Services & Campaigns" in text
    finally:
        driver.quit()
