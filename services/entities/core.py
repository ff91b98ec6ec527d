"""Entity extraction: the functional core of the entities stage (no Faust, no I/O per call).

:class:`Gazetteer` is built once at start-up from JSONL data files (one entity a line, see
``services/entities/data``) into an index over the *matching forms* of the aliases.
:func:`extract_entities` then makes one pass over the tokens of an article's matching text:

1. gazetteer aliases, longest match first, tolerant of attached Arabic proclitics
   (و ف ب ل ك and their combinations, لل = ل + ال);
   (a place directly inside a facility's name, "محطة دنيبرو", is not a place; "جامعة طرابلس" is an ORG);
2. organisations outside the gazetteer from a head noun and a name-like continuation ("الهيئة العليا
   المستقلة للانتخابات", "خدمة حرس الحدود الأذربيجانية", a quoted "اللواء 444 قتال", "State Emergency
   Service", "Ministry of Foreign Affairs"), and ministries ("وزارة الدفاع الأرمينية", "الخارجية الروسية");
3. people not in the gazetteer, found from a title or role ("رئيس الوزراء الأرميني نيكول
   باشينيان", "Foreign Minister Sergey Lavrov");
4. people without a title: a known given name ("أيوب الكعبي", "Ben White") or a reporting verb with
   evidence of a name ("وقال نوفل بوعزيزي، إن ... وأكد بوعزيزي", "X Y said"), from the word lists in
   ``data/names`` (see :mod:`services.entities.names`);
5. short-form repetition: a person's family name later in the article links to the full name.

Offsets found in ``match_text`` index ``text`` unchanged (the two forms have the same length),
and ``text[start:end] == entity.text`` always holds.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Mapping
from functools import lru_cache
from itertools import compress, repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import BaseModel

from schemas.models import Entity
from services.entities.document import (
    _ARABIC,
    _LAM_ARTICLE,
    _PROCLITICS,
    CONF_CONTEXT_ALIAS,
    CONF_GIVEN_NAME,
    CONF_MINISTRY,
    CONF_MULTI,
    CONF_NISBA,
    CONF_ORG_PATTERN,
    CONF_REPORTED,
    CONF_SHORT_FORM,
    CONF_SINGLE,
    CONF_TITLE_PERSON,
    CONF_VARIANT,
    _any_in,
    _candidates,
    _capitalised,
    _claim,
    _Doc,
    _indices,
    _sentence_start,
    _slug,
    _Span,
    _strip,
    _title_case_line,
)
from services.entities.gazetteer import (
    DATA_DIR,
    ENTITY_TYPES,
    KB_DIR,
    Gazetteer,
    GazetteerEntry,
    GazetteerError,
)
from services.entities.lexicon import (
    _AFTER_NAME_AR,
    _AMBIGUOUS_TITLES,
    _BARE_MINISTRIES,
    _BASM,
    _EN_FACILITY_TAILS,
    _EN_NOT_NAMES,
    _EN_ORG_NOUNS,
    _EN_PARTICLES,
    _EN_STOP,
    _EN_THING_NOUNS,
    _EN_TITLES,
    _FACILITY_HEADS,
    _GIVEN_AR_ANY,
    _MINISTRIES,
    _NAME_END_MARKS,
    _NAME_JOINERS,
    _NAME_PREFIXES,
    _NAME_SUFFIXES,
    _NAMES,
    _ORDINALS,
    _ORG_HEADS,
    _PERSON_NAME_OF,
    _QUOTES,
    _REPORT_AR,
    _REPORT_EN,
    _STOP,
    _STOP_DISPLAY,
    _TITLE_HEADS,
    _TITLE_LINKS,
    _UNIT_HEADS,
    _UNIT_KINDS,
)
from services.entities.linking import _gazetteer_pass, _variant_pass
from services.entities.places import _filter_ambiguous

if TYPE_CHECKING:
    from services.entities.tagger import Tagger

__all__ = [
    "CONF_CONTEXT_ALIAS", "CONF_GIVEN_NAME", "CONF_MINISTRY", "CONF_MULTI", "CONF_NISBA", "CONF_ORG_PATTERN",
    "CONF_REPORTED", "CONF_SHORT_FORM", "CONF_SINGLE", "CONF_TITLE_PERSON", "CONF_VARIANT", "DATA_DIR", "ENTITY_TYPES",
    "KB_DIR", "Gazetteer", "GazetteerEntry", "GazetteerError", "construct", "extract_entities",
]


# ---------------------------------------------------------------------------------------------
# Context lexicons (matching forms: alef/hamza unified, ة -> ه, ى -> ي, Latin lower-case).


def extract_entities(text: str, match_text: str, *, gazetteer: Gazetteer, language: str = "ar",
                     nisba: bool = False, tagger: Tagger | None = None) -> list[Entity]:
    """Named people, organisations and places in ``text``, sorted by start, without overlaps.

    ``match_text`` must be ``matching_form(text)`` (same length). ``nisba=True`` also reports
    nationality adjectives ("الأرمينية", "Armenian") as mentions of their country.  With a ``tagger``, an Arabic
    text gets the learned tagger's entities and the rules that win on cross-validation (:mod:`.hybrid`).
    """
    if len(text) != len(match_text):
        raise ValueError("match_text must have the same length as text")
    if tagger is not None and language == "ar":
        from services.entities.hybrid import extract  # (hybrid imports this module)

        return extract(text, match_text, gazetteer, tagger, nisba)
    doc = _Doc(text, match_text)
    spans: list[_Span] = []
    # The words (classified once, cached across articles) decide which positions deserve a closer look.
    gaz_at, org_at, ctx_at, person_at, facilities = gazetteer.positions(doc.toks, nisba)
    _gazetteer_pass(doc, gazetteer, spans, nisba, gaz_at, facilities)
    if language != "ar":
        _variant_pass(doc, gazetteer, spans)
    _org_pass(doc, gazetteer, spans, org_at)
    _context_pass(doc, gazetteer, spans, ctx_at)
    _people_pass(doc, gazetteer, spans, person_at)
    _short_form_pass(doc, spans)
    kept = _filter_ambiguous(doc, spans)
    kept.sort(key=attrgetter("start"))
    return _entities(text, kept, gazetteer.coords)


_new_object = object.__new__
_set_slot = object.__setattr__
_Model = TypeVar("_Model", bound=BaseModel)


def construct(model: type[_Model], values: dict[str, Any], fields_set: set[str] | None = None) -> _Model:
    """``model.model_construct(fields_set, **values)`` for values already known to be valid, built as it builds a
    model (its four slots set directly) without its Python loop over the fields: 0.5 us instead of 2.5 us (0.9 us
    validated).  As with ``model_construct``, a ``fields_set`` given is used as it is (shared by the models built with
    it: they are frozen and have every field set, so nothing adds to it; ``model_copy`` copies it first).

    ``values`` must hold every field of ``model`` with a value of its type; only for trusted internal paths (the
    stage's input was validated by its edge, the entities are built from the validated gazetteer and the rules'
    constants): the tests validate what is built this way against the models.
    """
    instance = _new_object(model)
    _set_slot(instance, "__dict__", values)
    _set_slot(instance, "__pydantic_fields_set__", set(values) if fields_set is None else fields_set)
    _set_slot(instance, "__pydantic_extra__", None)
    _set_slot(instance, "__pydantic_private__", None)
    return instance


_ENTITY_FIELDS: Final = set(Entity.model_fields)


def _slot_setter(model: type[BaseModel], name: str) -> Any:
    """The ``__set__`` of the descriptor behind attribute ``name`` of ``model``'s instances (a slot of BaseModel)."""
    return next(klass.__dict__[name] for klass in model.__mro__ if name in klass.__dict__).__set__


_SET_VALUES: Final = _slot_setter(Entity, "__dict__")
_SET_FIELDS_SET: Final = _slot_setter(Entity, "__pydantic_fields_set__")
_SET_EXTRA: Final = _slot_setter(Entity, "__pydantic_extra__")
_SET_PRIVATE: Final = _slot_setter(Entity, "__pydantic_private__")
_SINK: Final[deque[object]] = deque(maxlen=0)  # extend() runs an iterator to its end, keeping nothing
_NO_COORDS: Final[dict[str, tuple[float, float]]] = {}
_NOWHERE: Final = (None, None)


def _entities(text: str, spans: list[_Span], coords: Mapping[str, tuple[float, float]] | None = None) -> list[Entity]:
    """The :class:`Entity` models of ``spans`` (valid by construction: types from the validated gazetteer or the
    rules' literals, offsets into the text, confidences from the constants above).

    Built as :func:`construct` builds one, but a slot at a time for all of them: ``map`` calls the slots'
    descriptors from C, with no Python frame and no attribute lookup by name per entity (57 -> 41 us for an article
    of 72 entities).  ``coords`` (canonical id -> (lat, lon)) gives the places their coordinates.
    """
    n = len(spans)
    where = (coords or _NO_COORDS).get
    values = [{"text": text[s.start:s.end], "type": s.type, "canonical": s.canonical, "name": s.name,
               "start": s.start, "end": s.end, "confidence": s.confidence,
               "lat": (at := where(s.canonical, _NOWHERE))[0], "lon": at[1]} for s in spans]
    models: list[Entity] = list(map(_new_object, repeat(Entity, n)))
    _SINK.extend(map(_SET_VALUES, models, values))
    _SINK.extend(map(_SET_FIELDS_SET, models, repeat(_ENTITY_FIELDS, n)))
    _SINK.extend(map(_SET_EXTRA, models, repeat(None, n)))
    _SINK.extend(map(_SET_PRIVATE, models, repeat(None, n)))
    return models


def _context_pass(doc: _Doc, gaz: Gazetteer, spans: list[_Span], positions: list[int]) -> None:
    toks, owner = doc.toks, doc.owner
    after = 0
    for i in positions:
        if i < after or owner[i] >= 0:
            continue
        may_ministry, title = _context_opener(toks[i])
        end = _ministry(doc, gaz, spans, i) if may_ministry else None
        if end is None:
            if title == _TITLE_AR:
                end = _arabic_titled_person(doc, gaz, spans, i)
            elif title == _TITLE_EN:
                end = _english_titled_person(doc, spans, i)
        if end is not None:
            after = end + 1


_TITLE_AR: Final = 1
_TITLE_EN: Final = 2


@lru_cache(maxsize=1 << 15)
def _context_opener(tok: str) -> tuple[bool, int]:
    """(may token ``tok`` open a ministry?, may it open a titled person: _TITLE_AR, _TITLE_EN or 0), from the
    word alone: the first tests of :func:`_ministry` and :func:`_arabic_titled_person` (cached per token)."""
    ministry = "وزاره" in _strip(tok) or tok in _MINISTRIES or tok in _BARE_MINISTRIES
    if _ARABIC.match(tok):
        return ministry, _TITLE_AR if _any_in(tok, _TITLE_HEADS) else 0
    return ministry, _TITLE_EN if tok in _EN_TITLES else 0


def _ministry(doc: _Doc, gaz: Gazetteer, spans: list[_Span], i: int) -> int | None:
    """"وزارة الدفاع [الأرمينية]" or "الخارجية الروسية" (a feminine nisba: the ministry itself)."""
    toks, n = doc.toks, len(doc.toks)
    stems = _strip(toks[i])
    cut = 0
    if "وزاره" in stems:
        cut = len(toks[i]) - len("وزاره") if toks[i].endswith("وزاره") else 0
        if i + 1 >= n or doc.owner[i + 1] >= 0 or not doc.joined(i) or toks[i + 1] not in _MINISTRIES:
            return None
        last, field_name = i + 1, _MINISTRIES[toks[i + 1]]
    elif (toks[i] in _MINISTRIES and i > 0 and _any_in(toks[i - 1], _BASM)) or (
            toks[i] in _BARE_MINISTRIES and i + 1 < n and doc.joined(i) and toks[i + 1].endswith("يه")
            and toks[i + 1] in gaz.nisba and (i == 0 or not _any_in(toks[i - 1], _TITLE_HEADS))):
        last, field_name = i, _MINISTRIES[toks[i]]
    else:
        return None
    country: GazetteerEntry | None = None
    if last + 1 < n and doc.owner[last + 1] < 0 and doc.joined(last) and toks[last + 1].endswith("يه") \
            and toks[last + 1] in gaz.nisba:
        country = gaz.entries[gaz.nisba[toks[last + 1]]]
        last += 1
    name = f"Ministry of {field_name}" + (f" of {country.name}" if country else "")
    canonical = "rasd:org:" + _slug(name)
    _claim(doc, spans, _Span(i, last, doc.start(i) + cut, doc.end(last), "ORG", canonical, name,
                             CONF_MINISTRY))
    return last


def _arabic_name_token(tok: str, gaz: Gazetteer, word: str = "") -> bool:
    return word not in _STOP_DISPLAY and _arabic_word(tok) and tok not in gaz.nisba


@lru_cache(maxsize=1 << 16)
def _arabic_word(tok: str) -> bool:
    """An Arabic word of two letters or more, not a number and not a function word (cached: tokens repeat)."""
    return len(tok) >= 2 and not _any_in(tok, _STOP) and not tok.isdigit() and bool(_ARABIC.match(tok))


def _arabic_titled_person(doc: _Doc, gaz: Gazetteer, spans: list[_Span], i: int) -> int | None:
    toks, n = doc.toks, len(doc.toks)
    if not _any_in(toks[i], _TITLE_HEADS):
        return None
    # Skip the rest of the title: definite words, links, numbers, known places and bodies.
    j = i + 1
    skipped = 0
    while j < n and skipped < 8 and doc.joined(j - 1):
        tok = toks[j]
        if doc.owner[j] >= 0:
            if spans[doc.owner[j]].type == "PERSON":
                return None  # the title belongs to a known person
            j = spans[doc.owner[j]].last + 1
        elif tok in _TITLE_LINKS or tok in _TITLE_HEADS or tok.isdigit():
            j += 1
        elif tok in _STOP:
            return None
        elif doc.word(j).startswith(("ال", "لل")):  # the display form: "أليكسي" is not definite
            j += 1
        else:
            break
        skipped += 1
    if j >= n or not doc.joined(j - 1):
        return None
    if j == i + 1 and toks[i] in _AMBIGUOUS_TITLES and _given_cut(toks[j], _GIVEN_AR_ANY) \
            is None:
        return None  # "الفريق قدم أداء جيدا": the team, not a general
    last = _arabic_name_end(doc, gaz, j)
    if last is None:
        return None
    _claim_person(doc, spans, j, last, 0, CONF_TITLE_PERSON)
    return last


def _claim_person(doc: _Doc, spans: list[_Span], first: int, last: int, cut: int, confidence: float) -> None:
    """A person outside the gazetteer at tokens first..last (the first without its ``cut`` proclitic letters)."""
    start = doc.start(first) + cut
    key = " ".join([doc.toks[first][cut:], *doc.toks[first + 1:last + 1]])
    _claim(doc, spans, _Span(first, last, start, doc.end(last), "PERSON", "rasd:person:" + _slug(key),
                             doc.text[start:doc.end(last)], confidence))


def _arabic_name_end(doc: _Doc, gaz: Gazetteer, j: int) -> int | None:
    """The last token of a two- or three-unit Arabic name starting at token j, or None."""
    toks, n = doc.toks, len(doc.toks)
    # Collect up to three name units: "عبد الحميد" and "بن حمد" are one unit each.
    first = j
    units = 0
    k = j
    last = -1
    compound = False
    joiner = False  # بن/آل/ولد: "علي بن أحمد الكواري" may take a definite third unit
    text, cum, owner, nisba = doc.text, doc._cum, doc.owner, gaz.nisba
    while k < n and units < 3:
        tok = toks[k]
        word = text[cum[2 * k + 1]:cum[2 * k + 2]]  # doc.word(k)
        if owner[k] >= 0 or word in _STOP_DISPLAY or not _arabic_word(tok) or tok in nisba or word.startswith("لل"):
            break  # "للموسيقى": ل + article, a genitive, never part of a name
        if units > 0 and tok in _NAME_SUFFIXES:  # "بهي الدين", "عبد الله": part of the last unit
            last = k
            if k + 1 >= n or not doc.joined(k):
                break
            k += 1
            continue
        definite = word.startswith("ال")
        if units == 0 and (definite or tok in _TITLE_LINKS or tok in _TITLE_HEADS):
            return None
        if units > 0 and (tok in _TITLE_HEADS or tok in _TITLE_LINKS or word.startswith("و")):
            break  # "أسامة عسكر وقائد ...": a conjunction ends the name
        if definite and units >= 2 and not joiner:
            break  # "مايكل كوريلا المرحلة": a definite noun after two names is not a name
        if tok in _NAME_PREFIXES or tok in _NAME_JOINERS:
            if k + 1 >= n or not doc.joined(k) or not _arabic_name_token(toks[k + 1], gaz, doc.word(k + 1)) \
                    or doc.owner[k + 1] >= 0:
                break
            compound = True
            joiner = joiner or tok in _NAME_JOINERS
            k += 1
            # "إلياس بن الصغير": a definite name after بن/آل/ولد ends the name like an "ال" family name.
            definite = definite or (tok in _NAME_JOINERS and doc.word(k).startswith("ال"))
        units += 1
        last = k
        if definite or k + 1 >= n or not doc.joined(k):
            break  # an "ال" family name ends the name
        k += 1
    if units < 2:
        return None
    if units == 3 and not compound:
        nxt = last + 1
        verb_like = toks[last][:1] in ("ي", "ت", "ن") and len(toks[last]) >= 4
        # A third name needs a clear end after it: punctuation, a function word or a verb.
        boundary = (nxt >= n or not doc.joined(last) or _any_in(toks[nxt], _STOP)
                    or toks[nxt][:1] in ("ي", "ت") or doc.owner[nxt] >= 0)
        if verb_like or not boundary:
            last = _unit_end(toks, first, 2)
    return last


def _unit_end(toks: list[str], first: int, units: int) -> int:
    k = first
    for u in range(units):
        if toks[k] in _NAME_PREFIXES or toks[k] in _NAME_JOINERS:
            k += 1
        if u < units - 1:
            k += 1
    return k


def _english_titled_person(doc: _Doc, spans: list[_Span], i: int) -> int | None:
    toks, n = doc.toks, len(doc.toks)
    j = i + 1
    # "Secretary of State Antony Blinken", "Prime Minister Rishi Sunak": skip capitalised title words.
    while j < n and doc.joined(j - 1) and (toks[j] in _EN_TITLES or toks[j] in ("of", "state", "foreign",
                                                                                 "defence", "defense")):
        j += 1
    first = j
    k = j
    last = -1
    words = 0
    while k < n and words < 4 and doc.owner[k] < 0:
        display = doc.word(k)
        if toks[k] in _EN_PARTICLES and k + 1 < n and doc.joined(k):
            k += 1
            continue
        if not _capitalised(display) or toks[k] in _EN_STOP or toks[k] in _EN_TITLES or display.isupper():
            break
        words += 1
        last = k
        if k + 1 >= n or not doc.joined(k):
            break
        k += 1
    if words < 2 or words > 3 or last < first:
        return None
    span = _Span(first, last, doc.start(first), doc.end(last), "PERSON",
                 "rasd:person:" + _slug(" ".join(toks[first:last + 1])),
                 doc.text[doc.start(first):doc.end(last)], CONF_TITLE_PERSON)
    _claim(doc, spans, span)
    return last


# ---------------------------------------------------------------------------------------------
# People from reporting verbs and given names (no title needed).


_OPENS_AR_REPORT: Final = 1
_OPENS_AR_GIVEN: Final = 2
_OPENS_EN_REPORT: Final = 3
_OPENS_EN_NAME: Final = 4


@lru_cache(maxsize=1 << 15)
def _people_opener(tok: str) -> int:
    """How token ``tok`` may open a person in the people pass (cached: tokens repeat)."""
    if _ARABIC.match(tok):
        return _OPENS_AR_GIVEN if _strip(tok).isdisjoint(_REPORT_AR) else _OPENS_AR_REPORT
    return _OPENS_EN_REPORT if tok in _REPORT_EN else _OPENS_EN_NAME


def _people_pass(doc: _Doc, gaz: Gazetteer, spans: list[_Span], positions: list[int]) -> None:
    """People without a title: after a reporting verb ("وقال فلان فلان، إن") or opened by a known given name."""
    toks, owner, n = doc.toks, doc.owner, len(doc.toks)
    after = 0
    headlines: dict[int, bool] = {}  # line start -> Title Case?
    for i in positions:
        if i < after or owner[i] >= 0:
            continue
        tok = toks[i]
        end: int | None = None
        kind = _people_opener(tok)
        if kind == _OPENS_AR_REPORT:
            if i + 1 < n and doc.joined(i) and owner[i + 1] < 0 and not _never_speaker(toks[i + 1]):
                end = _arabic_reported_person(doc, gaz, spans, i + 1)
        elif kind == _OPENS_AR_GIVEN:
            end = _arabic_given_person(doc, gaz, spans, i, _NAMES.given_ar)
        elif kind == _OPENS_EN_REPORT:
            end = _english_reported_person(doc, spans, i, headlines)
        elif _capitalised(doc.word(i)) and not _title_case_line(doc, i, headlines):
            last = _en_run(doc, i)
            prev = i - 1
            if last is not None and not (prev >= 0 and doc.joined(prev) and _capitalised(doc.word(prev))
                                         and not _sentence_start(doc, prev)):
                _claim_person(doc, spans, i, last, 0, CONF_GIVEN_NAME)
                end = last
        if end is not None:
            after = end + 1


@lru_cache(maxsize=1 << 16)
def _given_cut(tok: str, given: frozenset[str]) -> int | None:
    """The proclitic length before a given name in ``tok`` ("لنجيب" -> 1), or None (cached: ``given`` is one of
    a few module-level sets)."""
    return next((cut for stem, cut in _candidates(tok) if stem in given), None)


def _plain_name_tokens(doc: _Doc, first: int, last: int) -> bool:
    """No token after the first is a common news word, a title word or an imperfect verb ("يطالب")."""
    for k in range(first + 1, last + 1):
        tok = doc.toks[k]
        if _any_in(tok, _NAMES.common_ar) or tok in _TITLE_HEADS:
            return False
        if doc.word(k).startswith("ال") and tok.endswith("يه"):  # "العسكرية": an adjective, not a family name
            return False
        if k == first + 1 and tok[:1] in ("ي", "ت", "ن") and len(tok) >= 4 and tok not in _NAMES.given_ar:
            return False
    return True


def _arabic_given_person(doc: _Doc, gaz: Gazetteer, spans: list[_Span], i: int,
                         given: frozenset[str]) -> int | None:
    """"أيوب الكعبي", "لنجيب محفوظ": a given name and one or two name words."""
    cut = _given_cut(doc.toks[i], given)
    if cut is None:
        return None
    if i > 0 and doc.joined(i - 1) and cut == 0:
        prev = doc.toks[i - 1]
        # Part of a longer name or of a facility/organisation's name: "عبد", "بن", "شارع", "جائزة".
        if doc.owner[i - 1] >= 0 or prev in _NAME_PREFIXES or prev in _NAME_JOINERS or prev in _FACILITY_HEADS \
                or prev in _PERSON_NAME_OF or prev in given:
            # Skip the whole name, so that its second given name ("قاعدة محمد نجيب") does not open one.
            return _arabic_name_end(doc, gaz, i)
    last = _arabic_name_end(doc, gaz, i)
    if last is None or not _plain_name_tokens(doc, i, last):
        return None
    _claim_person(doc, spans, i, last, cut, CONF_GIVEN_NAME)
    return last


@lru_cache(maxsize=1 << 16)
def _never_speaker(tok: str) -> bool:
    """Does :func:`_arabic_reported_person` reject ``tok`` on the word alone (cached: verbs are frequent)?  Not a
    given name, and a common word or a title, or a word :func:`_arabic_name_end` cannot start a name with."""
    return _given_cut(tok, _NAMES.given_ar) is None and (
        _any_in(tok, _NAMES.common_ar) or tok in _TITLE_HEADS or tok in _TITLE_LINKS or not _arabic_word(tok))


def _arabic_reported_person(doc: _Doc, gaz: Gazetteer, spans: list[_Span], j: int) -> int | None:
    """The subject of a reporting verb: a given name (even one that is also a word: "حسن", "سلام"), or an
    unknown two-word name that ends at a clear boundary and whose last word recurs in the article."""
    found = _arabic_given_person(doc, gaz, spans, j, _NAMES.given_ar)
    if found is not None:
        return found
    toks = doc.toks
    if _any_in(toks[j], _NAMES.common_ar) or toks[j] in _TITLE_HEADS:
        return None
    last = _arabic_name_end(doc, gaz, j)
    if last is None or not _plain_name_tokens(doc, j, last) or not _name_boundary(doc, last):
        return None
    surname = toks[last]
    if _given_cut(toks[j], _NAMES.given_ar_common) is None and (
            len(surname) < 3 or not _recurs(doc, surname)):
        return None  # neither a given name ("سلام فياض، إن") nor the family name again later
    _claim_person(doc, spans, j, last, 0, CONF_REPORTED)
    return last


def _recurs(doc: _Doc, stem: str) -> bool:
    """Are two tokens or more ``stem``, bare or with proclitics?  Only tokens ending like it can be, found from the
    occurrences of that ending in the text (one scan in C, as a ``str.count`` before it would be)."""
    tail = stem[2:] if stem.startswith("ال") else stem  # "للأمم" ends with "أمم", not with "الأمم"
    return sum(1 for t in _tokens_ending_with(doc, tail) if stem in _strip(t)) >= 2


def _tokens_ending_with(doc: _Doc, tail: str) -> list[str]:
    """``[t for t in doc.toks if t.endswith(tail)]`` (``tail`` not empty), from the occurrences of ``tail`` in the
    text: each such token holds one that ends where the token ends.  ``str.find`` scans in C, and visits every
    occurrence (overlapping ones too): ~7 us for an article, where ``str.endswith`` on its 500 tokens costs ~29 us."""
    match, cum, toks = doc.match, doc._cum, doc.toks
    size = len(tail)
    found = []
    at = match.find(tail)
    while at >= 0:
        part = bisect_right(cum, at) - 1  # parts[part] holds character ``at``: token part // 2 when ``part`` is odd
        if part & 1 and cum[part + 1] == at + size:
            found.append(toks[part >> 1])
        at = match.find(tail, at + 1)
    return found


def _name_boundary(doc: _Doc, last: int) -> bool:
    """Does a reported speaker's name clearly end after token ``last`` (punctuation, إن/أن/في, "لوكالة")?"""
    nxt = last + 1
    if nxt >= len(doc.toks) or not _NAME_END_MARKS.isdisjoint(doc.gap_after(last)):
        return True
    return _any_in(doc.toks[nxt], _AFTER_NAME_AR) or (doc.toks[nxt][:1] == "ل" and len(doc.toks[nxt]) >= 4)


def _en_name_word(doc: _Doc, k: int) -> bool:
    word = doc.word(k)
    if doc.owner[k] >= 0 or not _capitalised(word) or doc.toks[k] in _EN_NOT_NAMES:
        return False
    return not word.isupper() or (len(word) == 1 and doc.gap_after(k) == "'")  # the O of O'Brien


def _en_run(doc: _Doc, i: int) -> int | None:
    """The last token of a 2-3 word capitalised name starting at token i ("Ben White", "Mandeep O'Brien")."""
    toks, n = doc.toks, len(doc.toks)
    k, last, words = i, -1, 0
    while k < n and words < 4:
        if toks[k] in _EN_PARTICLES and words > 0 and k + 1 < n and doc.joined(k):
            k += 1
            continue
        if not _en_name_word(doc, k):
            break
        if toks[k] in _EN_ORG_NOUNS or toks[k] in _EN_FACILITY_TAILS or toks[k] in _EN_THING_NOUNS:
            return None  # "Ben Gurion Airport", "Elizabeth Line", "Thomas Fire": a facility, a body, a thing
        if not (len(doc.word(k)) == 1 and doc.gap_after(k) == "'"):
            words += 1
        last = k
        if k + 1 >= n or not doc.joined(k):
            break
        k += 1
    if not 2 <= words <= 3:
        return None
    nxt = last + 1
    # "George Washington University": part of an organisation's or a facility's name.
    if nxt < n and doc.joined(last) and (toks[nxt] in _EN_ORG_NOUNS or toks[nxt] in _EN_FACILITY_TAILS) \
            and _capitalised(doc.word(nxt)):
        return None
    return last


def _english_reported_person(doc: _Doc, spans: list[_Span], i: int, headlines: dict[int, bool]) -> int | None:
    """"X Y said", "said X Y", "according to X Y" with a 2-3 word capitalised name."""
    toks, n = doc.toks, len(doc.toks)
    if _title_case_line(doc, i, headlines):
        return None
    if toks[i] == "according":
        if i + 2 < n and toks[i + 1] == "to" and doc.joined(i) and doc.joined(i + 1):
            last = _en_run(doc, i + 2)
            if last is not None:
                _claim_person(doc, spans, i + 2, last, 0, CONF_REPORTED)
                return last
        return None
    # Before the verb: "... Mandeep O'Brien, said", "Kai Havertz said".
    k = i - 1
    if k >= 0 and doc.gap_after(k) in (" ", ", "):
        first = k
        while first > 0 and i - first < 5 and doc.joined(first - 1) and (
                _en_name_word(doc, first - 1) or (toks[first - 1] in _EN_PARTICLES and first - 1 > 0)):
            first -= 1
        while first < k and toks[first] in _EN_PARTICLES:
            first += 1
        prev = first - 1
        clean_left = prev < 0 or not doc.joined(prev) or not _capitalised(doc.word(prev))
        if clean_left and _en_name_word(doc, first) and _en_run(doc, first) == k:
            _claim_person(doc, spans, first, k, 0, CONF_REPORTED)
            return i
    # After the verb: "said Mikhail Podolyak, an adviser".
    j = i + 1
    if j < n and doc.joined(i):
        last = _en_run(doc, j)
        if last is not None and (last + 1 >= n or not doc.joined(last) or not _capitalised(doc.word(last + 1))):
            _claim_person(doc, spans, j, last, 0, CONF_REPORTED)
            return last
    return None


def _short_form_pass(doc: _Doc, spans: list[_Span]) -> None:
    """A multi-word person's last name, alone elsewhere in the article, is the same person."""
    short: dict[str, tuple[int, str]] = {}  # family name -> (span index, prefix: "عبد" of "عبد المنعم")
    for idx, s in enumerate(spans):  # (a Python loop: 1.4 us for 70 spans, a map of attrgetter and __eq__ 4.1 us)
        if s.type == "PERSON" and s.last > s.first:
            surname = doc.toks[s.last]
            prefix = doc.toks[s.last - 1] if s.last - 1 > s.first and doc.toks[s.last - 1] in _NAME_PREFIXES else ""
            if len(surname) >= 3 and surname not in _STOP and surname not in _EN_STOP:
                short.setdefault(surname, (idx, prefix))
    if not short:
        return
    owner, toks = doc.owner, doc.toks
    forms = {p + surname for surname in short for p in ("", *_PROCLITICS)}
    forms |= {p + surname[2:] for surname in short if surname.startswith("ال") for p in _LAM_ARTICLE}
    for i in list(compress(_indices(len(toks)), map(forms.__contains__, toks))):
        if owner[i] >= 0:
            continue
        for stem, cut in _candidates(toks[i]):
            found = short.get(stem)
            if found is None:
                continue
            if not _ARABIC.match(stem) and (cut or not _capitalised(doc.word(i))):
                continue
            full, prefix = spans[found[0]], found[1]
            first, start = i, doc.start(i) + cut
            if prefix:  # "عبد المنعم" after "كمال عبد المنعم": both words, or no short form
                if cut or i == 0 or not doc.joined(i - 1) or owner[i - 1] >= 0:
                    break
                pcut = next((c for st, c in _candidates(toks[i - 1]) if st == prefix), None)
                if pcut is None:
                    break
                first, start = i - 1, doc.start(i - 1) + pcut
            _claim(doc, spans, _Span(first, i, start, doc.end(i), "PERSON", full.canonical,
                                     full.name, min(CONF_SHORT_FORM, full.confidence)))
            break


# ---------------------------------------------------------------------------------------------
# Facilities and organisations named after a place or built from a head noun.


def _org_pass(doc: _Doc, gaz: Gazetteer, spans: list[_Span], positions: list[int]) -> None:
    after = 0
    for i in positions:
        if i < after or doc.owner[i] >= 0:
            continue
        found = _arabic_org(doc, gaz, i) if _ARABIC.match(doc.toks[i]) else _english_org(doc, i)
        if found is None:
            continue
        first, last, cut, name = found
        canonical = "rasd:org:" + _slug(" ".join(doc.toks[first:last + 1]))
        _claim(doc, spans, _Span(first, last, doc.start(first) + cut, doc.end(last), "ORG", canonical,
                                 name or doc.text[doc.start(first) + cut:doc.end(last)], CONF_ORG_PATTERN))
        after = last + 1


def _quoted_end(doc: _Doc, i: int, limit: int = 6) -> int | None:
    """The last token of a quotation that starts right before token i, if it closes within ``limit`` tokens."""
    if doc.gap_before(i)[-1:] not in _QUOTES:
        return None
    k = i
    while k < len(doc.toks) - 1 and k - i < limit and doc.joined(k) and doc.owner[k + 1] < 0:
        k += 1
    return k if doc.gap_after(k)[:1] in _QUOTES else None


def _arabic_org(doc: _Doc, gaz: Gazetteer, i: int) -> tuple[int, int, int, str] | None:
    """(first, last, proclitic length, English name or "") of an organisation opened by token i."""
    toks, n, owner = doc.toks, len(doc.toks), doc.owner
    head, cut = next(((s, c) for s, c in _candidates(toks[i]) if s in _ORG_HEADS or s in _UNIT_HEADS),
                     (None, 0))
    if head is None:
        return None
    if head in _UNIT_HEADS and i + 1 < n and doc.joined(i) and owner[i + 1] < 0 and (
            toks[i + 1].isdigit() or toks[i + 1] in _ORDINALS):
        last = i + 1
        if last + 1 < n and doc.joined(last) and toks[last + 1] in _UNIT_KINDS:
            last += 1
        return i, last, cut, ""
    if head not in _ORG_HEADS:
        return None
    if cut == 0:
        end = _quoted_end(doc, i)
        if end is not None and end > i:
            return i, end, 0, ""
    definite = head.startswith("ال")
    k, last = i + 1, i
    adjectives = 0
    genitive = False
    nisba_last = -1  # the name may end at a country adjective
    while k < n and k - i <= 7 and doc.joined(k - 1) and owner[k] < 0:
        tok, word = toks[k], doc.word(k)
        if tok in _STOP or tok.isdigit() or not _ARABIC.match(tok) or (
                tok in _ORG_HEADS and not (k == i + 1 and not definite)):
            break
        if tok in gaz.nisba:  # "الهيئة المصرية العامة للكتاب", "هيئة الأركان العامة الروسية"
            adjectives += 1
            if k - i >= 2:
                nisba_last = k
            last = k
            k += 1
            continue
        if word.startswith("لل") and len(tok) > 4:
            genitive = True
        elif word.startswith("وال") and last > i:
            pass  # "المجلس الوطني للجهات والأقاليم"
        elif word.startswith("ال") and not genitive:  # after "للانتخابات" a definite word is the verb's object
            adjectives += 1
        elif not (k == i + 1 and not definite):  # "خدمة حرس الحدود": one bare noun in construct
            break
        last = k
        k += 1
    if genitive and definite and adjectives >= 1:
        return i, last, cut, ""
    if nisba_last > 0:
        return i, nisba_last, cut, ""
    return None


def _english_org(doc: _Doc, i: int) -> tuple[int, int, int, str] | None:
    """"State Emergency Service", "Defence Ministry", "Ministry of Foreign Affairs" around token i."""
    toks, n = doc.toks, len(doc.toks)
    if not _capitalised(doc.word(i)) or doc.word(i).isupper() or _title_case_line(doc, i):
        return None
    first = i
    while first > 0 and i - first < 4 and doc.joined(first - 1) and doc.owner[first - 1] < 0:
        prev = doc.word(first - 1)
        if not _capitalised(prev) or toks[first - 1] in _EN_STOP or toks[first - 1] in _EN_TITLES \
                or prev.isupper():
            break
        first -= 1
    last = i
    if i + 2 < n and toks[i + 1] == "of" and doc.joined(i) and doc.joined(i + 1):
        k = i + 2
        while k < n and k - i <= 5 and doc.owner[k] < 0 and _capitalised(doc.word(k)) \
                and toks[k] not in _EN_STOP:
            last = k
            if not doc.joined(k):
                break
            k += 1
    if first == i and last == i:
        return None
    return first, last, 0, ""
