"""People outside the gazetteer without a title: a known given name ("أيوب الكعبي", "Ben White") or a reporting verb
with evidence of a name ("وقال نوفل بوعزيزي، إن ... وأكد بوعزيزي", "X Y said"), from the word lists in ``data/names``
(:mod:`services.entities.names`); short-form repetition (a person's family name later in the article links to the
full name); and the Arabic name reader the titled people of :mod:`.titles` use too (:func:`_arabic_name_end`).
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from itertools import compress
from typing import Final

from services.entities.document import (
    _ARABIC,
    _LAM_ARTICLE,
    _PROCLITICS,
    CONF_GIVEN_NAME,
    CONF_REPORTED,
    CONF_SHORT_FORM,
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
from services.entities.gazetteer import Gazetteer
from services.entities.lexicon import (
    _AFTER_NAME_AR,
    _EN_FACILITY_TAILS,
    _EN_NOT_NAMES,
    _EN_ORG_NOUNS,
    _EN_PARTICLES,
    _EN_STOP,
    _EN_THING_NOUNS,
    _FACILITY_HEADS,
    _NAME_END_MARKS,
    _NAME_JOINERS,
    _NAME_PREFIXES,
    _NAME_SUFFIXES,
    _NAMES,
    _PERSON_NAME_OF,
    _REPORT_AR,
    _REPORT_EN,
    _STOP,
    _STOP_DISPLAY,
    _TITLE_HEADS,
    _TITLE_LINKS,
)


def _arabic_name_token(tok: str, gaz: Gazetteer, word: str = "") -> bool:
    return word not in _STOP_DISPLAY and _arabic_word(tok) and tok not in gaz.nisba


@lru_cache(maxsize=1 << 16)
def _arabic_word(tok: str) -> bool:
    """An Arabic word of two letters or more, not a number and not a function word (cached: tokens repeat)."""
    return len(tok) >= 2 and not _any_in(tok, _STOP) and not tok.isdigit() and bool(_ARABIC.match(tok))


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
