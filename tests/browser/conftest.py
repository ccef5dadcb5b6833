"""Headless Chromium for the console's browser tests (Debian's ``chromium`` and
``chromium-driver``; ``.ci/run`` installs them). Without them the tests are skipped with the
reason, except under CI, where that is a failure."""
from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Screenshots of each page the tests visit (gitignored: var/).
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "console"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if shutil.which(path) is None]
    if missing:
        message = f"{', '.join(missing)} missing: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1100", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser: object) -> object:
    """``screenshot(name)``: the page as it is now, kept under :data:`ARTIFACTS`."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    taken: list[str] = []

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{len(taken) + 1:02d}-{name}.png"
        # the whole page, not just the window (Chromium's DevTools protocol)
        size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]  # type: ignore[attr-defined]
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {  # type: ignore[attr-defined]
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        taken.append(name)
        return path

    return take


@pytest.fixture
def downloads(browser: object, tmp_path: Path) -> Path:
    """Where the browser saves what it downloads (Chromium's DevTools protocol), emptied per test."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})  # type: ignore[attr-defined]
    return folder
