"""Arabic extraction with the learned tagger: the tagger's entities, linked to the gazetteer, and the rule families
that win on cross-validation (``scripts/ner_cv.py``; figures in docs/entities.md).

:func:`extract` is what :func:`services.entities.core.extract_entities` returns for an Arabic article when it is
given a :class:`~services.entities.tagger.Tagger`.  The rules run as they do alone (their passes, in their order);
each of their entities is put in a *family* by the pass that found it:

* ``gazetteer`` — one-word gazetteer aliases (and the organisations named after a place: "جامعة طرابلس");
* ``gazetteer_multi`` — gazetteer aliases of two words or more ("قطاع غزة", "الأمم المتحدة");
* ``org`` — organisations from a head noun ("الهيئة العليا المستقلة للانتخابات", "اللواء 444");
* ``context`` — ministries and people after a title or role;
* ``people`` — people from a given name or a reporting verb;
* ``short`` — a person's family name repeating the full name.

:data:`SHIPPED` says, per family, whether its entities are dropped, fill only the tokens the tagger left empty
(``fill``), replace the tagger's entities they overlap (``override``), or replace them only where the tagger found
an entity of the same type there and fill elsewhere (``agree``: the tagger says whether, the rule where it ends
and which entity it is); and how probable an entity of the tagger's that the gazetteer does not know must be.  The
tagger's entities are linked: a span whose words (the first without a proclitic) are an alias of the gazetteer gets
the alias's id, name and type; any other gets a stable ``rasd:<type>:<slug of its words>`` id, as the rules give (the
same name always gets the same id, also from the rules: a person's id is built the same way), and its probability as
confidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Final, Literal

from schemas.models import Entity, EntityType
from services.entities.document import _ADJ, _ARABIC, CONF_VARIANT, _candidates, _Doc, _slug, _Span
from services.entities.gazetteer import Gazetteer
from services.entities.lexicon import _GIVEN_AR_ANY
from services.entities.linking import _gazetteer_pass
from services.entities.models import _entities
from services.entities.organisations import _org_pass
from services.entities.people import _people_pass, _short_form_pass
from services.entities.places import _filter_ambiguous
from services.entities.tagger import Tagger
from services.entities.titles import _context_pass

Mode = Literal["drop", "fill", "override", "agree"]
FAMILIES: Final = ("gazetteer", "gazetteer_multi", "org", "context", "people", "short")


@dataclass(frozen=True, slots=True)
class Policy:
    """How the rules' families join the tagger's entities, and the least probability an entity of the tagger's that
    the gazetteer does not know must have to be kept."""

    families: Mapping[str, Mode]
    min_prob: float = 0.0


# Chosen by 5-fold cross-validation on the ANERcorp train split (scripts/ner_cv.py --search; docs/entities.md): of the
# policies whose exact-match micro-F1 reaches 0.70, the best on overlap (same type) F1, since the corpus brackets
# names differently from Rasd's gazetteer ("أفريقيا" of "شمال أفريقيا", "غزة" of "قطاع غزة").
SHIPPED: Final = Policy({"gazetteer": "agree", "gazetteer_multi": "override", "org": "drop", "context": "drop",
                         "people": "fill", "short": "fill"}, 0.5)
TAGGER_ONLY: Final = Policy(dict.fromkeys(FAMILIES, "drop"), 0.0)
_TYPES: Final[dict[str, EntityType]] = {"PERSON": "PERSON", "ORG": "ORG", "LOC": "LOC"}


def rule_spans(doc: _Doc, gazetteer: Gazetteer, nisba: bool = False) -> list[tuple[str, _Span]]:
    """The rules' entities (as :func:`core.extract_entities` finds them, before sorting), each with its family."""
    spans: list[_Span] = []
    gaz_at, org_at, ctx_at, person_at, facilities = gazetteer.positions(doc.toks, nisba)
    _gazetteer_pass(doc, gazetteer, spans, nisba, gaz_at, facilities)
    ends = [len(spans)]
    _org_pass(doc, gazetteer, spans, org_at)
    ends.append(len(spans))
    _context_pass(doc, gazetteer, spans, ctx_at)
    ends.append(len(spans))
    _people_pass(doc, gazetteer, spans, person_at)
    ends.append(len(spans))
    _short_form_pass(doc, spans)
    ends.append(len(spans))
    family = {}
    start = 0
    for name, end in zip(("gazetteer", "org", "context", "people", "short"), ends, strict=True):
        for k in range(start, end):
            span = spans[k]
            family[id(span)] = "gazetteer_multi" if name == "gazetteer" and span.last > span.first else name
        start = end
    return [(family[id(s)], s) for s in _filter_ambiguous(doc, spans)]


@dataclass(frozen=True, slots=True)
class Tagged:
    """An entity of the tagger's: its span, whether the gazetteer knows it, the tagger's probability."""

    span: _Span
    linked: bool
    prob: float


def tagger_spans(doc: _Doc, gazetteer: Gazetteer, tagger: Tagger) -> list[Tagged]:
    """The tagger's entities in ``doc`` (:meth:`Tagger.spans`), linked to the gazetteer where their words are an alias
    of it; the probability is computed for the others only (a linked entity's is given as 1)."""
    out: list[Tagged] = []
    toks, index = doc.toks, gazetteer.index
    words: set[str] | None = None
    for first, last, label in tagger.spans(doc):
        etype = _TYPES[label]
        rest = tuple(toks[first + 1:last + 1])
        if not any(_ARABIC.match(t) for t in toks[first:last + 1]):
            continue  # Latin words: the rules' business (the model learned Arabic)
        alias = None
        cut = 0
        for stem, stem_cut in _candidates(toks[first]):
            known = index.get((stem, *rest))
            if known is not None and known.kind != _ADJ:
                alias, cut = known, stem_cut
                break
        start, end = doc.start(first), doc.end(last)
        if alias is not None:
            out.append(Tagged(_Span(first, last, start + cut, end, alias.etype, alias.canonical, alias.name,
                                    alias.conf, alias.kind), True, 1.0))
            continue
        prob = tagger.probability(first, last)
        if words is None:
            words = set(toks)
        cut = _proclitic(toks[first], words)
        key = " ".join((toks[first][cut:], *rest))
        out.append(Tagged(_Span(first, last, start + cut, end, etype, f"rasd:{etype.lower()}:{_slug(key)}",
                                doc.text[start + cut:end], round(prob, 2)), False, prob))
    return out


def _proclitic(tok: str, words: set[str]) -> int:
    """How many letters of ``tok`` are an attached proclitic (و ف ب ل ك ...) rather than part of the name: the
    shortest form that is definite ("والسودان" -> "السودان"), a given name, or a word of the article (``words``) on
    its own."""
    for stem, cut in _candidates(tok)[1:]:
        if cut and (stem.startswith("ال") or stem in _GIVEN_AR_ANY or stem in words):
            return cut
    return 0


def combine(doc: _Doc, rules: list[tuple[str, _Span]], tagged: list[Tagged], policy: Policy = SHIPPED) -> list[_Span]:
    """The tagger's entities and the rules' by ``policy`` (see the module's docstring), without overlaps."""
    owner = [False] * len(doc.toks)
    kept: list[_Span] = []

    def claim(span: _Span) -> None:
        if not any(owner[span.first:span.last + 1]):
            owner[span.first:span.last + 1] = [True] * (span.last - span.first + 1)
            kept.append(span)

    modes = policy.families
    kept_tagged = [t.span for t in tagged if t.linked or t.prob >= policy.min_prob]
    tagged_type: list[str | None] = [None] * len(doc.toks)
    for span in kept_tagged:
        tagged_type[span.first:span.last + 1] = [span.type] * (span.last - span.first + 1)
    for family, span in rules:  # overriding families first: their tokens are theirs
        mode = modes.get(family)
        if mode == "override" or (mode == "agree" and span.type in tagged_type[span.first:span.last + 1]):
            claim(span)
    for span in kept_tagged:
        claim(span)
    for family, span in rules:
        if modes.get(family) in ("fill", "agree"):
            claim(span)
    return kept


def link_place_skeletons(doc: _Doc, gazetteer: Gazetteer, spans: list[_Span]) -> None:
    """Places the tagger found and the gazetteer does not know ("أوفيرا"), linked to the one place of a country the
    article names whose consonant skeleton and vowels fit (:meth:`.variants.Variants.arabic`; measured in
    docs/entities.md, "Name variants").  In place; the span keeps its confidence, at most ``CONF_VARIANT``."""
    unknown = [k for k, s in enumerate(spans) if s.type == "LOC" and s.canonical.startswith("rasd:loc:")]
    if not unknown:
        return
    variants = gazetteer.variants()
    countries = {s.canonical for s in spans} & variants.countries
    if not countries:
        return
    for k in unknown:
        span = spans[k]
        entry = variants.arabic(doc.text[span.start:span.end], countries)
        if entry is not None:
            known = gazetteer.entries[entry]
            spans[k] = _Span(span.first, span.last, span.start, span.end, "LOC", known.id, known.name,
                             min(span.confidence, CONF_VARIANT))


def extract(text: str, match_text: str, gazetteer: Gazetteer, tagger: Tagger, nisba: bool = False,
            policy: Policy = SHIPPED) -> list[Entity]:
    """The entities of an Arabic article: the tagger's and the rules' as :data:`SHIPPED` combines them."""
    doc = _Doc(text, match_text)
    rules = rule_spans(doc, gazetteer, nisba)
    spans = combine(doc, rules, tagger_spans(doc, gazetteer, tagger), policy)
    if hasattr(gazetteer, "variants"):  # (tests pass stand-ins without variants)
        link_place_skeletons(doc, gazetteer, spans)
    spans.sort(key=attrgetter("start"))
    coords = getattr(gazetteer, "coords", None)  # (places' coordinates, when the gazetteer has them)
    return _entities(text, spans, coords) if coords is not None else _entities(text, spans)
