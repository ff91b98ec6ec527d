"""A busy news day through the four services on the real broker: one delivered alert per event.

Why: on a busy day the alerter's one-alert-per-story rule is only as good as story grouping.  Twenty
articles written for the project (``tests/data/story_cases.jsonl``: twelve events in one day, eight of
them reported in Arabic and in English, strikes in one country and on one sea, a market story and a
football match told in attack words) are published interleaved, event after event, so that the reports
of one event arrive apart and on different partitions.  Every event that wants an alert must get exactly
one opening alert (later alerts of its story may only update it), no quiet event may get any, and no
alert's story may hold articles of two events.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from itertools import zip_longest
from pathlib import Path

import orjson

from rasd.kafka_io import publish
from rasd.kafka_local import create_topics
from schemas.codec import decode
from schemas.models import Alert, DedupedArticle

from .helpers import collect, count, isolated_env, start_workers

ROOT = Path(__file__).resolve().parents[2]
SETTLE_S = 5.0  # after the last expected message: time for an unexpected one (a second opening alert) to arrive
CASES = [json.loads(line) for line in (ROOT / "tests" / "data" / "story_cases.jsonl").open(encoding="utf-8")]


def interleaved(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The articles event after event: first reports of every event, then second reports, and so on."""
    by_event: dict[object, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        by_event[row["story"]].append(row)
    rounds = zip_longest(*by_event.values())
    return [row for one_round in rounds for row in one_round if row is not None]


async def test_a_busy_day_gets_one_delivered_alert_per_event(kafka_bootstrap: str, tmp_path: Path) -> None:
    events = {str(r["story"]) for r in CASES}
    wanted = {str(r["story"]) for r in CASES if r["alert"]}
    assert len(CASES) >= 20 and len(events) >= 8 and len(wanted) >= 8
    order = interleaved(CASES)
    assert [r["story"] for r in order[:3]] != [order[0]["story"]] * 3, "reports of one event arrive apart"

    env, topics = isolated_env(tmp_path / "data")
    await create_topics(kafka_bootstrap, topics.all(), partitions=4)
    workers = start_workers(kafka_bootstrap, env, tmp_path / "logs")
    try:
        ids = await publish(kafka_bootstrap, topics.raw, (orjson.dumps(row) for row in order))
        # Every article has been through the deduplicator and every alert-worthy event has its opening alert;
        # then a little more time for anything that should not come (a second opening alert) to show up.
        watched = [topics.unique, topics.enriched, topics.alerts, topics.dlq]
        await collect(
            kafka_bootstrap, watched,
            lambda s: count(s, topics.enriched) >= len(CASES) and count(s, topics.alerts) >= len(wanted),
            timeout=240,
        )
        settled = time.monotonic() + SETTLE_S
        seen = await collect(kafka_bootstrap, watched, lambda s: time.monotonic() > settled, timeout=SETTLE_S + 30)
    finally:
        workers.stop()

    assert count(seen, topics.dlq) == 0
    event_of = {article_id: str(row["story"]) for article_id, row in zip(ids, order, strict=True)}
    stories = {a.id: a.story_id for a in (decode(v, DedupedArticle) for _, v in seen[topics.unique])}
    assert set(stories) == set(event_of), "every article is unique (no copies among them)"
    members: dict[str | None, set[str]] = defaultdict(set)
    for article_id, story in stories.items():
        members[story].add(event_of[article_id])

    alerts = [decode(v, Alert) for _, v in seen[topics.alerts]]
    opening: dict[str, list[str]] = defaultdict(list)
    for alert in alerts:
        assert len(members[alert.story_id]) == 1, f"story {alert.story_id} mixes events {members[alert.story_id]}"
        event = event_of[alert.article_id]
        assert event in wanted, f"a quiet event got an alert: {event} ({alert.title})"
        if alert.supersedes is None:
            opening[event].append(alert.alert_id)
    assert {event: len(a) for event, a in opening.items()} == dict.fromkeys(wanted, 1)
