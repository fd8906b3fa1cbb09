"""The page for people (/ui) in a real headless Chromium, against a real server.

Types reviews and reads the labels and highlights, uploads a file and reads the
finished counts, and checks the API key rule and that the browser reported no
error (a broken script or a blocked load fails the test). Needs Debian's
``chromium`` and ``chromium-driver`` (``scripts/system-deps.sh`` installs them);
without them the tests skip naming the install, and fail under ``CI=1``.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.servers import bentoml_serve
from devtools.tools import require

pytestmark = pytest.mark.e2e

REVIEWS = ["a wonderful, moving film", "not bad at all", "a dull, lifeless mess"]
WAIT_S = 30


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through chromedriver, with its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = require("chromium", "chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1000,1400",
    ):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition)


def visible(element_id: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return ec.visibility_of_element_located((By.ID, element_id))


def severe_console_lines(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_a_person_classifies_reviews_and_scores_a_file(
    browser: Any, server_url: str, tmp_path: Path, trained_model: str
) -> None:
    from selenium.webdriver.common.by import By

    expected = [
        p["label"]
        for p in httpx.post(f"{server_url}/classify", json={"texts": REVIEWS}).json()
    ]
    browser.get(f"{server_url}/ui")
    wait_for(browser, lambda d: trained_model in d.find_element(By.ID, "model").text)

    browser.find_element(By.ID, "reviews").send_keys("\n".join(REVIEWS))
    browser.find_element(By.ID, "classify").click()
    wait_for(browser, visible(f"result-{len(REVIEWS) - 1}"))
    cards = [browser.find_element(By.ID, f"result-{i}") for i in range(len(REVIEWS))]
    labels = [card.find_element(By.CSS_SELECTOR, ".label").text for card in cards]
    assert labels == expected
    for card, review in zip(cards, REVIEWS, strict=True):
        assert card.find_element(By.CSS_SELECTOR, ".text").text == review
    wonderful = cards[0].find_elements(By.CSS_SELECTOR, "mark.positive")
    assert "wonderful" in [m.text.lower() for m in wonderful]
    dull = cards[2].find_elements(By.CSS_SELECTOR, "mark.negative")
    assert {"dull", "lifeless", "mess"} & {m.text.lower() for m in dull}

    upload = tmp_path / "reviews.csv"
    with upload.open("w", newline="") as handle:
        csv.writer(handle).writerows([["text"], *([r] for r in REVIEWS), ["ok"]])
    browser.find_element(By.ID, "file").send_keys(str(upload))
    browser.find_element(By.ID, "upload").click()
    wait_for(browser, visible("download"))
    summary = browser.find_element(By.ID, "job-summary").text
    assert summary == "rows 4, scored 3, rejected 1"
    assert browser.find_element(By.ID, "job-counts").text == "4 of 4 rows"
    href = browser.find_element(By.ID, "download").get_attribute("href")
    assert href.startswith("blob:")
    browser.save_screenshot(str(tmp_path / "ui.png"))
    assert severe_console_lines(browser) == []


def test_the_page_uses_the_api_key_rules(
    browser: Any, trained_model: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    key = "page-key-42"
    env = {"API_KEY": key}
    with bentoml_serve("service:SentimentClassifier", tmp_path / "s.log", env) as url:
        browser.get(f"{url}/ui")
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        browser.find_element(By.ID, "reviews").send_keys(REVIEWS[0])
        browser.find_element(By.ID, "classify").click()
        error = wait_for(
            browser, lambda d: d.find_element(By.ID, "review-error").text or None
        )
        assert error.startswith("HTTP 401") and "unauthorized" in error
        browser.find_element(By.ID, "api-key").send_keys(key)
        browser.find_element(By.ID, "classify").click()
        wait_for(browser, visible("result-0"))
        assert browser.find_element(By.ID, "review-error").text == ""
    browser.get("about:blank")
    assert [line for line in severe_console_lines(browser) if "401" not in line] == []
