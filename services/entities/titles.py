"""The context pass: people found from a title or role ("رئيس الوزراء الأرميني نيكول باشينيان", "Foreign Minister
Sergey Lavrov"), and ministries (:func:`.organisations._ministry`) from the same opening words.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from services.entities.document import (
    _ARABIC,
    CONF_TITLE_PERSON,
    _any_in,
    _capitalised,
    _claim,
    _Doc,
    _slug,
    _Span,
    _strip,
)
from services.entities.gazetteer import Gazetteer
from services.entities.lexicon import (
    _AMBIGUOUS_TITLES,
    _BARE_MINISTRIES,
    _EN_PARTICLES,
    _EN_STOP,
    _EN_TITLES,
    _GIVEN_AR_ANY,
    _MINISTRIES,
    _STOP,
    _TITLE_HEADS,
    _TITLE_LINKS,
)
from services.entities.organisations import _ministry
from services.entities.people import _arabic_name_end, _claim_person, _given_cut


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
    word alone: the first tests of :func:`.organisations._ministry` and :func:`_arabic_titled_person` (cached per
    token)."""
    ministry = "وزاره" in _strip(tok) or tok in _MINISTRIES or tok in _BARE_MINISTRIES
    if _ARABIC.match(tok):
        return ministry, _TITLE_AR if _any_in(tok, _TITLE_HEADS) else 0
    return ministry, _TITLE_EN if tok in _EN_TITLES else 0


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
