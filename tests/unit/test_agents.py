"""The thin Faust agents, driven with faust's ``test_context()`` (no broker).

Why: the agents must only move messages — decode, call the core, send, count —
and must survive bad input. Here each agent is fed bytes and we look at what it
sends, with ``Topic.send`` replaced by a recorder (the real broker is covered by
tests/integration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
import pytest
from faust.topics import Topic
from prometheus_client import CollectorRegistry

from rasd.inputs import read_articles
from schemas.codec import decode, encode
from schemas.models import (
    Alert,
    DeadLetter,
    DedupedArticle,
    DedupVerdict,
    EnrichedArticle,
    Entity,
    NormalizedArticle,
)
from services.alerter.agent import build as build_alerter
from services.common.settings import (
    AlerterSettings,
    CommonSettings,
    DeduplicatorSettings,
    EntitiesSettings,
    NormalizerSettings,
)
from services.deduplicator.agent import build as build_deduplicator
from services.entities.agent import build as build_entities
from services.normalizer.agent import build as build_normalizer
from services.normalizer.textforms import matching_form

SEED_002 = Path(__file__).resolve().parents[2] / "seeds" / "002_e54ffb910fea662e.txt"
Sent = list[tuple[str, bytes, bytes]]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    record: Sent = []

    async def recorder(self: Topic[Any], *, key: bytes, value: bytes, **_: Any) -> None:
        record.append((self.get_topic_name(), key, value))

    monkeypatch.setattr(Topic, "send", recorder)
    return record


async def drive(app: faust.App, *values: bytes, agent_name: str | None = None) -> None:
    agents = list(app.agents.values())
    agent = agents[0] if agent_name is None else app.agents[agent_name]
    async with agent.test_context() as ctx:
        for value in values:
            await ctx.put(value, key=b"k")


def settings(cls: type[CommonSettings], tmp_path: Path) -> Any:
    return cls(bootstrap_servers="127.0.0.1:9", data_dir=tmp_path)


async def test_agents_carry_a_seed_from_raw_to_alert(sent: Sent, tmp_path: Path) -> None:
    [raw] = read_articles([SEED_002])
    await drive(build_normalizer(settings(NormalizerSettings, tmp_path), CollectorRegistry()), raw)
    [(topic, key, value)] = sent
    assert topic == "articles.normalized"
    normalized = decode(value, NormalizedArticle)
    assert key == normalized.id.encode()

    verdict = DedupVerdict(status="unique", similarity=0.0, story_id="story-of-002")
    unique = DedupedArticle(**normalized.model_dump(), dedup=verdict)
    await drive(build_entities(settings(EntitiesSettings, tmp_path), CollectorRegistry()), encode(unique))
    topic, key, value = sent[-1]
    enriched = decode(value, EnrichedArticle)
    assert topic == "articles.enriched" and {"Azerbaijan", "France"} <= {e.name for e in enriched.entities}
    assert key == b"story-of-002", "keyed by story: the alerter's partition owns the story, no re-keying hop"

    alerter = build_alerter(settings(AlerterSettings, tmp_path), CollectorRegistry())
    assert [a.name for a in alerter.agents.values()] == ["rasd.alerter"], "one agent: no route"
    await drive(alerter, value, agent_name="rasd.alerter")
    topic, key, value = sent[-1]
    assert topic == "alerts" and key == b"story-of-002"
    assert decode(value, Alert).severity == "high"


async def test_normalized_articles_are_one_ordered_partition_the_deduplicator_decides_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Why: the deduplicator decides in one total order without a re-keying hop.  The normalizer sends every
    article to partition 0 of ``articles.normalized`` (keyed by its id); the deduplicator decides what it reads
    there and forwards, undecided, what it finds on another partition (a normalizer from before that layout)."""
    partitions: list[tuple[str, bytes, int | None]] = []

    async def recorder(self: Topic[Any], *, key: bytes, value: bytes, partition: int | None = None, **_: Any) -> None:
        partitions.append((self.get_topic_name(), value, partition))

    monkeypatch.setattr(Topic, "send", recorder)
    [raw] = read_articles([SEED_002])
    await drive(build_normalizer(settings(NormalizerSettings, tmp_path), CollectorRegistry()), raw)
    [(topic, normalized, partition)] = partitions
    assert (topic, partition) == ("articles.normalized", 0)

    partitions.clear()
    registry = CollectorRegistry()
    [agent] = build_deduplicator(settings(DeduplicatorSettings, tmp_path), registry).agents.values()
    async with agent.test_context() as ctx:
        await ctx.put(normalized, key=b"k", partition=0)
        await ctx.put(normalized, key=b"k", partition=3)
    decided = [(t, p) for t, _, p in partitions if not t.endswith("-changelog")]
    assert decided == [("articles.unique", None), ("articles.normalized", 0)]
    assert partitions[-1][1] == normalized, "forwarded unchanged, to be decided in its turn"
    assert registry.get_sample_value("rasd_messages_consumed_total",
                                     {"service": "deduplicator", "topic": "normalized"}) == 1


async def test_agent_survives_bad_input_and_keeps_going(sent: Sent, tmp_path: Path) -> None:
    """A malformed message goes to the DLQ and the next good message is still processed."""
    registry = CollectorRegistry()
    app = build_normalizer(settings(NormalizerSettings, tmp_path), registry)
    await drive(app, b"\xff\xfe not json", b'{"title": "T", "body": "Body text of a short article."}')
    assert [t for t, _, _ in sent] == ["articles.dlq", "articles.normalized"]
    letter = decode(sent[0][2], DeadLetter)
    assert letter.original_text.endswith("not json") and letter.stage == "normalizer"
    assert registry.get_sample_value(
        "rasd_dead_letters_total", {"service": "normalizer", "reason": "decode"}
    ) == 1


def _enriched(article_id: str, headline: str, place: tuple[str, str]) -> EnrichedArticle:
    """An enriched article of the story ``war`` that names one place (alias, canonical id) in its headline."""
    text = f"{headline}\nاندلعت اشتباكات مسلحة عنيفة وقصف مدفعي متواصل في {place[0]} منذ الفجر، وقتل 12 شخصا."
    start = text.index(place[0])
    entity = Entity(text=place[0], type="LOC", canonical=place[1], name=place[1], start=start,
                    end=start + len(place[0]), confidence=0.9)
    return EnrichedArticle(
        id=article_id, title=headline, language="ar", text=text, match_text=matching_form(text), ingested_at=0.0,
        dedup=DedupVerdict(status="unique", similarity=0.0, story_id="war"), entities=[entity],
    )


async def test_alerter_counts_decisions_and_place_disagreements(sent: Sent, tmp_path: Path) -> None:
    """The alerter's story metrics exist from the start (zeros for every label) and count what happened:
    a second article of the story in the same place is suppressed, one in a place the story's alert
    does not name is sent anyway and counted as a ``disjoint`` disagreement."""
    registry = CollectorRegistry()
    alerter = build_alerter(settings(AlerterSettings, tmp_path), registry)

    def counts() -> dict[str, float | None]:
        samples = {f"action={a}": ("rasd_alert_decisions_total", {"action": a})
                   for a in ("new", "update", "suppressed", "replay")}
        samples |= {f"reason={r}": ("rasd_alert_story_place_disagreements_total", {"reason": r})
                    for r in ("disjoint", "unplaced")}
        return {k: registry.get_sample_value(name, labels) for k, (name, labels) in samples.items()}

    assert set(counts().values()) == {0.0}
    zawiya, misrata = ("الزاوية", "rasd:loc:zawiya"), ("مصراتة", "rasd:loc:misrata")
    articles = [_enriched("a1", "اشتباكات وقصف في الزاوية", zawiya),
                _enriched("a2", "قصف واشتباكات في الزاوية", zawiya),
                _enriched("a3", "اشتباكات وقصف في مصراتة", misrata)]
    await drive(alerter, *(encode(a) for a in articles), agent_name="rasd.alerter")
    alerts = [decode(v, Alert) for t, _, v in sent if t == "alerts"]
    assert [a.article_id for a in alerts] == ["a1", "a3"] and alerts[1].supersedes is None
    assert counts() == {"action=new": 2.0, "action=update": 0.0, "action=suppressed": 1.0, "action=replay": 0.0,
                        "reason=disjoint": 1.0, "reason=unplaced": 0.0}
