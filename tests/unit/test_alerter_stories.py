"""One alert per story: the pure decision (:func:`decide_story`), the stage that applies it, the routing key.

Why: an alert desk must not be paged again by every outlet that reports the same event, nor by a
replayed message, but must hear when a story gets worse (an update that names the alert it supersedes).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas.codec import encode
from schemas.models import Alert, DedupVerdict, EnrichedArticle
from services.alerter.core import Lexicon, StoryState, alert_id, decide_story
from services.alerter.stage import AlerterStage, story_key
from services.normalizer.textforms import display_form, matching_form

NOW = 1_695_124_800.0
SEEDS = sorted((Path(__file__).resolve().parents[2] / "seeds").glob("*.txt"))
CLASHES = ("اشتباكات بين فصيلين مسلحين في مدينة الزاوية\n"
           "اندلعت اشتباكات مسلحة مساء الأحد بين فصيلين في مدينة الزاوية غرب العاصمة، واستمرت عدة ساعات.")
DEADLY = ("مقتل 12 شخصا في اشتباكات وقصف مدفعي على الزاوية\n"
          "قتل 12 شخصا على الأقل في اشتباكات عنيفة وقصف مدفعي متواصل على أحياء مدينة الزاوية فجر اليوم.")


def candidate(article_id: str, severity: str, story: str = "story-1") -> Alert:
    return Alert(alert_id=alert_id(article_id), article_id=article_id, story_id=story,
                 severity=severity, score=6.0, matches=[], entities=[], title="t",  # type: ignore[arg-type]
                 snippet="", language="ar", detected_at=NOW)


def article(content: str, article_id: str, story: str | None) -> EnrichedArticle:
    text = display_form(content)
    return EnrichedArticle(
        id=article_id, title=text.split("\n", 1)[0], language="ar", text=text, match_text=matching_form(text),
        ingested_at=NOW, dedup=DedupVerdict(status="unique", similarity=0.0, story_id=story), entities=[],
    )


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load()


@pytest.mark.parametrize(("sequence", "expected"), [
    pytest.param(["medium"], ["new"], id="first-alert-of-a-story"),
    pytest.param(["high", "high", "medium"], ["new", "suppressed", "suppressed"], id="same-or-lower-is-quiet"),
    pytest.param(["medium", "medium", "high", "high"], ["new", "suppressed", "update", "suppressed"],
                 id="rise-is-an-update-once"),
    pytest.param(["low", "medium", "high"], ["new", "update", "update"], id="each-rise-updates"),
])
def test_story_decisions(sequence: list[str], expected: list[str]) -> None:
    """Different articles of one story: only the first and each rise in severity go out."""
    state: StoryState | None = None
    actions = []
    for n, severity in enumerate(sequence):
        decision = decide_story(state, candidate(f"a{n}", severity))
        actions.append(decision.action)
        assert (decision.alert is not None) == (decision.action in ("new", "update"))
        state = decision.state
    assert actions == expected
    assert state is not None and state.severity == max(sequence, key=["low", "medium", "high"].index)


def test_update_supersedes_the_previous_alert() -> None:
    """The update references the alert it replaces, and becomes the one the next update supersedes."""
    first = decide_story(None, candidate("a", "low"))
    second = decide_story(first.state, candidate("b", "medium"))
    third = decide_story(second.state, candidate("c", "high"))
    assert second.alert is not None and second.alert.supersedes == alert_id("a")
    assert third.alert is not None and third.alert.supersedes == alert_id("b")
    assert third.state is not None and third.state.articles == ("a", "b", "c")


def test_replay_never_alerts_twice_and_is_deterministic() -> None:
    """Redelivering an article that already alerted (a Kafka replay) emits nothing, whatever its severity,
    and deciding the same inputs twice gives the same decision (the function is pure)."""
    state = decide_story(None, candidate("a", "medium")).state
    assert decide_story(state, candidate("a", "medium")).action == "replay"
    assert decide_story(state, candidate("a", "high")).action == "replay"
    assert decide_story(state, candidate("b", "high")) == decide_story(state, candidate("b", "high"))


def test_state_round_trips_through_json() -> None:
    """The state is stored as JSON in a Faust table: it must survive the round trip."""
    state = decide_story(None, candidate("a", "high")).state
    assert state is not None
    assert StoryState.from_json(orjson.loads(orjson.dumps(state.to_json()))) == state
    assert StoryState.from_json(None) is None
    assert StoryState.from_json({"alert_id": "x", "severity": "bogus"}) is None


def test_stage_alerts_once_per_story_and_updates_on_escalation(lexicon: Lexicon) -> None:
    """Two outlets report the same clashes (medium): one alert.  A third reports deaths (high): an update
    keyed by the story, superseding the first.  A replay of the first: nothing.  Another story: its own."""
    stories: dict[str, object] = {}
    actions: list[str] = []
    stage = AlerterStage(lexicon, stories=stories, on_decision=actions.append)
    out = [stage.handle(article(c, i, s), now=NOW) for c, i, s in [
        (CLASHES, "a1", "zawiya"), (CLASHES.replace("الأحد", "السبت"), "a2", "zawiya"),
        (DEADLY, "a3", "zawiya"), (CLASHES, "a1", "zawiya"), (CLASHES, "b1", None)]]
    assert [len(o) for o in out] == [1, 0, 1, 0, 1]
    assert actions == ["new", "suppressed", "update", "replay", "new"]
    first, update, other = out[0][0], out[2][0], out[4][0]
    assert first.key == "zawiya" and first.value.severity == "medium"  # type: ignore[attr-defined]
    assert update.key == "zawiya" and update.value.severity == "high"  # type: ignore[attr-defined]
    assert update.value.supersedes == alert_id("a1")  # type: ignore[attr-defined]
    assert other.key == "b1" and other.value.story_id == "b1"  # type: ignore[attr-defined]
    assert set(stories) == {"zawiya", "b1"}


def test_without_story_state_every_article_alerts(lexicon: Lexicon) -> None:
    """``stories=None`` (``rasd process``'s per-article view) emits each article's own alert."""
    stage = AlerterStage(lexicon)
    assert all(stage.handle(article(CLASHES, i, "zawiya"), now=NOW) for i in ("a1", "a2"))


@pytest.mark.parametrize(("value", "key", "expected"), [
    pytest.param(encode(article(CLASHES, "a1", "story-9")), b"a1", b"story-9", id="story-id"),
    pytest.param(encode(article(CLASHES, "a1", None)), b"a1", b"a1", id="falls-back-to-article-id"),
    pytest.param(b"\xff not json", b"k", b"k", id="undecodable-keeps-key"),
    pytest.param(b"[1, 2]", None, b"", id="not-an-object"),
])
def test_story_key(value: bytes, key: bytes | None, expected: bytes) -> None:
    """The route agent re-keys by story so one worker owns a story; bad bytes keep their key (→ DLQ later)."""
    assert story_key(value, key) == expected
