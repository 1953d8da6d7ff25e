"""The HTML report as a reader sees it: rendered by headless Chromium at 1280 px, from the committed records.

Asserted: no console errors, the summary table inside the first viewport and as wide as it at most, no
element wider than the viewport (nothing scrolls the page sideways; a wide data table scrolls inside its
own box, which fits), every chart drawn
with a non-zero size. Without Chromium, its driver or selenium the test skips;
``RNNBENCH_REQUIRE_BROWSER=1`` (``make test``, CI) turns that skip into a failure (rnnbench/pytest_plugin.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rnnbench.pytest_plugin import BROWSER

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1280, 900
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def _unavailable(reason: str):
    """Skip; ``RNNBENCH_REQUIRE_BROWSER=1`` makes it a failure (rnnbench's pytest plugin, by the reason's prefix)."""
    pytest.skip(f"{BROWSER}: {reason} (apt-get install chromium chromium-driver; pip install selenium)")


def _paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return browser, driver


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The committed records' HTML report, written once for the module."""
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from rnnbench.cli import main

    from committed_results import committed_results

    results = committed_results(tmp_path_factory.mktemp("committed"))  # not a user's own runs in results/
    out = tmp_path_factory.mktemp("html") / "report.html"
    assert main(["report", "--results-dir", str(results), "--format", "html", "--output", str(out)]) == 0
    return out


@pytest.fixture
def browser(tmp_path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed")
    binary, driver_path = _paths()
    if not binary or not driver_path:
        _unavailable("Chromium or chromedriver is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={WIDTH},{HEIGHT}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()


def test_the_html_report_renders_in_a_real_browser(browser, page):  # no browser: skip before rendering
    browser.get(page.as_uri())
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    assert inner[0] <= WIDTH
    errors = [entry for entry in browser.get_log("browser") if entry.get("level") == "SEVERE"]
    assert not errors, errors

    first = browser.execute_script(
        "const t = document.querySelector('#summary table'); if (!t) return null;"
        "const r = t.getBoundingClientRect(); return [r.top, r.bottom, r.width];"
    )
    assert first is not None, "no summary table"
    assert 0 <= first[0] < inner[1] and 0 < first[2] <= inner[0]  # the summary starts on the first screen, whole

    too_wide = browser.execute_script(
        "const w = document.documentElement.clientWidth; const out = [];"
        "for (const e of document.querySelectorAll('body *')) {"
        "  if (e.parentElement.closest('.scroll')) continue;"  # a wide table scrolls inside its own box
        "  const r = e.getBoundingClientRect();"
        "  if (r.width > w + 0.5 || r.right > w + 0.5) out.push(e.tagName + ' ' + Math.round(r.width)); }"
        "return [out.slice(0, 5), document.documentElement.scrollWidth, w];"
    )
    assert not too_wide[0] and too_wide[1] <= too_wide[2], too_wide

    figures = browser.execute_script(
        "return [...document.querySelectorAll('figure')].map(f => { const s = f.querySelector('svg');"
        " if (!s) return [0, 0]; const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
    )
    assert len(figures) >= 5  # accuracy, speed, gradient flow, success vs T, learning curves
    assert all(w > 0 and h > 0 for w, h in figures), figures
