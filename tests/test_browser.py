"""Pages in a real browser (Debian's headless Chromium through ChromeDriver): a newcomer completing the
runbook by clicking through the practice admin UI and the notebooks in JupyterLab, the forms (one
result per page, secrets handed over and never kept when refused), and the run report."""

from __future__ import annotations

import io
import json

import pytest

from helpers.run.runner import RunOptions, run
from tests.support import API_USER, SCOPE, SMS_NUMBER, SMS_ROLE
from tests.support.browser import (
    ROOT,
    AdminUI,
    Lab,
    body_text,
    current_panel,
    keep_screenshot,
    require_chromium,
    start_chromium,
)

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require_chromium()
    driver = start_chromium(tmp_path_factory.mktemp("chrome"), size="1280,1000")
    yield driver
    driver.quit()


@pytest.fixture
def lab(emulator, tmp_path):
    lab = Lab(emulator.url, tmp_path)
    yield lab
    lab.stop()


class NotebookPage:
    """A runbook page in JupyterLab, as a person uses it."""

    def __init__(self, browser, lab: Lab, notebook: str, *, opened: bool = False):
        self.browser, self.lab, self.notebook, self.number = browser, lab, notebook, notebook[:2]
        self.wait = lab.run_all_here(browser, notebook) if opened else lab.open_and_run_all(browser, notebook)

    def panel(self) -> str:
        """XPath of the notebook JupyterLab shows (others stay open in hidden tabs)."""
        return f"//div[@id={current_panel(self.browser)!r}]"

    def follow_next(self, expected: str) -> NotebookPage:
        """Click the page's last words, its "Next:" link, as a person would; the next page opens in
        JupyterLab, and all its cells are run."""
        from selenium.webdriver.common.by import By

        link = self.browser.find_element(By.XPATH, f"{self.panel()}//p[starts-with(normalize-space(), 'Next:')]/a")
        link.location_once_scrolled_into_view  # noqa: B018
        link.click()
        return NotebookPage(self.browser, self.lab, expected, opened=True)

    def text(self) -> str:
        """What the page JupyterLab shows says (not the notebooks open in other tabs)."""
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.XPATH, self.panel()).text

    def visible(self, text: str) -> bool:
        """Whether `text` is shown (folded content, in a closed <details> or Accordion, is not)."""
        return text in self.text()

    def verdict(self) -> str:
        """Waits for the page's verdict line and returns it (the page must show exactly one)."""
        prefix = f"Result of step {self.number}:"
        self.wait.until(lambda d: prefix in self.text() and not self.text().endswith("Running..."))
        lines = [line for line in self.text().splitlines() if line.startswith(prefix)]
        assert len(lines) == 1, lines  # one result per page
        return lines[0]

    def until_verdict(self, start: str) -> str:
        from selenium.common.exceptions import TimeoutException

        prefix = f"Result of step {self.number}: {start}"
        try:
            self.wait.until(lambda d: any(line.startswith(prefix) for line in self.text().splitlines()))
        except TimeoutException:
            shown = [line for line in self.text().splitlines()
                     if line.startswith(("Result of step", "summary", "status", "to do", "note"))]
            raise AssertionError(f"{self.notebook}: no '{prefix}…'; the page shows: {shown}") from None
        return self.verdict()

    def field(self, label: str, kind: str = "text"):
        from selenium.webdriver.common.by import By

        return self.browser.find_element(
            By.XPATH, f"{self.panel()}//div[contains(@class,'widget-inline-hbox')][.//label[normalize-space()={label!r}]]"
                      f"//input[@type={kind!r}]")

    def tick(self, label: str) -> None:
        from selenium.webdriver.common.by import By

        self.browser.find_element(By.XPATH, f"{self.panel()}//div[contains(@class,'widget-checkbox')]"
                                            f"[.//*[normalize-space()={label!r}]]"
                                            "//input[@type='checkbox']").click()

    def press_run(self) -> str:
        """Press the form's button and wait for what this press says (never the page's earlier verdict,
        which may be the same words); returns the form's message."""
        from selenium.webdriver.common.by import By

        message = f"#{current_panel(self.browser)} .bp-form-message .widget-html-content"
        # Blank the message shown so far: the kernel's answer re-renders it ("Running...", then the outcome).
        self.browser.execute_script(f"document.querySelectorAll({json.dumps(message)}).forEach(e => e.textContent = '')")
        button = self.browser.find_element(By.XPATH, f"{self.panel()}//button[normalize-space()="
                                                     f"'Run step {self.number} with these values']")
        button.location_once_scrolled_into_view  # noqa: B018 (scrolls the form into view)
        button.click()

        def said(d):
            text = d.find_element(By.CSS_SELECTOR, message).text.strip()
            return text if text and text != "Running..." else False

        return self.wait.until(said)

    def show_form(self) -> None:
        """Scroll so that the form and the result below it are in view (for a screenshot)."""
        from selenium.webdriver.common.by import By

        heading = self.browser.find_element(By.XPATH, f"{self.panel()}//h2[starts-with(normalize-space(), 'Form')]")
        self.browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", heading)

    def hand_over(self, label: str, secret: str) -> None:
        self.field(label, "password").send_keys(secret)
        self.press_run()


@pytest.mark.timeout(900)  # eight pages and three admin-UI visits on a shared 2-core machine
def test_a_newcomer_walks_the_guided_path_from_the_practice_admin_ui_through_every_page_to_the_closing_page(
        browser, lab, emulator, console, tmp_path):
    """From the practice admin UI's link back to the runbook, the landing page's "Start here", then each
    page's "Next:" link to the closing page; the admin UI in a second tab, as an engineer works."""
    from selenium.webdriver.common.by import By

    ui = AdminUI(browser)
    results = {}

    # The practice admin UI stands in for Contact Center Administrator: the admin's API secret first.
    browser.get(f"{emulator.url}/_emulator/")
    admin_secret = ui.generate_secret("admin")
    ui.back_to_runbook()  # the link back to the landing page, which JupyterLab shows rendered
    start = ui.wait.until(lambda d: d.find_elements(By.XPATH, "//a[normalize-space()='Step 1 of 7: 00 Preflight: "
                                                              "parameters, secrets, tenant reachability, plan']"))
    assert "Practising here: what to do first." in body_text(browser)
    lab_tab = browser.current_window_handle
    start[0].click()
    page = NotebookPage(browser, lab, "00_preflight.ipynb", opened=True)
    page.verdict()
    text = body_text(browser)
    assert text.index("Step 1 of 7") < text.index("Why.")  # the page opens with where it is on the path
    assert page.visible("What this page checks, a good result, documentation") and not page.visible("A good result.")
    # The form: the secret a person practising comes to paste first; 15 parameters folded under Advanced.
    assert page.field("admin API secret", "password").is_displayed()
    assert not page.field("scope").is_displayed() and page.visible("Advanced: 15 more parameters")
    # What to do first, with the practice admin UI's real address as a link.
    first = browser.find_element(By.CSS_SELECTOR, ".bp-first-steps")
    assert first.find_element(By.TAG_NAME, "a").get_attribute("href") == f"{emulator.url}/_emulator/ui/"
    assert "✅" not in first.text
    keep_screenshot(browser, tmp_path, "notebook-00-what-to-do-first.png")
    page.hand_over("admin API secret", admin_secret)
    results["00"] = page.until_verdict("ok")
    assert browser.find_element(By.CSS_SELECTOR, ".bp-first-steps").text.count("✅") == 2

    browser.switch_to.new_window("tab")  # the admin UI beside the runbook
    ui_tab = browser.current_window_handle

    def admin_ui():
        browser.switch_to.window(ui_tab)
        browser.get(f"{emulator.url}/_emulator/")

    admin_ui()  # step 01, as the page says: Users & Teams > Roles > 'SMS API' > enable 'Use SMS/MMS API'
    ui.menu("Roles", under="Users & Teams")
    ui.open(SMS_ROLE)
    ui.tick("Service and Campaign Administration", "Use SMS/MMS API")
    ui.press("Save")
    browser.switch_to.window(lab_tab)
    page = page.follow_next("01_grant_privilege.ipynb")
    # Nothing can verify the grant before step 03 has the secret: the page sends the engineer on, no loop.
    deferred = page.until_verdict("action-required")
    assert deferred.endswith("done for now: step 04 verifies this once step 03 has the secret; go on to step 02")
    assert page.visible("Your turn: do what is listed below, then run this page again.")

    page = page.follow_next("02_define_user.ipynb")
    results["02"] = page.until_verdict("changed")
    assert page.visible("Done: the runbook made a change and verified it.")  # the verdict in plain words first
    assert not page.visible("evidence: ")  # the details are folded

    admin_ui()  # step 03: Users & Teams > Users > 'api.sms' > API secret > Generate
    api_secret = ui.generate_secret(API_USER)
    browser.switch_to.window(lab_tab)
    page = page.follow_next("03_api_secret.ipynb")
    assert page.verdict().startswith("Result of step 03: action-required - no API secret for 'api.sms' yet")
    page.hand_over("API secret", api_secret)
    results["03"] = page.until_verdict("ok")
    assert page.field("API secret", "password").get_attribute("value") == ""
    page.show_form()
    keep_screenshot(browser, tmp_path, "notebook-03-api-secret.png")

    page = page.follow_next("04_access_token.ipynb")
    results["04"] = page.until_verdict("ok")
    assert results["04"].endswith("this verifies end to end steps 01, 02, 03 of this lab session")  # 01 is done

    admin_ui()  # step 05: Services & Campaigns > 'SMS Chat' > Outbound chat accounts
    ui.menu("Services & Campaigns")
    ui.open("SMS Chat")
    ui.tick("Outbound chat accounts", SMS_NUMBER)
    ui.press("Save")
    browser.switch_to.window(lab_tab)
    page = page.follow_next("05_chat_service.ipynb")
    results["05"] = page.until_verdict("ok")

    page = page.follow_next("06_smoke_test.ipynb")
    assert page.verdict().startswith("Result of step 06: skipped")
    page.tick("smoke test")
    page.press_run()
    results["06"] = page.until_verdict("ok")
    page.show_form()
    keep_screenshot(browser, tmp_path, "notebook-form-after-run.png")
    saved = lab.save(browser, "06_smoke_test.ipynb")
    assert "Result of step 06: ok" in saved and "Result of step 06: skipped" not in saved  # the saved copy too
    assert admin_secret not in saved and api_secret not in saved

    # After step 06, the closing page: what was done, what is left (nothing), where the record is.
    page = page.follow_next("done.ipynb")
    closing = page.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".bp-closing"))[0]
    assert closing.text.startswith("Done. Every step of the runbook is done for example.brightpattern.com")
    rows = [r.text for r in closing.find_elements(By.CSS_SELECTOR, "table.bp-session tr")[1:]]
    assert [r.split()[0] for r in rows] == ["00", "01", "02", "03", "04", "05", "06"]
    assert "Verified later by step 04" in rows[1]  # 01 could not verify itself; 04's token did
    assert "Where the record is." in closing.text and "python -m helpers run --params" in closing.text
    closing.location_once_scrolled_into_view  # noqa: B018
    keep_screenshot(browser, tmp_path, "notebook-closing-page.png")

    assert sorted(results) == ["00", "02", "03", "04", "05", "06"]  # 01: verified by 04
    assert all(r.split(": ")[1].split(" - ")[0] in ("ok", "changed") for r in results.values()), results
    messages = console.tenant_state()["messages"]
    assert [m["status"] for m in messages] == ["delivered"]
    for secret in (admin_secret, api_secret):
        assert secret not in browser.page_source


def test_a_refused_secret_for_a_missing_user_points_to_step_02_and_is_not_kept(browser, lab, console, admin_secret):
    page = NotebookPage(browser, lab, "00_preflight.ipynb")
    page.verdict()
    page.hand_over("admin API secret", admin_secret)  # so that step 03 can look the user up
    page.until_verdict("ok")
    page = NotebookPage(browser, lab, "03_api_secret.ipynb")
    page.verdict()
    # A slow tenant: the page still shows the earlier action-required verdict while the press runs.
    console.fault(kind="latency", seconds=1.5, path_prefix="/configapi", count=20)
    page.hand_over("API secret", "W" * 64)  # a secret, but the user 'api.sms' does not exist yet
    verdict = page.until_verdict("action-required")
    assert "the user 'api.sms' does not exist (the tenant has no such user), so no secret can work; complete step 02 first" in verdict
    assert "The API secret you entered was refused and is not kept." in body_text(browser)
    kept = json.loads(lab.handoff.read_text())
    assert list(kept) == [f"{console.url[:-len('/_emulator')]} {SCOPE} admin"]  # the admin's only


def test_form_edits_flow_into_the_parameters_and_replace_the_result(browser, lab, console, tmp_path):
    page = NotebookPage(browser, lab, "01_grant_privilege.ipynb")
    assert page.verdict().startswith("Result of step 01: action-required")
    page.tick("practice mode")
    page.press_run()
    verdict = page.until_verdict("changed")
    assert verdict == "Result of step 01: changed - granted 'Use SMS/MMS API' to role 'SMS API' (practice) and verified"
    role = next(r for r in console.tenant_state()["roles"] if r["name"] == SMS_ROLE)
    assert role["privileges"] == ["Use SMS/MMS API"]
    saved = page.lab.save(page.browser, "01_grant_privilege.ipynb")  # the saved copy holds the new result only
    assert "Result of step 01: changed" in saved and "Result of step 01: action-required" not in saved


def test_run_report_renders(browser, tmp_path):
    outcome = run(RunOptions(params_path=ROOT / "params" / "demo.yaml", emulator=True, out_dir=tmp_path / "ok",
                             only=["0,1,2,3,4"], private_root=tmp_path), io.StringIO())
    browser.get(f"file://{outcome.run_dir / 'summary.html'}")
    from selenium.webdriver.common.by import By

    rows = browser.find_element(By.TAG_NAME, "table").find_elements(By.TAG_NAME, "tr")  # the steps table
    assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows[1:]] == ["ok", "changed", "changed", "changed", "ok"]
    status = rows[2].find_elements(By.TAG_NAME, "td")[2]
    assert status.value_of_css_property("background-color") == "rgba(9, 105, 218, 1)"  # changed = blue
    link = rows[1].find_element(By.TAG_NAME, "a")
    link.click()
    assert browser.current_url.endswith("/00_preflight.html")


def test_a_report_with_work_for_a_person(browser, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("tenant_url: emulator\nadmin_user: ''\n", encoding="utf-8")
    outcome = run(RunOptions(params_path=params, emulator=True, out_dir=tmp_path / "todo", only=["0,1,3,5"],
                             private_root=tmp_path), io.StringIO())
    assert outcome.exit_code == 2
    browser.get(f"file://{outcome.run_dir / 'summary.html'}")
    text = body_text(browser)
    assert "What a person must do" in text and "Users & Teams > Roles" in text
    keep_screenshot(browser, tmp_path, "report-action-required.png")


def test_readme_shows_the_screenshots():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("notebook-00-what-to-do-first.png", "notebook-form-after-run.png", "notebook-03-api-secret.png",
                 "practice-admin-ui-roles.png", "notebook-closing-page.png", "report-action-required.png"):
        assert f"docs/screenshots/{name}" in readme, name
        assert (ROOT / "docs" / "screenshots" / name).stat().st_size > 10_000, name
