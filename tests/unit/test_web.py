"""rasd web without Kafka: headers, filters, the SSE backlog, the Host check, escaping left to the page."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from rasd.web import CSP, DESK, Desk, make_app
from schemas.models import Alert, AlertEntity, AlertMatch


def alert(alert_id: str, *, language: str = "en", severity: str = "high", title: str = "Strike",
          entities: list[AlertEntity] | None = None, story: str | None = None) -> Alert:
    return Alert(alert_id=alert_id, article_id="a-" + alert_id, story_id=story, severity=severity, score=3.0,
                 matches=[AlertMatch(term="strike", category="attack", weight=1.0, start=0, end=6)],
                 entities=entities or [], title=title, snippet=title, language=language, detected_at=1.0)


KHAN_YOUNIS = AlertEntity(canonical="rasd:loc:khan-younis", name="Khan Younis", type="LOC", mentions=["خان يونس"],
                          lat=31.34, lon=34.31)


async def client(hosts: tuple[str, ...] = ()) -> TestClient:  # type: ignore[type-arg]
    desk = Desk("127.0.0.1:1", "alerts")
    for a in (alert("en1"), alert("ar1", language="ar", entities=[KHAN_YOUNIS], story="s1"),
              alert("low1", severity="low", story="s1", title="<script>alert(1)</script>")):
        desk.store.add(a)
    c = TestClient(TestServer(make_app(desk, allowed_hosts=hosts, consume=False)))
    await c.start_server()
    return c


async def test_page_and_api_carry_a_strict_csp() -> None:
    c = await client()
    try:
        for path in ("/", "/api/alerts", "/static/app.js"):
            resp = await c.get(path)
            assert resp.status == 200, path
            assert resp.headers["Content-Security-Policy"] == CSP
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP and "default-src 'none'" in CSP
        page = await (await c.get("/")).text()
        assert "<script>" not in page.replace(" ", "")  # no inline script: every script is a file
    finally:
        await c.close()


async def test_api_filters_like_rasd_alerts_newest_first() -> None:
    c = await client()
    try:
        every = (await (await c.get("/api/alerts")).json())["alerts"]
        assert [a["alert_id"] for a in every] == ["low1", "ar1", "en1"]
        assert every[0]["title"] == "<script>alert(1)</script>"  # JSON carries the text; the page sets textContent
        ar = (await (await c.get("/api/alerts?language=ar")).json())["alerts"]
        assert [a["alert_id"] for a in ar] == ["ar1"] and ar[0]["entities"][0]["lat"] == 31.34
        high = (await (await c.get("/api/alerts?min_severity=high")).json())["alerts"]
        assert {a["alert_id"] for a in high} == {"en1", "ar1"}
        story = (await (await c.get("/api/alerts?story=s1")).json())["alerts"]
        assert [a["alert_id"] for a in story] == ["low1", "ar1"]
        contained = (await (await c.get("/api/alerts?place=Gaza+Strip")).json())["alerts"]  # containment
        assert [a["alert_id"] for a in contained] == ["ar1"]
        assert (await c.get("/api/alerts?min_severity=extreme")).status == 400
    finally:
        await c.close()


async def test_events_send_the_backlog_then_live_alerts() -> None:
    c = await client()
    try:
        resp = await c.get("/events?language=en")
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert c.app is not None
        desk = c.app[DESK]
        text = b""
        while b"event: ready" not in text:
            text += await asyncio.wait_for(resp.content.readany(), 5)
        assert b"en1" in text and b"ar1" not in text and b"id: 1\n" in text
        desk.store.add(alert("ar2", language="ar"))
        desk.store.add(alert("en2"))
        more = b""
        while b"en2" not in more:
            more += await asyncio.wait_for(resp.content.readany(), 5)
        assert b"ar2" not in more and b"id: 5\n" in more
        resp.close()
    finally:
        await c.close()


async def test_a_foreign_host_header_is_refused() -> None:
    c = await client(hosts=("127.0.0.1:8765",))
    try:
        assert (await c.get("/", headers={"Host": "evil.example:8765"})).status == 421
        assert (await c.get("/", headers={"Host": "127.0.0.1:8765"})).status == 200
    finally:
        await c.close()


async def test_closing_the_store_ends_the_streams() -> None:
    """What the server does on SIGINT/SIGTERM before it stops: open SSE responses end at once."""
    c = await client()
    try:
        resp = await c.get("/events")
        text = b""
        while b"event: ready" not in text:
            text += await asyncio.wait_for(resp.content.readany(), 5)
        assert c.app is not None
        c.app[DESK].store.close()
        rest = await asyncio.wait_for(resp.content.read(), 5)  # returns at the end of the stream
        assert b"event: alert" not in rest
    finally:
        await c.close()
