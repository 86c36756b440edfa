"""The web page in headless Chromium: search, rate five movies, see which title each search
matched and ten recommendations that leave them out, each saying why, and start over; the same
on a 390 px phone screen with nothing overflowing sideways; and the API docs at ``/docs``
rendering with every host but the server unreachable.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); when they are
missing and this user may run apt-get, the test installs them itself. The screenshots
(``serve.png``, ``page-390px.png``, ``docs-offline.png``) go to the folder ``$EMBREC_SCREENSHOTS``
when set (``EMBREC_SCREENSHOTS=docs``), else to a temporary folder.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from embrec.data.datasets import load_dataset
from embrec.serving import create_app
from embrec.serving.local import running_in_thread
from embrec.training.fit import fit

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install -e '.[dev]')")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# A real browser (installed by apt-get when missing): make test-all and CI, not make test.
pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--window-size=1280,900",
    # Every host but the test server's is unresolvable, so the page and /docs are tested offline.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
RATINGS = [("star wars", 5), ("empire strikes back", 5), ("toy story", 4), ("fargo", 5),
           ("pulp fiction", 4)]
MATCHED_TITLES = ["Star Wars (1977)", "Empire Strikes Back, The (1980)", "Toy Story (1995)",
                  "Fargo (1996)", "Pulp Fiction (1994)"]
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
DOCS_VIEW = {"width": 1280, "height": 1760, "deviceScaleFactor": 1, "mobile": False}
API_ENDPOINTS = 8


def chromium_installed() -> bool:
    return Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver when missing; skip only where we cannot."""
    if chromium_installed():
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("chromium and chromium-driver are missing and cannot be installed here "
                    "(needs apt-get as root: apt-get install -y chromium chromium-driver)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium",
                     "chromium-driver"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"could not install chromium: {' '.join(command)}: {last[0]}")
    if not chromium_installed():
        pytest.skip("apt-get ran but chromium or chromedriver is still missing")


@pytest.fixture(scope="module")
def page_url(data_dir, tmp_path_factory):
    ratings = load_dataset("ml-100k", data_dir=data_dir)
    trained = fit(ratings, "mf-bias", epochs=3, seed=0, threads=1)
    folder = tmp_path_factory.mktemp("browser")
    app = create_app(trained.save(folder / "mf-bias"), db_path=folder / "ratings.sqlite")
    with running_in_thread(app) as url:
        yield f"{url}/"


@pytest.fixture
def browser(tmp_path):
    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def recommendation_ids(driver) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#recommendations li.rec")
    return [row.get_attribute("data-item-id") for row in rows]


def wait_for_new_recommendations(driver, wait, previous: str | None) -> str:
    """Wait until the list was redrawn after ``previous`` and is not loading; its version."""
    def redrawn(d):
        box = d.find_element(By.ID, "recommendations")
        version = box.get_attribute("data-version")
        done = version and version != previous and "loading" not in box.get_attribute("class")
        return version if done else False

    return wait.until(redrawn)


def screenshot_path(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("EMBREC_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def rate_by_search(driver, wait, query: str, stars: int, version: str | None) -> tuple[str, str]:
    """Search, give the first hit ``stars`` and wait for the new list: (item id, list version)."""
    box = driver.find_element(By.ID, "search")
    box.clear()
    box.send_keys(query)
    wait.until(lambda d: query in d.find_element(By.ID, "results-hint").text)
    first = driver.find_element(By.CSS_SELECTOR, "#results li.movie")
    item_id = first.get_attribute("data-item-id")
    first.find_element(By.CSS_SELECTOR, f".star[data-value='{stars}']").click()
    return item_id, wait_for_new_recommendations(driver, wait, version)


def matched_line(driver) -> str:
    """The page's "Matched: your text -> title" line ("" when there is none)."""
    found = driver.find_elements(By.CSS_SELECTOR, "#matched .match-text")
    return found[0].text if found else ""


def save_screenshot(driver, target: Path) -> Path:
    for _ in range(2):
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, height + 120)
    driver.execute_script(
        "document.activeElement.blur(); window.scrollTo(0, 0);"
        "document.documentElement.style.overflow = 'hidden';"
    )
    ActionChains(driver).move_to_element(driver.find_element(By.TAG_NAME, "h1")).perform()
    driver.save_screenshot(str(target))
    return target


def test_rate_five_movies_and_see_ten_recommendations_that_leave_them_out(
    browser, page_url, tmp_path
):
    wait = WebDriverWait(browser, 30)
    browser.get(page_url)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    assert "Popular" in browser.find_element(By.ID, "recs-note").text
    assert len(recommendation_ids(browser)) == 10
    version = browser.find_element(By.ID, "recommendations").get_attribute("data-version")

    rated: list[str] = []
    for (query, stars), title in zip(RATINGS, MATCHED_TITLES):
        item_id, version = rate_by_search(browser, wait, query, stars, version)
        rated.append(item_id)
        assert not set(rated) & set(recommendation_ids(browser))
        assert matched_line(browser) == f"Matched: {query} \u2192 {title}"
        chip = browser.find_element(By.CSS_SELECTOR, f"#rated li[data-item-id='{item_id}']")
        assert chip.get_attribute("title") == f"Matched: {query} \u2192 {title}"

    assert rated == ["50", "172", "1", "100", "56"]
    assert browser.find_element(By.ID, "rated-count").text == "5"
    shown = recommendation_ids(browser)
    assert len(shown) == 10 and len(set(shown)) == 10 and not set(rated) & set(shown)
    assert "Based on your 5 ratings" in browser.find_element(By.ID, "recs-note").text
    because = browser.find_elements(By.CSS_SELECTOR, "#recommendations .because")
    assert because and all(line.text.startswith("Because you rated ") for line in because)
    assert not browser.find_element(By.ID, "status").text

    box = browser.find_element(By.ID, "search")
    box.clear()
    box.send_keys("star")
    wait.until(lambda d: "star" in d.find_element(By.ID, "results-hint").text)
    screenshot = save_screenshot(browser, screenshot_path(tmp_path, "serve.png"))
    assert screenshot.stat().st_size > 10_000

    browser.find_element(By.ID, "start-over").click()
    wait_for_new_recommendations(browser, wait, version)
    assert browser.find_element(By.ID, "rated-count").text == "0"
    assert "Popular" in browser.find_element(By.ID, "recs-note").text
    assert matched_line(browser) == ""


def test_the_filter_row_narrows_the_list_and_the_page_names_its_scorer(browser, page_url):
    wait = WebDriverWait(browser, 30)
    browser.get(page_url)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    assert browser.find_element(By.ID, "recs-scorer").text.startswith("Ordered by ")
    version = browser.find_element(By.ID, "recommendations").get_attribute("data-version")
    least = browser.find_element(By.ID, "min-ratings")
    least.clear()
    least.send_keys("300")
    version = wait_for_new_recommendations(browser, wait, version)
    browser.find_element(By.ID, "include-genre").send_keys("Comedy")
    wait_for_new_recommendations(browser, wait, version)
    shown = recommendation_ids(browser)
    answer = httpx.post(f"{page_url}recommendations", json={
        "ratings": {}, "n": 10, "min_ratings": 300, "include": ["genre:Comedy"]}).json()
    assert shown == [str(item["item_id"]) for item in answer["items"]] and shown
    assert not browser.find_element(By.ID, "status").text


def overflow(driver) -> dict:
    return driver.execute_script(
        "return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth};")


def test_at_phone_width_nothing_overflows_and_the_recommendations_show(
    browser, page_url, tmp_path
):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    wait = WebDriverWait(browser, 30)
    browser.get(page_url)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    assert overflow(browser) == {"scroll": 390, "inner": 390}
    version = browser.find_element(By.ID, "recommendations").get_attribute("data-version")
    for (query, stars), title in list(zip(RATINGS, MATCHED_TITLES))[:3]:
        _, version = rate_by_search(browser, wait, query, stars, version)
        assert matched_line(browser) == f"Matched: {query} \u2192 {title}"
    assert overflow(browser) == {"scroll": 390, "inner": 390}

    jump = browser.find_element(By.CSS_SELECTOR, "#matched .jump")
    assert jump.is_displayed()
    jump.click()
    wait.until(lambda d: d.execute_script(
        "const box = document.getElementById('recs-title').getBoundingClientRect();"
        "return box.top > -2 && box.bottom <= window.innerHeight;"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#recommendations li.rec")
    assert len(rows) == 10 and all(row.is_displayed() for row in rows)
    for row in rows:
        box = row.rect
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] > 20
    stars_box = browser.find_element(By.CSS_SELECTOR, "#results li.movie .stars").rect
    assert stars_box["x"] + stars_box["width"] <= 390

    browser.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
    target = screenshot_path(tmp_path, "page-390px.png")
    shot = browser.execute_cdp_cmd("Page.captureScreenshot",
                                   {"format": "png", "captureBeyondViewport": True})
    target.write_bytes(base64.b64decode(shot["data"]))
    assert target.stat().st_size > 10_000


def loaded_files(driver, page_url: str) -> set[str]:
    """Names of the files the current page loaded from the server.

    Anything it tried to fetch from another host must have been blocked by the page's
    Content-Security-Policy before any request left the browser (ReDoc's logo).
    """
    loaded = driver.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name);")
    origin = page_url.rstrip("/")
    outside = [url for url in loaded if not url.startswith(origin)]
    if outside:
        blocked = " ".join(entry["message"] for entry in driver.get_log("browser")
                           if "Content Security Policy" in entry["message"]
                           and "has been blocked" in entry["message"])
        assert all(f"'{url}'" in blocked for url in outside), outside
    return {url.rsplit("/", 1)[-1] for url in loaded if url.startswith(origin)}


def test_the_api_docs_render_with_every_other_host_unreachable(browser, page_url, tmp_path):
    wait = WebDriverWait(browser, 30)
    browser.get(page_url)
    unreachable = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css', {mode: 'no-cors'})"
        ".then(() => done('reached'), (error) => done(String(error)));")
    assert unreachable != "reached"

    browser.get(f"{page_url}docs")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"))
               == API_ENDPOINTS)
    assert "embrec" in browser.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title").text
    assert loaded_files(browser, page_url) >= {"swagger-ui-bundle.js", "swagger-ui.css",
                                                "openapi.json"}
    browser.find_element(By.CSS_SELECTOR, "#operations-recommendations-ratings_recommendations_"
                                          "recommendations_post .opblock-summary").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock.is-open .responses-wrapper"))
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DOCS_VIEW)
    browser.execute_script("window.scrollTo(0, 0);")
    screenshot = screenshot_path(tmp_path, "docs-offline.png")
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    browser.get(f"{page_url}redoc")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-section-id^='tag/']"))
    assert "embrec" in browser.find_element(By.TAG_NAME, "h1").text
    assert loaded_files(browser, page_url) >= {"redoc.standalone.js", "openapi.json"}
