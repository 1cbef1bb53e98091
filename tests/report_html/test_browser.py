"""report.html in a real headless browser (Debian's chromium and chromium-driver, via Selenium).

This test never skips: CI installs the browser (``.ci/run``); without it the test fails and says
what to install.
"""

import shutil
from pathlib import Path

import pytest

from trainspec.conformance.html_report import write_html
from trainspec.conformance.report import cells


def _driver(profile_dir: Path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is missing: pip install 'trainspec[browser]' (tox -e browser does)")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    if browser is None or driver is None:
        pytest.fail(
            "the browser test needs Chromium and its driver: "
            "apt-get install -y chromium chromium-driver (.ci/run installs them in CI)"
        )
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile_dir}",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    d = _driver(tmp_path_factory.mktemp("chromium-profile"))
    yield d
    d.quit()


def _severe(browser) -> list:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_report_loads_and_filters(browser, cpu_report, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page = write_html(cpu_report, tmp_path / "report.html")
    browser.get(page.as_uri())
    assert _severe(browser) == []  # no script error, nothing failed to load
    specs, backends, _ = cells(cpu_report["results"])
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.spec-row")
    assert len(rows) == len(specs)
    assert len(browser.find_elements(By.CSS_SELECTOR, "td.cell")) == len(specs) * len(backends)
    assert all(r.is_displayed() for r in rows)

    # the family filter shows the optimizer specs only
    Select(browser.find_element(By.ID, "f-family")).select_by_value("opt")
    shown = [r for r in rows if r.is_displayed()]
    assert len(shown) == sum(s.startswith("opt.") for s in specs) > 0
    assert all(r.find_element(By.CSS_SELECTOR, "th").text.startswith("opt.") for r in shown)

    # the verdict filter: only diverging implementations stay
    for box in browser.find_elements(By.CSS_SELECTOR, "input.f-verdict"):
        if box.get_attribute("value") != "diverges":
            box.click()
    subs = [b for b in browser.find_elements(By.CSS_SELECTOR, "button.sub") if b.is_displayed()]
    assert subs and all("v-diverges" in b.get_attribute("class") for b in subs)

    # a backend unchecked hides its column
    browser.find_element(By.CSS_SELECTOR, f"input.f-backend[value='{backends[0]}']").click()
    cols = browser.find_elements(By.CSS_SELECTOR, f"td.cell[data-backend='{backends[0]}']")
    assert not any(c.is_displayed() for c in cols)
    assert _severe(browser) == []


def test_a_cell_opens_its_rows_and_plots(browser, small_report, tmp_path):
    from selenium.webdriver.common.by import By

    page = write_html(small_report, tmp_path / "report.html")
    browser.get(page.as_uri())
    assert browser.find_element(By.ID, "detail").text == ""
    sub = next(
        b
        for b in browser.find_elements(By.CSS_SELECTOR, "button.sub")
        if b.get_attribute("title") == "ExpDecay"
    )
    sub.click()
    detail = browser.find_element(By.ID, "detail")
    assert "sched.exponential" in detail.text and "diverges" in detail.text
    assert "trainspec run --backend a --spec sched.exponential" in detail.text
    assert len(detail.find_elements(By.TAG_NAME, "svg")) == 2  # histogram and schedule curve
    assert _severe(browser) == []
