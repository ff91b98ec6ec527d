"""Pydantic v2 models: the single definition of every topic's message shape.

Each topic carries one model (see :mod:`schemas.topics`).  Models are immutable
(``frozen``) so a stage cannot mutate what it received; stages build the next
model with ``model_copy(update=...)`` or the constructor.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EntityType = Literal["PERSON", "ORG", "LOC"]
Severity = Literal["high", "medium", "low"]
BodyFormat = Literal["text", "html"]
Status = Literal["unique", "duplicate"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RawArticle(BaseModel):
    """What a newsroom feed publishes to ``articles.raw``.

    Unknown fields (for example an annotation's ``gold``) are ignored rather than
    rejected: feeds add fields all the time and the pipeline must not break on them.
    ``text`` is accepted as an alias of ``body``.  ``body_format`` says whether ``body`` is plain text or
    HTML; left out (or null), the normalizer decides from the body itself.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str | None = None
    url: str | None = None
    source: str | None = None
    title: str | None = None
    body: str
    published_at: str | None = None
    language: str | None = None
    body_format: BodyFormat | None = Field(
        default=None,
        description='"html" (tags and character references become text), "text" (used as it is), or null: '
        "the normalizer detects HTML markup",
    )

    @model_validator(mode="before")
    @classmethod
    def _text_is_body(cls, data: object) -> object:
        if isinstance(data, dict) and "body" not in data and "text" in data:
            data = {**data, "body": data["text"]}
        return data

    @model_validator(mode="after")
    def _body_not_blank(self) -> RawArticle:
        if not self.body.strip():
            raise ValueError("body is empty")
        return self


class NormalizedArticle(_Frozen):
    """Output of the normalizer on ``articles.normalized``.

    ``text`` is the display text (headline as its first line); ``match_text`` is
    the matching form of ``text`` with exactly the same length, so an offset found
    in one indexes the other.
    """

    id: str
    url: str | None = None
    source: str | None = None
    title: str
    language: str
    published_at: str | None = None
    dateline: str | None = None
    text: str
    match_text: str
    ingested_at: float = Field(description="Unix time the normalizer first saw the article")
    body_format: BodyFormat = Field(
        default="text", description="What the raw body was: plain text, or HTML the normalizer turned into text"
    )

    @model_validator(mode="after")
    def _forms_align(self) -> NormalizedArticle:
        if len(self.text) != len(self.match_text):
            raise ValueError("match_text must have the same length as text")
        return self


class DedupVerdict(_Frozen):
    """The deduplicator's decision about one article.

    ``story_id`` groups different articles about one real-world event (a copy
    carries its original's story); ``None`` only from producers that predate stories.
    """

    status: Status
    duplicate_of: str | None = None
    similarity: float = Field(ge=0.0, le=1.0)
    kind: Literal["exact", "near"] | None = None
    story_id: str | None = None


class DedupedArticle(NormalizedArticle):
    """An article on ``articles.unique`` or ``articles.duplicates``."""

    dedup: DedupVerdict

    @property
    def story_id(self) -> str:
        """The article's story: the deduplicator's, else the article itself starts one."""
        return self.dedup.story_id or self.id


class Entity(_Frozen):
    """One mention of a person, organisation or place in the display text."""

    text: str
    type: EntityType
    canonical: str = Field(description="Stable canonical id (Wikidata QID where known)")
    name: str = Field(description="Canonical English name")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0)
    lat: float | None = Field(default=None, ge=-90.0, le=90.0, description="A place's latitude (WGS84), when known")
    lon: float | None = Field(default=None, ge=-180.0, le=180.0, description="A place's longitude (WGS84), when known")


class EnrichedArticle(DedupedArticle):
    """An article on ``articles.enriched``: unique, with its entities."""

    entities: list[Entity]


class AlertMatch(_Frozen):
    """One lexicon expression found in the text that contributed to an alert."""

    term: str
    category: str
    weight: float
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class AlertEntity(_Frozen):
    """A person or place named in an alerting article (for consumers' filters)."""

    canonical: str
    name: str
    type: EntityType
    mentions: list[str] = Field(default_factory=list, description="How the article names it (e.g. in Arabic)")
    lat: float | None = Field(default=None, ge=-90.0, le=90.0, description="A place's latitude (WGS84), when known")
    lon: float | None = Field(default=None, ge=-180.0, le=180.0, description="A place's longitude (WGS84), when known")


class Alert(_Frozen):
    """A conflict-escalation alert on the ``alerts`` topic."""

    alert_id: str
    article_id: str
    story_id: str | None = None
    supersedes: str | None = Field(
        default=None,
        description="Alert id this one updates (same story: severity rose, places were added or the death toll"
        " grew materially)",
    )
    severity: Severity
    score: float
    casualties: int | None = Field(
        default=None,
        ge=0,
        description="Largest number of people reported killed (digits next to a casualty term), else null",
    )
    matches: list[AlertMatch]
    entities: list[AlertEntity]
    title: str
    snippet: str
    language: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    detected_at: float


class DeadLetter(_Frozen):
    """A message a stage could not process, on ``articles.dlq``.

    The original bytes travel base64-encoded so that nothing is lost, whatever
    they were; ``original_text`` is a best-effort UTF-8 rendering for people.
    """

    stage: str
    topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    error: str
    original_b64: str
    original_text: str
    timestamp: float


TOPIC_MODELS: dict[str, type[BaseModel]] = {
    "raw": RawArticle,
    "normalized": NormalizedArticle,
    "unique": DedupedArticle,
    "duplicates": DedupedArticle,
    "enriched": EnrichedArticle,
    "alerts": Alert,
    "dlq": DeadLetter,
}
