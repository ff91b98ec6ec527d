"""Organisations outside the gazetteer: from a head noun and a name-like continuation ("الهيئة العليا المستقلة
للانتخابات", "خدمة حرس الحدود الأذربيجانية", a quoted "اللواء 444 قتال", "State Emergency Service", "Ministry of
Foreign Affairs"), and ministries ("وزارة الدفاع الأرمينية", "الخارجية الروسية": :func:`_ministry`, which the context
pass of :mod:`.titles` opens).
"""

from __future__ import annotations

from services.entities.document import (
    _ARABIC,
    CONF_MINISTRY,
    CONF_ORG_PATTERN,
    _any_in,
    _candidates,
    _capitalised,
    _claim,
    _Doc,
    _slug,
    _Span,
    _strip,
    _title_case_line,
)
from services.entities.gazetteer import Gazetteer, GazetteerEntry
from services.entities.lexicon import (
    _BARE_MINISTRIES,
    _BASM,
    _EN_STOP,
    _EN_TITLES,
    _MINISTRIES,
    _ORDINALS,
    _ORG_HEADS,
    _QUOTES,
    _STOP,
    _TITLE_HEADS,
    _UNIT_HEADS,
    _UNIT_KINDS,
)


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
