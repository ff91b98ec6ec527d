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
from schemas.models import Alert, DeadLetter, DedupedArticle, DedupVerdict, EnrichedArticle, NormalizedArticle
from services.alerter.agent import build as build_alerter
from services.common.settings import AlerterSettings, CommonSettings, EntitiesSettings, NormalizerSettings
from services.entities.agent import build as build_entities
from services.normalizer.agent import build as build_normalizer

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

    unique = DedupedArticle(**normalized.model_dump(), dedup=DedupVerdict(status="unique", similarity=0.0))
    await drive(build_entities(settings(EntitiesSettings, tmp_path), CollectorRegistry()), encode(unique))
    topic, key, value = sent[-1]
    enriched = decode(value, EnrichedArticle)
    assert topic == "articles.enriched" and {"Azerbaijan", "France"} <= {e.name for e in enriched.entities}

    alerter = build_alerter(settings(AlerterSettings, tmp_path), CollectorRegistry())
    await drive(alerter, value, agent_name="rasd.alerter.route")
    topic, key, routed = sent[-1]
    assert topic == "rasd-alerter-by-story" and key == enriched.story_id.encode() and routed == value
    await drive(alerter, routed, agent_name="rasd.alerter")
    topic, key, value = sent[-1]
    assert topic == "alerts" and key == enriched.story_id.encode()
    assert decode(value, Alert).severity == "high"


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
