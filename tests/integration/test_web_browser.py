"""The alert desk in a real browser (Debian's Chromium, driven by selenium with the system chromedriver) against
``rasd web`` on the session's broker: alerts published to the alerts topic after the page is open appear live, the
Arabic card is right-to-left, its place is a marker on the map, a filter in the URL narrows the list, a hostile
title is text, and the page loads nothing from elsewhere.  A screenshot is saved under the test's tmp dir (and,
with RASD_WEB_SCREENSHOT=path, there too: how docs/web.png is made)."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from rasd.kafka_local import create_topics
from rasd.web import CSP, WebProcess
from schemas.codec import encode
from schemas.models import Alert, AlertEntity, AlertMatch
from tests.integration.helpers import free_port, isolated_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="Chromium and chromedriver are not installed (make tools)")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)> Shelling reported"
KHAN_YOUNIS = AlertEntity(canonical="rasd:loc:khan-younis", name="Khan Younis", type="LOC", mentions=["خان يونس"],
                          lat=31.34018, lon=34.30627)
KYIV = AlertEntity(canonical="Q1899", name="Kyiv", type="LOC", mentions=["Kyiv"], lat=50.45, lon=30.52)


def sample_alerts() -> tuple[Alert, Alert, Alert]:
    now = time.time()
    earlier = Alert(
        alert_id="al-en-1", article_id="art-en-1", story_id="story-kyiv", severity="medium", score=2.1,
        matches=[AlertMatch(term="missile strike", category="attack", weight=1.5, start=10, end=24)],
        entities=[KYIV], title="Missile strike hits Kyiv suburb", language="en", source="Example Wire",
        snippet="A missile strike hit a suburb of Kyiv overnight, officials said.",
        url="https://example.org/kyiv", published_at="2026-12-07T08:00:00Z", detected_at=now - 60)
    arabic = Alert(
        alert_id="al-ar-1", article_id="art-ar-1", story_id="story-khan-younis", severity="high", score=4.2,
        casualties=12, matches=[AlertMatch(term="غارة", category="attack", weight=2.0, start=0, end=4),
                                AlertMatch(term="قتلى", category="casualties", weight=1.5, start=30, end=34)],
        entities=[KHAN_YOUNIS], title="غارة جوية على خان يونس توقع 12 قتيلا", language="ar", source="وكالة مثال",
        snippet="أسفرت غارة جوية على خان يونس عن سقوط 12 من القتلى بحسب مصادر طبية.",
        url="https://example.org/ar", published_at="2026-12-07T09:00:00Z", detected_at=now)
    hostile = Alert(
        alert_id="al-x-1", article_id="art-x-1", story_id="story-kyiv", supersedes="al-en-1", severity="low",
        score=1.0, matches=[AlertMatch(term="shelling", category="attack", weight=1.0, start=0, end=8)],
        entities=[KYIV], title=HOSTILE, snippet=HOSTILE, language="en", url="javascript:alert(3)",
        detected_at=now)
    return earlier, arabic, hostile


async def produce(bootstrap: str, topic: str, alerts: list[Alert]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for a in alerts:
            await producer.send_and_wait(topic, encode(a), key=(a.story_id or a.alert_id).encode())
    finally:
        await producer.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--lang=en-US", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium-manager download a browser or driver
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def cards(driver: webdriver.Chrome) -> list[str]:
    return [c.get_attribute("data-alert-id") or "" for c in driver.find_elements(By.CSS_SELECTOR, "#alerts > li")]


def test_alerts_appear_live_in_the_browser(kafka_bootstrap: str, tmp_path: Path,
                                          browser: webdriver.Chrome) -> None:
    env, topics = isolated_env(tmp_path / "data")
    asyncio.run(create_topics(kafka_bootstrap, [topics.alerts], partitions=2))
    earlier, arabic, hostile = sample_alerts()
    asyncio.run(produce(kafka_bootstrap, topics.alerts, [earlier]))  # retained before the desk starts
    desk = WebProcess(kafka_bootstrap, log_path=tmp_path / "web.log", env=env, port=free_port())
    try:
        desk.wait_ready()
        assert desk.url.startswith("http://127.0.0.1:")  # loopback unless configured
        with urllib.request.urlopen(desk.url) as resp:
            assert resp.headers["Content-Security-Policy"] == CSP

        browser.get(desk.url)
        wait = WebDriverWait(browser, 30, poll_frequency=0.2)
        wait.until(lambda d: cards(d) == ["al-en-1"])  # the retained alert, read from the beginning
        wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("live"))

        asyncio.run(produce(kafka_bootstrap, topics.alerts, [arabic, hostile]))  # the page is open: no reload
        wait.until(lambda d: cards(d) == ["al-x-1", "al-ar-1", "al-en-1"])  # newest first, live

        ar_card = browser.find_element(By.CSS_SELECTOR, 'li[data-alert-id="al-ar-1"]')
        assert ar_card.get_attribute("dir") == "rtl" and ar_card.get_attribute("lang") == "ar"
        en_card = browser.find_element(By.CSS_SELECTOR, 'li[data-alert-id="al-en-1"]')
        assert en_card.get_attribute("dir") == "ltr"
        assert browser.execute_script("return getComputedStyle(arguments[0]).direction", ar_card) == "rtl"

        # The hostile title is text: no script or img element came from it, no dialog opened, no javascript: link.
        x_card = browser.find_element(By.CSS_SELECTOR, 'li[data-alert-id="al-x-1"]')
        assert x_card.find_element(By.CSS_SELECTOR, ".title").text == HOSTILE
        assert not browser.find_elements(By.CSS_SELECTOR, "#alerts script, #alerts img")
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018
        assert not x_card.find_elements(By.CSS_SELECTOR, "a[href^='javascript']")

        # The map: land drawn from the vendored outline, a marker at Khan Younis for the Arabic alert.
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#map path.land")) > 100)
        assert browser.find_elements(By.CSS_SELECTOR, '#map circle.marker[data-alert-id="al-ar-1"]')

        # Evidence: expand the Arabic card; the matched terms are marked in the snippet; its story timeline.
        ar_card.find_element(By.TAG_NAME, "summary").click()
        marks = [m.text for m in ar_card.find_elements(By.CSS_SELECTOR, ".snippet mark")]
        assert "غارة" in marks
        assert "rasd:loc:khan-younis" in ar_card.find_element(By.CSS_SELECTOR, ".entities").text
        x_card.find_element(By.TAG_NAME, "summary").click()
        wait.until(lambda d: len(x_card.find_elements(By.CSS_SELECTOR, ".story li")) == 2)  # new, then its update
        assert [t.text for t in x_card.find_elements(By.CSS_SELECTOR, ".story .tag")] == ["new", "update"]
        time.sleep(2.5)  # the new cards' highlight fades
        shot = tmp_path / "web.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if target := os.environ.get("RASD_WEB_SCREENSHOT"):
            shutil.copyfile(shot, target)

        # A filter in the URL narrows the list (a shared link shows the same), and the form shows it.
        browser.get(desk.url + "?language=ar")
        wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("live"))
        assert cards(browser) == ["al-ar-1"]
        assert browser.find_element(By.CSS_SELECTOR, "select[name=language]").get_attribute("value") == "ar"
        browser.save_screenshot(str(tmp_path / "web-ar.png"))

        # Nothing from another origin was requested.
        origin = desk.url.rstrip("/")
        names = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert names and all(n.startswith(origin) for n in names), names
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[no-untyped-call]
        assert not errors, errors
    finally:
        desk.stop()


def test_the_seeds_alert_reaches_the_page_live(kafka_bootstrap: str, tmp_path: Path,
                                               browser: webdriver.Chrome) -> None:
    """The whole way: the four workers, the page open, the seeds published; their alert appears without reload,
    right-to-left, with a marker for each of its places that has coordinates (and an approximate one at the
    centre of a country that has none)."""
    import json

    from rasd.inputs import read_articles
    from rasd.kafka_io import publish
    from tests.integration.helpers import start_workers

    env, topics = isolated_env(tmp_path / "data")
    asyncio.run(create_topics(kafka_bootstrap, topics.all(), partitions=4))
    workers = start_workers(kafka_bootstrap, env, tmp_path / "logs")
    desk = WebProcess(kafka_bootstrap, log_path=tmp_path / "web.log", env=env, port=free_port())
    try:
        desk.wait_ready()
        browser.get(desk.url)
        wait = WebDriverWait(browser, 90, poll_frequency=0.3)
        wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("live"))
        assert cards(browser) == []
        seeds = Path(__file__).resolve().parents[2] / "seeds"
        started = time.monotonic()
        asyncio.run(publish(kafka_bootstrap, topics.raw, list(read_articles([seeds]))))
        wait.until(lambda d: len(cards(d)) >= 1)
        took = time.monotonic() - started
        card = browser.find_element(By.CSS_SELECTOR, "#alerts > li")
        assert card.get_attribute("dir") == "rtl" and card.get_attribute("lang") == "ar"
        alert_id = card.get_attribute("data-alert-id")
        with urllib.request.urlopen(desk.url + "api/alerts") as resp:
            alert = next(a for a in json.load(resp)["alerts"] if a["alert_id"] == alert_id)
        placed = [e for e in alert["entities"] if e["type"] == "LOC" and e.get("lat") is not None]
        exact = f'#map circle.marker:not(.approx)[data-alert-id="{alert_id}"]'
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, exact)) == len(placed))
        if any(e["name"] == "Azerbaijan" for e in alert["entities"]):  # no coordinates: the country's centre
            approx = browser.find_elements(By.CSS_SELECTOR, f'#map circle.marker.approx[data-alert-id="{alert_id}"]')
            assert approx, "no approximate marker for Azerbaijan"
        browser.save_screenshot(str(tmp_path / "web-seeds.png"))
        print(f"seeds' alert on the page {took:.1f} s after publishing; places with coordinates: "
              f"{[e['name'] for e in placed]}")
    finally:
        desk.stop()
        workers.stop()
