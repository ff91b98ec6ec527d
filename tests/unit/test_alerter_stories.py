"""One alert per story: the pure decision (:func:`decide_story`), the stage that applies it, the routing key.

Why: an alert desk must not be paged again by every outlet that reports the same event, nor by a
replayed message, but must hear when a story gets worse (an update that names the alert it supersedes:
severity rises, the fighting reaches new places, the death toll grows materially) — and must never lose
an event because story grouping merged it with another: an article that shares no place with the
story's alerts goes out as a new alert, counted as a disagreement.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas.models import Alert, AlertEntity, DedupVerdict, EnrichedArticle, Entity
from services.alerter.core import (
    MAX_STORY_PLACES,
    Lexicon,
    StoryDecision,
    StoryState,
    alert_id,
    casualties_grew,
    decide_story,
    detect,
)
from services.alerter.stage import AlerterStage
from services.entities.shared import capital_ids
from services.normalizer.textforms import display_form, matching_form

NOW = 1_695_124_800.0
SEEDS = sorted((Path(__file__).resolve().parents[2] / "seeds").glob("*.txt"))
CLASHES = ("اشتباكات بين فصيلين مسلحين في مدينة الزاوية\n"
           "اندلعت اشتباكات مسلحة مساء الأحد بين فصيلين في مدينة الزاوية غرب العاصمة، واستمرت عدة ساعات.")
DEADLY = ("مقتل 12 شخصا في اشتباكات وقصف مدفعي على الزاوية\n"
          "قتل 12 شخصا على الأقل في اشتباكات عنيفة وقصف مدفعي متواصل على أحياء مدينة الزاوية فجر اليوم.")


ZAWIYA = "rasd:loc:zawiya"


def candidate(article_id: str, severity: str = "medium", story: str = "story-1", *,
              places: tuple[str, ...] = (ZAWIYA,), casualties: int | None = None) -> Alert:
    """An alert naming ``places`` (and a person, who never counts as a place)."""
    entities = [AlertEntity(canonical=p, name=p, type="LOC") for p in places]
    entities.insert(1, AlertEntity(canonical="Q1", name="Someone", type="PERSON"))
    return Alert(alert_id=alert_id(article_id), article_id=article_id, story_id=story,
                 severity=severity, score=6.0, casualties=casualties,  # type: ignore[arg-type]
                 matches=[], entities=entities, title="t", snippet="", language="ar", detected_at=NOW)


def run_story(*alerts: Alert, state: StoryState | None = None) -> list[StoryDecision]:
    """The decisions on ``alerts`` in order from ``state``, each on the state the previous one left."""
    decisions = []
    for alert in alerts:
        decision = decide_story(state, alert)
        decisions.append(decision)
        state = decision.state
    return decisions


def article(content: str, article_id: str, story: str | None, place: str = "الزاوية") -> EnrichedArticle:
    """An enriched article whose entities are each mention of ``place`` (linked to one id per name)."""
    text = display_form(content)
    at = [i for i in range(len(text)) if text.startswith(place, i)]
    entities = [Entity(text=place, type="LOC", canonical=f"loc:{place}", name=place, start=i, end=i + len(place),
                       confidence=0.9) for i in at]
    return EnrichedArticle(
        id=article_id, title=text.split("\n", 1)[0], language="ar", text=text, match_text=matching_form(text),
        ingested_at=NOW, dedup=DedupVerdict(status="unique", similarity=0.0, story_id=story), entities=entities,
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


# --- suppression that fails safe: places and death tolls ------------------------------------------------

def test_an_article_sharing_no_place_is_sent_as_a_new_alert_and_counted() -> None:
    """Grouping merged a Kharkiv strike and a Mali attack into one story: the Mali alert shares no place
    with the Kharkiv one, so it goes out as a new alert (no ``supersedes``: it replaces nothing), marked
    as a disagreement for the metric, and its places join the story's — a later Mali article is then
    judged against the story like any other."""
    kharkiv, kayes = "rasd:loc:kharkiv", "rasd:loc:kayes"
    first, other, later = run_story(
        candidate("k1", "high", places=(kharkiv, "Q212")),
        candidate("m1", "medium", places=(kayes, "Q912")),
        candidate("m2", "medium", places=(kayes,)),
    )
    assert (other.action, other.disagreement) == ("new", "disjoint")
    assert other.alert is not None and other.alert.supersedes is None and other.alert.article_id == "m1"
    assert other.state is not None and other.state.places == (kharkiv, "Q212", kayes, "Q912")
    assert other.state.alert_id == alert_id("m1") and other.state.severity == "high"
    assert (later.action, later.disagreement) == ("suppressed", None)
    assert first.disagreement is None


@pytest.mark.parametrize(("story_places", "places"), [
    pytest.param((ZAWIYA,), (), id="the-article-names-no-place"),
    pytest.param((), (ZAWIYA,), id="the-story-named-no-place"),
    pytest.param((), (), id="neither-names-a-place"),
])
def test_when_places_cannot_be_compared_the_article_is_sent(story_places: tuple[str, ...],
                                                           places: tuple[str, ...]) -> None:
    """Fail safe: with no place on either side nothing shows the article is about the story's event, so
    it is delivered (``unplaced``) rather than suppressed on the grouping's word alone — even at the same
    severity, where the old rule stayed quiet."""
    _, second = run_story(candidate("a", "high", places=story_places), candidate("b", "high", places=places))
    assert (second.action, second.disagreement) == ("new", "unplaced")
    assert second.alert is not None and second.alert.supersedes is None


def test_new_places_are_an_update() -> None:
    """Shelling in Zawiya spreads to Sabratha: an article naming both (one shared place, one new) is an
    update of the story's alert; a further article naming only those places is quiet."""
    sabratha = "rasd:loc:sabratha"
    _, spread, again = run_story(
        candidate("a", "medium"), candidate("b", "medium", places=(ZAWIYA, sabratha)),
        candidate("c", "medium", places=(sabratha, ZAWIYA)),
    )
    assert (spread.action, spread.disagreement) == ("update", None)
    assert spread.alert is not None and spread.alert.supersedes == alert_id("a")
    assert spread.state is not None and spread.state.places == (ZAWIYA, sabratha)
    assert again.action == "suppressed" and again.state == spread.state


@pytest.mark.parametrize(("before", "after", "expected"), [
    pytest.param(None, None, False, id="no-figure"),
    pytest.param(12, None, False, id="no-new-figure"),
    pytest.param(None, 4, False, id="first-figure-small"),
    pytest.param(None, 5, True, id="first-figure-5-dead"),
    pytest.param(4, 12, True, id="tripled"),
    pytest.param(12, 15, False, id="revised-by-3"),
    pytest.param(12, 18, True, id="one-and-a-half-times-and-6-more"),
    pytest.param(2, 4, False, id="doubled-but-only-2-more"),
    pytest.param(300, 320, False, id="large-toll-creeping"),
    pytest.param(300, 450, True, id="large-toll-jumps"),
    pytest.param(40, 12, False, id="lower-figure"),
])
def test_what_a_material_rise_in_the_death_toll_is(before: int | None, after: int | None, expected: bool) -> None:
    """A toll grows materially at 1.5x and at least 5 more: outlets revising a toll in small steps must
    not page the desk each time, a toll that jumps must."""
    assert casualties_grew(before, after) is expected


def test_a_growing_death_toll_is_an_update_and_a_small_revision_is_not() -> None:
    """Same place, same severity: 4 dead, then 12 (an update), then 14 (suppressed: 12 is what was sent),
    then 20 (an update over 12).  The story keeps the highest toll sent."""
    decisions = run_story(*(candidate(f"a{n}", "high", casualties=c) for n, c in enumerate((4, 12, 14, 20))))
    assert [d.action for d in decisions] == ["new", "update", "suppressed", "update"]
    assert [d.state.casualties for d in decisions if d.state] == [4, 12, 12, 20]
    last = decisions[-1].alert
    assert last is not None and last.supersedes == alert_id("a1") and last.casualties == 20


def test_a_replay_never_alerts_twice_whatever_its_places() -> None:
    """A redelivered article is recognised before its places are compared: an article that went out as
    a disagreement (or named no place) is not sent again on replay."""
    kayes = ("rasd:loc:kayes",)
    *_, last = run_story(candidate("a"), candidate("b", places=kayes), candidate("c", places=()))
    for again in (candidate("a"), candidate("b", places=kayes), candidate("c", places=()),
                  candidate("b", "high", places=("rasd:loc:gao",), casualties=90)):
        decision = decide_story(last.state, again)
        assert decision.action == "replay" and decision.alert is None and decision.state == last.state


def test_a_state_stored_before_places_and_tolls_still_reads() -> None:
    """States written by the previous version (no ``places``, no ``casualties``) stay readable; with no
    place recorded, the story's next article is sent (``unplaced``) and its places are remembered, so
    a restart on old state costs at most one extra alert per story and never a lost one."""
    old = {"alert_id": alert_id("a"), "severity": "high", "articles": ["a"]}
    state = StoryState.from_json(orjson.loads(orjson.dumps(old)))
    assert state == StoryState(alert_id("a"), "high", ("a",), (), None)
    assert decide_story(state, candidate("a", "high")).action == "replay"
    sent, quiet = run_story(candidate("b", "high"), candidate("c", "high"), state=state)
    assert (sent.action, sent.disagreement) == ("new", "unplaced")
    assert quiet.action == "suppressed"
    assert StoryState.from_json({**old, "places": None, "casualties": "12"}) == state


def test_story_places_are_bounded() -> None:
    """A long story keeps the latest :data:`MAX_STORY_PLACES` place ids (the JSON value stays small)."""
    alerts = [candidate(f"a{n}", places=(f"p{n}", f"p{n + 1}")) for n in range(MAX_STORY_PLACES + 10)]
    decisions = run_story(*alerts)
    assert all(d.action == "update" for d in decisions[1:])
    state = decisions[-1].state
    assert state is not None and len(state.places) == MAX_STORY_PLACES and state.places[-1] == f"p{len(alerts)}"


def test_stage_alerts_once_per_story_and_updates_on_escalation(lexicon: Lexicon) -> None:
    """Two outlets report the same clashes (medium): one alert.  A third reports deaths (high): an update
    keyed by the story, superseding the first.  A replay of the first: nothing.  Another story: its own."""
    stories: dict[str, object] = {}
    actions: list[str] = []
    stage = AlerterStage(lexicon, stories=stories, on_decision=lambda d: actions.append(d.action))
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


def test_stage_sends_an_article_of_another_place_and_reports_the_disagreement(lexicon: Lexicon) -> None:
    """Through the stage: clashes in Zawiya, then clashes in Misrata grouped into the same story.  The
    Misrata alert goes out keyed by the story, and the decision the agent counts carries ``disjoint``."""
    stories: dict[str, object] = {}
    seen: list[StoryDecision] = []
    stage = AlerterStage(lexicon, stories=stories, on_decision=seen.append)
    misrata = CLASHES.replace("الزاوية", "مصراتة")
    out = [stage.handle(article(c, i, "libya", place=p), now=NOW)
           for c, i, p in [(CLASHES, "a1", "الزاوية"), (misrata, "a2", "مصراتة")]]
    assert [len(o) for o in out] == [1, 1]
    assert [(d.action, d.disagreement) for d in seen] == [("new", None), ("new", "disjoint")]
    assert out[1][0].key == "libya" and out[1][0].value.supersedes is None  # type: ignore[attr-defined]
    assert StoryState.from_json(stories["libya"]) == seen[-1].state


def test_without_story_state_every_article_alerts(lexicon: Lexicon) -> None:
    """``stories=None`` (``rasd process``'s per-article view) emits each article's own alert."""
    stage = AlerterStage(lexicon)
    assert all(stage.handle(article(CLASHES, i, "zawiya"), now=NOW) for i in ("a1", "a2"))


# Port Sudan lies in Red Sea State, in Sudan; Rafah and Khan Younis in the Gaza Strip, in Palestine.
CONTAINERS = {
    "port-sudan": ("red-sea-state", "sudan"), "red-sea-state": ("sudan",),
    "rafah": ("gaza-strip", "palestine"), "khan-younis": ("gaza-strip", "palestine"), "gaza-strip": ("palestine",),
    "el-fasher": ("north-darfur", "sudan"), "north-darfur": ("sudan",),
}


def containers(place: str) -> tuple[str, ...]:
    return CONTAINERS.get(place, ())


@pytest.mark.parametrize(
    ("alerted", "named", "action"),
    [
        pytest.param(("port-sudan",), ("sudan", "port-sudan"), "suppressed", id="the-town's-country-adds-nothing"),
        pytest.param(("port-sudan",), ("sudan",), "suppressed", id="only-the-country-is-still-the-same-place"),
        pytest.param(("gaza-strip",), ("khan-younis",), "suppressed", id="a-town-of-the-region-alerted"),
        pytest.param(("khan-younis",), ("khan-younis", "rafah"), "update", id="a-second-town-of-the-region"),
        pytest.param(("sudan",), ("sudan", "el-fasher"), "update", id="a-town-of-a-country-alerted-is-news"),
        pytest.param(("port-sudan",), ("el-fasher",), "new", id="another-town-of-the-country-is-a-disagreement"),
    ],
)
def test_places_are_compared_through_what_contains_them(
    alerted: tuple[str, ...], named: tuple[str, ...], action: str
) -> None:
    """A later report that names the country of the town already alerted, or names only the country, shares
    a place and adds none: no update for a subscriber who already has the alert.  A town inside a region
    the story named is covered; a town inside a country it named is news (where in the country)."""
    decisions = [decide_story(None, candidate("a", places=alerted))]
    decisions.append(decide_story(decisions[0].state, candidate("b", places=named), containers))
    assert decisions[1].action == action


def test_a_place_named_only_in_the_dateline_is_not_an_alerts_place(lexicon: Lexicon) -> None:
    """"كييف" (where the report was filed) on a report of a strike on Kharkiv: a subscriber filtering on Kyiv
    must not get it, and a later report filed elsewhere must not look like a new place."""
    text = ("ضربة صاروخية روسية على خاركيف تقتل أربعة\nكييف\n"
            "قتل أربعة أشخاص في قصف صاروخي روسي استهدف مدينة خاركيف فجر اليوم وأصاب مبنى سكنيا.")
    kyiv, kharkiv = "Q1899", "rasd:loc:kharkiv"
    title_end = text.index("\n")
    entities = [
        Entity(text="خاركيف", type="LOC", canonical=kharkiv, name="Kharkiv", start=text.index("خاركيف"),
               end=text.index("خاركيف") + 6, confidence=1.0),
        Entity(text="كييف", type="LOC", canonical=kyiv, name="Kyiv", start=title_end + 1, end=title_end + 5,
               confidence=1.0),
    ]
    article = EnrichedArticle(
        id="k", title=text.split("\n")[0], language="ar", dateline="كييف", text=display_form(text),
        match_text=matching_form(display_form(text)), dedup=DedupVerdict(status="unique", similarity=0.0),
        entities=entities, ingested_at=NOW,
    )
    alert = detect(article, lexicon=lexicon, now=NOW)
    assert alert is not None
    places = [e.canonical for e in alert.entities if e.type == "LOC"]
    assert kharkiv in places and kyiv not in places


def test_a_capital_newly_named_is_a_government_not_new_ground() -> None:
    """"Washington urges restraint" in a follow-up of a strike in Port Sudan: the capital is inside a country,
    but it names a party to the story, not where the fighting spread."""
    washington = next(iter(capital_ids() & {"Q61"}))
    chain = {"port-sudan": ("sudan",), washington: ("usa",)}
    first = decide_story(None, candidate("a", places=("port-sudan",)))
    later = decide_story(first.state, candidate("b", places=("port-sudan", washington)), lambda p: chain.get(p, ()))
    assert later.action == "suppressed"
