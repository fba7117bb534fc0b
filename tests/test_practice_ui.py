"""The practice admin UI (/_emulator/ui/): in Debian's headless Chromium through ChromeDriver, an
engineer follows the runbook's admin-UI instructions (steps 01, 02, 03 and 05) word for word, and
the tenant APIs show each effect. Over plain HTTP: the JSON console still answers practice mode, the
API secret is shown once, errors read as messages, foreign form posts are refused, and
`python -m emulator` logs requests in plain text."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from emulator import EmulatorServer
from emulator.store import KNOWN_PRIVILEGES
from emulator.ui.privileges import grouped
from helpers.tenant.practice import PracticeConsole
from tests.support import API_USER, SCOPE, SMS_NUMBER, SMS_ROLE
from tests.support.browser import AdminUI, keep_screenshot, start_chromium

pytestmark = pytest.mark.browser

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
UI = f"/_emulator/ui/tenants/{SCOPE}"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Only the browser tests need Chromium: the HTTP tests of this module run everywhere."""
    driver = start_chromium(tmp_path_factory.mktemp("chrome"), size="1280,900")
    yield driver
    driver.quit()


Page = AdminUI


def token_for(emulator, login_id: str, secret: str) -> str:
    response = requests.post(f"{emulator.url}/configapi/v2/oauth/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": login_id, "client_secret": secret, "scope": SCOPE})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_engineer_follows_the_admin_ui_instructions(browser, emulator, console, admin, admin_secret, tmp_path):
    page = Page(browser)
    assert next(r for r in console.tenant_state()["roles"] if r["name"] == SMS_ROLE)["privileges"] == []
    browser.get(f"{emulator.url}/_emulator/")
    assert "Practice admin UI" in page.text()

    # 01: "In Contact Center Administrator, open Users & Teams > Roles and select the role 'SMS API'. On its
    # Properties, in the group 'Service and Campaign Administration', enable 'Use SMS/MMS API' and save."
    page.menu("Roles", under="Users & Teams")
    page.open(SMS_ROLE)
    assert "Properties" in browser.find_element(By.CSS_SELECTOR, ".tabs").text
    page.tick("Service and Campaign Administration", "Use SMS/MMS API")
    assert page.press("Save") == "Saved role 'SMS API': enabled Use SMS/MMS API."
    assert page.checkbox("Service and Campaign Administration", "Use SMS/MMS API").is_selected()
    keep_screenshot(browser, tmp_path, "practice-admin-ui-roles.png")
    assert next(r for r in console.tenant_state()["roles"] if r["name"] == SMS_ROLE)["privileges"] == ["Use SMS/MMS API"]

    # 02: the runbook creates the user through the Configuration API; only the admin UI changes its roles.
    admin.users.create(API_USER, "SMS", "API", "Admins", roles=[])
    page.menu("Users", under="Users & Teams")
    page.open(API_USER)
    page.tick("Roles", SMS_ROLE)
    assert page.press("Save") == "Saved user 'api.sms': added role SMS API."
    assert admin.users.get(API_USER).roles == (SMS_ROLE,)  # Get User, Configuration API

    # 03: "Users & Teams > Users, select 'api.sms' and open its Properties. Next to 'API secret' click
    # Generate and copy the value: it is shown once."
    page.menu("Users", under="Users & Teams")
    page.open(API_USER)
    assert page.press("Generate", group="API secret").startswith("Generated a new API secret for 'api.sms'")
    secret = browser.find_element(By.ID, "api-secret").get_attribute("value")
    assert re.fullmatch(r"[A-Za-z0-9]{64}", secret)
    token = token_for(emulator, API_USER, secret)
    probe = requests.get(f"{emulator.url}/clientweb/smsapi/v1/Messages/x", headers={"Authorization": f"Bearer {token}"},
                         timeout=10)
    assert probe.status_code == 404, probe.text  # 403 would mean the privilege (01) or the role (02) is missing
    browser.execute_script("const f = document.getElementById('api-secret');"
                           "f.value = f.defaultValue = '(the secret is shown here once; replaced for the screenshot)';")
    assert secret not in browser.page_source
    keep_screenshot(browser, tmp_path, "practice-admin-ui-user.png")
    browser.refresh()  # shown once: a reload shows it no more
    assert not browser.find_elements(By.ID, "api-secret")
    assert secret not in browser.page_source
    assert "An API secret is set (it cannot be shown again)" in page.text()

    # 05: "Services & Campaigns, select the chat service 'SMS Chat'; on its Properties tab set
    # 'Outbound chat accounts' to the access number +16502505674", and save.
    page.menu("Services & Campaigns")
    page.open("SMS Chat")
    page.tick("Outbound chat accounts", SMS_NUMBER)
    assert page.press("Save") == "Saved chat service 'SMS Chat': Outbound chat accounts +16502505674."
    admin_token = token_for(emulator, "admin", admin_secret)
    numbers = requests.get(f"{emulator.url}/configapi/v2/phone/ext", headers={"Authorization": f"Bearer {admin_token}"},
                           timeout=10).json()
    number = next(n for n in numbers if n["number"] == SMS_NUMBER.lstrip("+"))
    assert (number["type"], number["textOutService"]) == ("text-out", "SMS Chat")
    page.menu("Access numbers", under="Directory")
    row = browser.find_element(By.XPATH, f"//tr[td[normalize-space()={SMS_NUMBER!r}]]").text
    assert "text-out" in row and "SMS Chat" in row


class _ForeignSite(BaseHTTPRequestHandler):
    """Another origin (its own port) whose page posts a form to the emulator as soon as it loads."""

    page = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args):
        pass


def test_a_form_posted_from_another_site_is_refused(browser, emulator, console):
    target = f"{emulator.url}{UI}/users/admin/api-secret"
    _ForeignSite.page = (f'<form id="f" method="post" action="{target}"></form>'
                         '<script>document.getElementById("f").submit()</script>').encode()
    site = ThreadingHTTPServer(("127.0.0.1", 0), _ForeignSite)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{site.server_port}/")
        WebDriverWait(browser, 30).until(lambda d: "refused" in d.find_element(By.TAG_NAME, "body").text)
        assert f"posted from http://127.0.0.1:{site.server_port}" in browser.find_element(By.TAG_NAME, "body").text
    finally:
        site.shutdown()
        site.server_close()
    admin = next(u for u in console.tenant_state()["users"] if u["loginId"] == "admin")
    assert admin["hasApiSecret"] is False


# ---------------------------------------------------------------------------------- over plain HTTP
def test_console_index_answers_json_to_practice_mode_and_html_to_a_browser(emulator):
    as_requests = requests.get(f"{emulator.url}/_emulator/", timeout=10)  # requests' default Accept: */*
    assert as_requests.headers["Content-Type"] == "application/json"
    assert "emulator" in as_requests.json() and SCOPE in as_requests.json()["tenants"]
    assert "Accept" in as_requests.headers["Vary"]
    assert PracticeConsole.connect(emulator.url, SCOPE).roles()[SMS_ROLE] == []
    as_json = requests.get(f"{emulator.url}/_emulator/", headers={"Accept": "application/json"}, timeout=10)
    assert "emulator" in as_json.json()
    as_browser = requests.get(f"{emulator.url}/_emulator/", headers={"Accept": BROWSER_ACCEPT}, timeout=10)
    assert as_browser.status_code == 200
    assert as_browser.headers["Content-Type"].startswith("text/html")
    assert as_browser.url == f"{emulator.url}{UI}/"  # a single tenant: straight to its menu
    assert "Users &amp; Teams" in as_browser.text


def generate_through_the_ui(emulator, login_id: str) -> requests.Response:
    return requests.post(f"{emulator.url}{UI}/users/{login_id}/api-secret", headers={"Origin": emulator.url},
                         allow_redirects=False, timeout=10)


def test_the_api_secret_page_shows_the_secret_once_and_is_never_cached(emulator):
    posted = generate_through_the_ui(emulator, "admin")
    assert posted.status_code == 303
    first = requests.get(emulator.url + posted.headers["Location"], timeout=10)
    assert first.headers["Cache-Control"] == "no-store"
    secret = html.unescape(re.search(r'id="api-secret"[^>]*value="([^"]+)"', first.text).group(1))
    token_for(emulator, "admin", secret)  # the secret on the page is the one the tenant accepts
    again = requests.get(emulator.url + posted.headers["Location"], timeout=10)
    assert again.status_code == 200 and again.headers["Cache-Control"] == "no-store"
    assert secret not in again.text and 'id="api-secret"' not in again.text
    assert "An API secret is set" in again.text


def test_errors_read_as_messages(emulator, console):
    posted = requests.post(f"{emulator.url}{UI}/services/SMS%20Chat", data={"account": "+1234567897"},
                           headers={"Origin": emulator.url}, timeout=10)  # a voice-only number
    assert posted.status_code == 200 and len(posted.history) == 1 and posted.history[0].status_code == 303
    assert "Not saved: access number &#39;+1234567897&#39; is not SMS-capable (media &#39;voice&#39;)" in posted.text
    assert "Traceback" not in posted.text
    assert next(s for s in console.tenant_state()["services"] if s["name"] == "SMS Chat")["outboundChatAccounts"] == []
    for path, message in ((f"{UI}/roles/Supervisor", "role &#39;Supervisor&#39; not found"),
                          (f"{UI}/users/nobody", "user &#39;nobody&#39; not found"),
                          ("/_emulator/ui/tenants/nowhere.example.com/", "tenant &#39;nowhere.example.com&#39; not found")):
        page = requests.get(emulator.url + path, timeout=10)
        assert (page.status_code, page.headers["Content-Type"]) == (404, "text/html; charset=utf-8")
        assert message in page.text


def test_user_properties_change_roles_status_and_clear_a_lock_out(emulator, console):
    console.lock("sheila.thomas")
    page = requests.get(f"{emulator.url}{UI}/users/sheila.thomas", timeout=10).text
    assert 'name="locked_out" checked' in page
    saved = requests.post(f"{emulator.url}{UI}/users/sheila.thomas", data={"role": ["Agent", SMS_ROLE], "disabled": "on"},
                          headers={"Origin": emulator.url}, timeout=10)  # "Locked out" unticked
    assert "Saved user &#39;sheila.thomas&#39;: added role SMS API; disabled; lock-out cleared." in saved.text
    user = next(u for u in console.tenant_state()["users"] if u["loginId"] == "sheila.thomas")
    assert (user["roles"], user["disabled"], user["lockedOut"]) == (["Agent", SMS_ROLE], True, False)
    unknown = requests.post(f"{emulator.url}{UI}/users/sheila.thomas", data={"role": "Supervisor"},
                            headers={"Origin": emulator.url}, timeout=10)
    assert "Not saved: role not found: Supervisor" in unknown.text
    assert next(u for u in console.tenant_state()["users"] if u["loginId"] == "sheila.thomas")["roles"] == ["Agent", SMS_ROLE]


def test_form_posts_must_come_from_the_ui_itself(emulator, console):
    url = f"{emulator.url}{UI}/users/admin/api-secret"
    for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"}, {"Referer": "http://evil.example/x"},
                    {"Origin": emulator.url.replace("127.0.0.1", "localhost")}):
        refused = requests.post(url, headers=headers, allow_redirects=False, timeout=10)
        assert refused.status_code == 403, headers
        assert "refused" in refused.text
    # A name that resolves to loopback (DNS rebinding) is not this server, whatever Origin it sends.
    rebound = requests.post(url, headers={"Host": "rebind.example:80", "Origin": "http://rebind.example:80"},
                            allow_redirects=False, timeout=10)
    assert rebound.status_code == 403 and "rebind.example" in html.unescape(rebound.text)
    assert next(u for u in console.tenant_state()["users"] if u["loginId"] == "admin")["hasApiSecret"] is False
    # Its own pages: Origin, or Referer where a browser leaves Origin out.
    assert generate_through_the_ui(emulator, "admin").status_code == 303
    by_referer = requests.post(url, headers={"Referer": f"{emulator.url}{UI}/users/admin"}, allow_redirects=False,
                               timeout=10)
    assert by_referer.status_code == 303


def test_pages_cannot_be_framed(emulator):
    page = requests.get(f"{emulator.url}{UI}/roles", timeout=10)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_privileges_are_grouped_as_in_contact_center_administrator():
    groups = dict(grouped())
    assert "Use SMS/MMS API" in groups["Service and Campaign Administration"]
    shown = [p for privileges in groups.values() for p in privileges]
    assert sorted(shown) == sorted(KNOWN_PRIVILEGES)  # each known privilege exactly once
    assert dict(grouped(KNOWN_PRIVILEGES + ("Manage widgets",)))["Miscellaneous Management Functions"] == ["Manage widgets"]


def test_a_tenant_picker_when_several_tenants_are_served():
    tenants = [{"scope": scope, "teams": ["Admins"], "roles": [{"name": "SMS API"}]}
               for scope in ("one.example.com", "two.example.com")]
    with EmulatorServer(seed={"tenants": tenants}) as server:
        picker = requests.get(f"{server.url}/_emulator/", headers={"Accept": BROWSER_ACCEPT}, timeout=10)
        assert picker.url == f"{server.url}/_emulator/ui/"
        assert re.findall(r'href="/_emulator/ui/tenants/([^/"]+)/"', picker.text) == ["one.example.com", "two.example.com"]
        roles = requests.get(f"{server.url}/_emulator/ui/tenants/two.example.com/roles", timeout=10).text
        assert "switch tenant" in roles and "two.example.com" in roles


# ---------------------------------------------------------------------------------- the emulator's request log
def test_python_m_emulator_logs_each_request_plainly_and_marks_server_errors():
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = None
        while url is None:
            line = proc.stdout.readline()
            assert line, "the emulator exited before printing its address"
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            url = found and found.group(1)
        statuses = [requests.get(url + path, timeout=10).status_code for path in
                    ("/_emulator/state", "/clientweb/smsapi/v1/Messages/x", "/configapi/v2/no-such-endpoint")]
        assert statuses == [200, 401, 500]
        lines = [proc.stderr.readline() for _ in statuses]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()
        proc.stderr.close()
    assert all("\x1b" not in line for line in lines), lines  # no colour codes
    assert '"GET /_emulator/state HTTP/1.1" 200' in lines[0] and "server error" not in lines[0]
    assert '"GET /clientweb/smsapi/v1/Messages/x HTTP/1.1" 401' in lines[1] and "server error" not in lines[1]
    assert '"GET /configapi/v2/no-such-endpoint HTTP/1.1" 500' in lines[2] and lines[2].rstrip().endswith("<- server error")


def test_the_json_console_refuses_changes_from_other_origins(emulator, console):
    url = f"{emulator.url}/_emulator/tenants/{SCOPE}/users/admin/api-secret"
    foreign = requests.post(url, headers={"Origin": "http://evil.example"}, timeout=10)
    assert foreign.status_code == 403 and "other origins" in foreign.json()["error_description"]
    cross = requests.delete(url, headers={"Sec-Fetch-Site": "cross-site"}, timeout=10)
    assert cross.status_code == 403
    assert next(u for u in console.tenant_state()["users"] if u["loginId"] == "admin")["hasApiSecret"] is False
    # Programs (no Origin) and the emulator's own pages still can.
    assert requests.post(url, timeout=10).status_code == 200
    assert requests.post(url, headers={"Origin": emulator.url}, timeout=10).status_code == 200


def test_every_page_links_back_to_the_runbook_once_make_lab_said_where_it_is(emulator):
    landing = "http://localhost:8891/lab/tree/README.md"
    home = f"{emulator.url}{UI}/"
    try:
        requests.put(f"{emulator.url}/_emulator/runbook-link", json={"url": ""}, timeout=10)  # another test's lab set it
        assert "Back to the runbook" not in requests.get(home, timeout=10).text  # nobody said where it is
        assert requests.put(f"{emulator.url}/_emulator/runbook-link", json={"url": landing}, timeout=10).ok
        for page in ("/", "/roles", "/users", "/services", "/access-numbers"):
            text = requests.get(f"{emulator.url}{UI}{page}", timeout=10).text
            assert f'<a class="runbook" href="{landing}">← Back to the runbook</a>' in text, page
        requests.post(f"{emulator.url}/_emulator/reset", timeout=10).raise_for_status()
        assert landing in requests.get(home, timeout=10).text  # the UI's setting, not tenant state
        refused = requests.put(f"{emulator.url}/_emulator/runbook-link", json={"url": "javascript:alert(1)"}, timeout=10)
        assert refused.status_code == 400 and "http://" in refused.json()["error_description"]
        assert "javascript:" not in requests.get(home, timeout=10).text
    finally:
        requests.put(f"{emulator.url}/_emulator/runbook-link", json={"url": ""}, timeout=10)
    assert "Back to the runbook" not in requests.get(home, timeout=10).text
