"""The web page in headless Chromium: search, rate five movies, see ten recommendations that
leave them out, each saying why, and start over.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); when they are
missing and this user may run apt-get, the test installs them itself. The screenshot goes to
``$EMBREC_SCREENSHOT`` when set (``EMBREC_SCREENSHOT=docs/serve.png``), else to a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

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
]
RATINGS = [("star wars", 5), ("empire strikes back", 5), ("toy story", 4), ("fargo", 5),
           ("pulp fiction", 4)]


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


def save_screenshot(driver, tmp_path: Path) -> Path:
    target = Path(os.environ.get("EMBREC_SCREENSHOT") or tmp_path / "serve.png")
    target.parent.mkdir(parents=True, exist_ok=True)
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
    for query, stars in RATINGS:
        box = browser.find_element(By.ID, "search")
        box.clear()
        box.send_keys(query)
        wait.until(lambda d, q=query: q in d.find_element(By.ID, "results-hint").text)
        first = browser.find_element(By.CSS_SELECTOR, "#results li.movie")
        rated.append(first.get_attribute("data-item-id"))
        first.find_element(By.CSS_SELECTOR, f".star[data-value='{stars}']").click()
        version = wait_for_new_recommendations(browser, wait, version)
        assert not set(rated) & set(recommendation_ids(browser))

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
    screenshot = save_screenshot(browser, tmp_path)
    assert screenshot.stat().st_size > 10_000

    browser.find_element(By.ID, "start-over").click()
    wait_for_new_recommendations(browser, wait, version)
    assert browser.find_element(By.ID, "rated-count").text == "0"
    assert "Popular" in browser.find_element(By.ID, "recs-note").text
