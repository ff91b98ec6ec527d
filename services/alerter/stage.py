"""The alerter stage: enriched articles in, escalation alerts out (most articles raise none).

Two steps: :func:`~services.alerter.core.detect` decides whether the article itself warrants an
alert; :func:`~services.alerter.core.decide_story` then keeps one alert per story (an update when
severity rises, places are added or the death toll grows materially; a new alert when the article
shares no place with the story's alerts).  The story state lives in ``stories``, a mapping of story id → JSON
state: a plain dict offline and in tests, a changelog-backed Faust table in the stream (whose
input, ``articles.enriched``, is keyed by story id, so one worker owns all the decisions of a story).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from pydantic import BaseModel

from schemas.models import EnrichedArticle
from services.common.stage import Output
from services.entities.shared import default_gazetteer

from .core import Containers, Lexicon, StoryDecision, StoryState, decide_story, detect


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
