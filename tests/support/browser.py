"""A real browser for the page tests: Debian's Chromium driven by Selenium.

Nothing is downloaded: the driver is `/usr/bin/chromedriver` and the browser
`/usr/bin/chromium` (both from `scripts/setup.sh`'s apt list). One headless session per
test module, with a fresh profile directory removed afterwards. Elements are found by
`data-testid` only. `axe_violations` runs the vendored axe-core in the page (injected
through WebDriver, which the page's CSP does not govern) and returns the serious and
critical violations.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.10.2.min.js"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
WINDOW = (1280, 800)
PHONE = (390, 844)
WAIT_S = 30.0
SERIOUS = ("serious", "critical")
T = TypeVar("T")


def available() -> str | None:
    """None when the browser can run here, else what is missing (for a skip message)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} missing: run scripts/setup.sh (apt chromium chromium-driver)"
    return None


@contextlib.contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="console-browser-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def testid(name: str) -> tuple[str, str]:
    return (By.CSS_SELECTOR, f'[data-testid="{name}"]')


def find(driver: webdriver.Chrome, name: str) -> WebElement:
    return driver.find_element(*testid(name))


def find_all(driver: webdriver.Chrome, name: str) -> list[WebElement]:
    return driver.find_elements(*testid(name))


def wait_for(what: Callable[[], T | None], timeout_s: float = WAIT_S,
             message: str = "condition") -> T:
    """`what()` once it is truthy (missing or replaced elements count as not yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = what()
            if found:
                return found
        except (NoSuchElementException, StaleElementReferenceException):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} not met within {timeout_s:.0f}s")
        time.sleep(0.2)


def axe_violations(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """Serious and critical accessibility violations of the page as it is now."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(function (r) { done(JSON.stringify(r.violations)); })"
        ".catch(function (e) { done(JSON.stringify([{id: 'axe-error', impact: 'critical',"
        " description: String(e)}])); });"
    )
    violations: list[dict[str, Any]] = json.loads(result)
    return [
        {"id": v["id"], "impact": v.get("impact"), "description": v.get("description"),
         "nodes": [n.get("target") for n in v.get("nodes", [])][:5]}
        for v in violations if v.get("impact") in SERIOUS
    ]


def screenshot(driver: webdriver.Chrome, path: Path, *, width: int | None = None) -> None:
    """The whole page (not just the window) as a PNG, at the window's width or `width`."""
    window_width, height = driver.get_window_size().values()
    driver.set_window_size(width or window_width, height)
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width or window_width, max(int(full) + 140, height))  # + chrome
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(window_width, height)


def fits(driver: webdriver.Chrome) -> bool:
    """The page needs no sideways scrolling at the window's width."""
    return bool(driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"))


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """Messages the page logged at SEVERE (a CSP refusal, a script error)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
