"""The console in headless Chromium, as an operator uses it: log in, read the overview, search a
letter by case number, open it, stop it, acknowledge an alert; a viewer is refused the same
action, and a form without its CSRF token is refused; the XLSX report is downloaded and read
back. Each page is kept as a screenshot
(var/test-artifacts/console/)."""
from __future__ import annotations

import time

import openpyxl
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from gateway.dispatch.worker import Worker
from gateway.model import utcnow
from gateway.store.outcome import Alert, Outcome
from tests.console_helpers import ADMIN, PASSWORDS, VIEWER, case_letter, with_console
from tests.svarut_builders import PERSON_FNR


@pytest.fixture
def scene(start_gateway, settings_factory, svarut_client):
    """A gateway with three letters sent to print, two waiting, and an alert."""
    gw = start_gateway(with_console(settings_factory()))
    client, svc = svarut_client(gw)
    runtime = gw.runtime
    printed = [svc.sendForsendelse(forsendelse=case_letter(client, year=2026, sequence=300 + i, document=1)) for i in range(3)]
    worker = Worker(runtime.dispatcher, runtime.dispatch_store, name="browser-test", lease_seconds=60)
    while worker.run_once():
        pass
    waiting = [svc.sendForsendelse(forsendelse=case_letter(client, year=2026, sequence=304 + i, document=2,
                                                           title=f"Varsel om tilsyn {i}")) for i in range(2)]
    runtime.dispatch_store.apply(Outcome(at=utcnow(), alerts=(
        Alert(kind="print_receipt_overdue", channel="print", detail="Kvittering fra trykkeriet mangler for bunt 2026-12-03-1"),)))
    return gw, printed, waiting


def _login(browser, gw, name: str, *, here: bool = False) -> None:
    """Log in on the login form (``here``: the one already shown, which knows where to go next)."""
    if not here:
        browser.get(gw.base_url + "/console/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(PASSWORDS[name])
    _click(browser, browser.find_element(By.ID, "login"))


def _click(browser, element) -> None:
    """Click what submits a form or follows a link, and wait until the next page has replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(page))


def _text(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def _downloaded(folder, suffix: str, *, seconds: float = 30) -> list:
    """The finished downloads in ``folder`` (Chromium writes ``.crdownload`` until it is done)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = sorted(folder.glob(f"*{suffix}"))
        if done and not list(folder.glob("*.crdownload")):
            return done
        time.sleep(0.1)
    raise AssertionError(f"nothing downloaded to {folder}: {sorted(p.name for p in folder.iterdir())}")


def test_an_admin_and_a_viewer_at_work(browser, screenshot, downloads, scene):
    gw, printed, waiting = scene
    repository = gw.runtime.repository
    browser.get(gw.base_url + "/console/letters")
    assert browser.current_url.startswith(gw.base_url + "/console/login?next=")
    screenshot("login")
    _login(browser, gw, ADMIN, here=True)
    assert browser.current_url == gw.base_url + "/console/letters"  # back where the login started

    # the overview counts what the test sent: five today, three of them at the printer
    browser.get(gw.base_url + "/console/")
    today = browser.find_element(By.ID, "period-today")
    assert today.find_element(By.CLASS_NAME, "total").text == "5"
    assert today.find_element(By.CSS_SELECTOR, 'td[data-status="SENT_TO_PRINT"]').text == "3"
    assert today.find_element(By.CSS_SELECTOR, 'td[data-status="ACCEPTED"]').text == "2"
    assert today.find_element(By.CSS_SELECTOR, 'td[data-channel="print"][data-status="SENT_TO_PRINT"]').text == "3"
    assert _text(browser, "print-share") == "60.0 %" and _text(browser, "queue-due") == "2"
    [reason] = browser.find_elements(By.CSS_SELECTOR, "tr.reason")  # why: routed to print, no digital channel
    assert reason.text.startswith("routed print") and reason.text.endswith(" 3")
    screenshot("overview")

    # search by case number, open the letter, stop it
    browser.get(gw.base_url + "/console/letters")
    browser.find_element(By.ID, "case").send_keys("2026/304")
    _click(browser, browser.find_element(By.ID, "search"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#letters a")
    assert [row.text for row in rows] == ["Varsel om tilsyn 0"]
    screenshot("search")
    _click(browser, rows[0])
    assert _text(browser, "letter-id") == waiting[0] and PERSON_FNR in _text(browser, "recipient")  # admins see the number
    screenshot("letter")
    form = browser.find_element(By.ID, "form-stop")
    form.find_element(By.NAME, "reason").send_keys("Feil mottaker, sendes på nytt")
    _click(browser, form.find_element(By.TAG_NAME, "button"))
    assert _text(browser, "message") == "Brevet er stoppet."
    assert browser.find_element(By.ID, "letter-status").get_attribute("data-status") == "MANUALLY_HANDLED"
    assert repository.get(waiting[0]).status == "MANUALLY_HANDLED"
    assert browser.find_elements(By.ID, "form-stop") == []  # a finished letter offers no actions
    screenshot("letter-stopped")

    # a form whose CSRF token is taken out is refused, and nothing happens
    browser.get(gw.base_url + f"/console/letters/{waiting[1]}")
    browser.execute_script("document.querySelector('#form-stop input[name=csrf]').remove()")
    form = browser.find_element(By.ID, "form-stop")
    form.find_element(By.NAME, "reason").send_keys("uten token")
    _click(browser, form.find_element(By.TAG_NAME, "button"))
    assert "CSRF" in browser.find_element(By.CLASS_NAME, "error").text
    assert repository.get(waiting[1]).status == "ACCEPTED"
    screenshot("csrf-refused")

    # acknowledge the alert with a note
    browser.get(gw.base_url + "/console/alerts")
    [row] = browser.find_elements(By.CSS_SELECTOR, "tr[id^=alert-]")
    row.find_element(By.NAME, "note").send_keys("Trykkeriet purret")
    _click(browser, row.find_element(By.TAG_NAME, "button"))
    assert browser.find_elements(By.CSS_SELECTOR, "tr[id^=alert-]") == []
    browser.get(gw.base_url + "/console/alerts?all=1")
    assert browser.find_element(By.CLASS_NAME, "acknowledged").text.startswith(f"{ADMIN}, ")
    assert "Trykkeriet purret" in browser.find_element(By.CLASS_NAME, "acknowledged").text
    screenshot("alerts")

    browser.get(gw.base_url + "/console/audit")
    audit = _text(browser, "audit")
    assert "console.stop" in audit and "console.acknowledge_alert" in audit and "csrf_refused" in audit
    screenshot("audit")
    browser.get(gw.base_url + "/console/statistics?bucket=day")
    assert browser.find_elements(By.CSS_SELECTOR, "svg[role=img]")  # the charts, drawn on the server
    screenshot("statistics")

    # the per-letter report as XLSX, downloaded from Rapporter and read back with openpyxl
    _click(browser, browser.find_element(By.ID, "nav-reports"))
    screenshot("reports")
    browser.find_element(By.ID, "download-letters").click()
    [report] = _downloaded(downloads, ".xlsx")
    sheet = openpyxl.load_workbook(report, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 5  # the headings and the five letters of today
    text = "\n".join(" ".join(str(v) for v in row if v is not None) for row in rows)
    assert "2026/300" in text and "2026/305" in text and "Varsel om tilsyn 1" in text
    browser.get(gw.base_url + "/console/audit")
    assert "console.export" in _text(browser, "audit")
    _click(browser, browser.find_element(By.CSS_SELECTOR, "form.logout button"))
    assert browser.current_url == gw.base_url + "/console/login"

    # a viewer sees the letter with the number masked, and no actions; the action URLs refuse them
    _login(browser, gw, VIEWER)
    browser.get(gw.base_url + f"/console/letters/{waiting[1]}")
    assert PERSON_FNR not in _text(browser, "recipient") and PERSON_FNR[-2:] in _text(browser, "recipient")
    assert browser.find_elements(By.ID, "form-stop") == []
    screenshot("letter-as-viewer")
    browser.get(gw.base_url + f"/console/letters/{waiting[1]}/stop")
    assert "admin" in browser.find_element(By.CLASS_NAME, "error").text
    # the same POST an admin makes, with the viewer's own valid CSRF token: refused by role
    browser.get(gw.base_url + f"/console/letters/{waiting[1]}")
    browser.execute_script("""
        const form = document.createElement('form');
        form.method = 'post'; form.action = arguments[0];
        for (const [name, value] of [['csrf', document.querySelector('form.logout input[name=csrf]').value],
                                     ['reason', 'viewer prøver']]) {
            const input = document.createElement('input'); input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form); form.submit();""", f"/console/letters/{waiting[1]}/stop")
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CLASS_NAME, "error")))
    assert "admin" in browser.find_element(By.CLASS_NAME, "error").text
    assert repository.get(waiting[1]).status == "ACCEPTED"
    screenshot("viewer-refused")
