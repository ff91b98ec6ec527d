"""The alerter stage: enriched articles in, escalation alerts out (most articles raise none).

Two steps: :func:`~services.alerter.core.detect` decides whether the article itself warrants an
alert; :func:`~services.alerter.core.decide_story` then keeps one alert per story (an update when
severity rises, places are added or the death toll grows materially; a new alert when the article
shares no place with the story's alerts).  The story state lives in ``stories``, a mapping of story id → JSON
state: a plain dict offline and in tests, a changelog-backed Faust table in the stream (whose
input is re-keyed by story id, so one worker owns all the decisions of a story).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel

from schemas.models import EnrichedArticle
from services.common.stage import Output
from services.entities.shared import default_gazetteer

from .core import Containers, Lexicon, StoryDecision, StoryState, decide_story, detect

# The encoder writes an enriched article's fields in model order: ``{"id":…, …, "dedup":{…},"entities":[…]}``.
_HEAD, _TAIL = b'{"id":"', b"]}"
_DEDUP, _AFTER_DEDUP = b',"dedup":', b'},"entities":['


def _encoded_story(value: bytes) -> bytes | None:
    """The story id read from the ``dedup`` object alone, when ``value`` has the encoder's layout.

    Parsing the whole 22 KB article (~58 us) only to read one field is most of the route agent's
    work; this reads the small ``dedup`` object instead (~5 us).  In JSON text a quote inside a
    string is escaped, so ``,"dedup":`` can only be a key; it must occur exactly once (no nested
    or repeated ``dedup``), between the ``id`` that opens the object and the ``entities`` that close
    it.  Anything else (including a story id that is not a non-empty string) returns None: the
    caller then parses the whole value as before.

    Not checked: the JSON *between* the ends and ``dedup``.  A value with the layout at both ends and an
    intact ``dedup`` but broken elsewhere (say, a bad byte in the text) is routed by the story it names
    instead of its original key; the deciding agent dead-letters it all the same, with that key.
    """
    if not (value.startswith(_HEAD) and value.endswith(_TAIL)):
        return None
    at = value.find(_DEDUP)
    if at < 0 or value.rfind(_DEDUP) != at:  # exactly once (two searches: faster than bytes.count)
        return None
    start = at + len(_DEDUP)
    end = value.find(_AFTER_DEDUP, start)
    if end < 0:
        return None
    try:
        dedup = orjson.loads(value[start:end + 1])
    except orjson.JSONDecodeError:
        return None
    story = dedup.get("story_id") if isinstance(dedup, dict) else None
    return story.encode() if isinstance(story, str) and story else None


def story_key(value: bytes | None, key: bytes | None) -> bytes:
    """The story id of an encoded enriched article (its routing key), else the original key.

    Mirrors :attr:`schemas.models.DedupedArticle.story_id`: the deduplicator's story, else the
    article id.  Undecodable bytes keep their key: the deciding agent dead-letters them.
    """
    fast = _encoded_story(value) if value else None
    return fast if fast is not None else parsed_story_key(value, key)


def parsed_story_key(value: bytes | None, key: bytes | None) -> bytes:
    """:func:`story_key` by parsing the whole value: the definition, and the path for any other layout."""
    try:
        data = orjson.loads(value or b"")
        story = data.get("dedup", {}).get("story_id") or data.get("id")
    except (orjson.JSONDecodeError, AttributeError):
        story = None
    return story.encode() if isinstance(story, str) and story else (key or b"")


class AlerterStage:
    """Scores each article against the escalation lexicon and emits an alert when warranted."""

    name: str = "alerter"
    source: str = "enriched"
    targets: tuple[str, ...] = ("alerts",)
    input_model: type[BaseModel] = EnrichedArticle

    def __init__(
        self,
        lexicon: Lexicon,
        *,
        emit_low: bool = False,
        stories: MutableMapping[str, Any] | None = None,
        on_decision: Callable[[StoryDecision], None] | None = None,
        containers: Containers | None = None,
    ) -> None:
        """``stories=None`` disables story suppression: every article's own alert is emitted.
        ``on_decision`` sees each story decision (the agent counts actions and place disagreements).
        ``containers`` (a place id → the places containing it) lets the story decision see that a country
        and its town are one place (default: the packaged gazetteer's)."""
        self.lexicon = lexicon
        self.emit_low = emit_low
        self.stories = stories
        self.on_decision = on_decision
        self.containers = containers if containers is not None else default_gazetteer().containers

    def handle(self, message: BaseModel, *, now: float) -> Sequence[Output]:
        assert isinstance(message, EnrichedArticle)
        alert = detect(message, lexicon=self.lexicon, now=now, emit_low=self.emit_low)
        if alert is None:
            return []
        story = message.story_id
        if self.stories is not None:
            previous = StoryState.from_json(self.stories.get(story))
            decision = decide_story(previous, alert, self.containers)
            if decision.state is not None and decision.state != previous:
                self.stories[story] = decision.state.to_json()
            if self.on_decision is not None:
                self.on_decision(decision)
            alert = decision.alert
        return [] if alert is None else [Output("alerts", story, alert)]
