"""The benchmark's generated articles must look like a feed, or its figures measure the wrong work.

A feed has many stories, a share of republished copies and a share of escalation: if every
generated article chained into one story (as the first generator's did), the alerter would send one
alert for the whole run and its story hop would sit on one partition — the benchmark would not
exercise the alert path it claims to time.
"""

from __future__ import annotations

import statistics
from collections import Counter

import orjson
import pytest

from bench.articles import expected, generate
from rasd.offline import OfflinePipeline


@pytest.fixture(scope="module")
def generated() -> list[bytes]:
    return generate(400, seed=3)


def test_articles_form_many_stories(generated: list[bytes]) -> None:
    pipeline = OfflinePipeline()
    stories = Counter(pipeline.process(raw)["story_id"] for raw in generated)
    assert len(stories) > len(generated) / 4
    assert max(stories.values()) < len(generated) / 10  # no story swallows the feed


def test_copies_and_alerts_are_a_share_of_the_feed(generated: list[bytes]) -> None:
    exp = expected(generated)
    assert exp.rejected == 0
    assert 0.05 < exp.duplicates / exp.articles < 0.2
    assert 0.03 < exp.alerts / exp.articles < 0.3


def test_articles_have_newsroom_sizes(generated: list[bytes]) -> None:
    assert 5000 < statistics.mean(map(len, generated)) < 7500
    assert all(orjson.loads(raw)["title"] for raw in generated)


def test_generation_is_deterministic() -> None:
    assert generate(30, seed=11) == generate(30, seed=11)
