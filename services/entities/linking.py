"""Linking spans of the text to the gazetteer's ids: the gazetteer pass (aliases, longest match first, tolerant of
attached Arabic proclitics; a place inside a facility's name is not a place, and "جامعة طرابلس" is an ORG) and, for
Latin-script articles, the variant pass (a capitalised span that is a spelling variant of exactly one alias:
"Zelenskiy" of Zelensky, :mod:`services.entities.variants`).
"""

from __future__ import annotations

from itertools import compress
from operator import itemgetter

from services.entities.document import (
    _ADJ,
    _ARABIC,
    CONF_ORG_PATTERN,
    CONF_VARIANT,
    _capitalised,
    _claim,
    _Doc,
    _indices,
    _lookup_all,
    _sentence_start,
    _slug,
    _Span,
)
from services.entities.gazetteer import Gazetteer, _Alias
from services.entities.lexicon import _EN_FACILITY_TAILS, _EN_FUNCTION_WORDS, _FACILITY_HEADS, _ORG_FACILITIES
from services.entities.places import _inside_facility


def _latin_ok(doc: _Doc, first: int, last: int, alias: _Alias) -> bool:
    if first == last:  # one word, the common case: the tests below without building a list
        word = doc.word(first)
        return word.isupper() if alias.acronym else _capitalised(word)
    words = [doc.word(k) for k in range(first, last + 1)]
    if alias.acronym:
        return all(w.isupper() for w in words)
    if not _capitalised(words[0]):  # (tested first: it needs no list)
        return False
    content = [w for w in words if w.lower() not in _EN_FUNCTION_WORDS]
    return bool(content) and _capitalised(content[-1])


def _accepts(doc: _Doc, i: int, size: int, cut: int, alias: _Alias, nisba: bool) -> bool:
    """May ``alias`` be read at tokens i..i+size-1 (the first without its ``cut`` proclitic letters)?"""
    if alias.kind == _ADJ and not nisba:
        return False
    return not alias.latin or (not cut and _latin_ok(doc, i, i + size - 1, alias))


def _gazetteer_pass(doc: _Doc, gaz: Gazetteer, spans: list[_Span], nisba: bool, positions: list[int],
                    facilities: bool = True) -> None:
    """Gazetteer aliases, longest first, at ``positions``.  ``facilities=False`` says no token is a facility head
    or tail (:meth:`Gazetteer.positions`), so the test of a place inside a facility's name is skipped: its
    membership tests could only fail."""
    toks, n, owner, cum, entries = doc.toks, len(doc.toks), doc.owner, doc._cum, gaz.entries
    cache = gaz._starters_adj if nisba else gaz._starters
    # Without a facility word nothing can veto a single (see Gazetteer._singles); {} turns that shortcut off.
    singles = (gaz._singles_adj if nisba else gaz._singles) if not facilities else {}
    starters, index, prefixes, joined = gaz.starters, gaz.index, gaz._prefixes, doc.joined
    after = 0  # first token not yet consumed by a match
    for i in positions:
        if i < after:
            continue
        tok = toks[i]
        single = singles.get(tok)
        if single is not None:  # what the general path below does for such a token, without its tests
            one, one_cut = single
            owner[i] = len(spans)
            spans.append(_Span(i, i, cum[2 * i + 1] + one_cut, cum[2 * i + 2], one.etype, one.canonical, one.name,
                               one.conf, one.kind))
            after = i + 1
            continue
        cands = cache.get(tok) or starters(tok, nisba)
        stem, cut, longest, alias, seconds, only = cands[0]
        if only and (longest == 1 or i + 1 >= n or toks[i + 1] not in seconds):
            # The common case: one form of the token and no longer alias can start here: its one-token alias.
            if alias is None or not (alias.plain or _accepts(doc, i, 1, cut, alias, nisba)):
                continue
            length = 1
        else:
            best: _Alias | None = None
            length = cut = 0  # of the best match: tokens, proclitic length
            for stem, stem_cut, longest, alias, seconds, _ in cands:
                if longest <= length:
                    continue
                found = [(1, alias)] if alias is not None else []
                if longest > 1 and i + 1 < n and toks[i + 1] in seconds:
                    # The longer aliases: read on while the tokens are joined in one phrase and still start one.
                    key: tuple[str, ...] = (stem,)
                    k = i
                    while k + 1 - i < longest and k + 1 < n and joined(k) \
                            and (key := (*key, toks[k + 1])) in prefixes:
                        k += 1
                        alias = index.get(key)
                        if alias is not None:
                            found.append((k + 1 - i, alias))
                for size, alias in reversed(found):
                    if size <= length:
                        break
                    if alias.plain or _accepts(doc, i, size, stem_cut, alias, nisba):
                        best, length, cut = alias, size, stem_cut
                        break
            if best is None:
                continue
            alias = best
        last = i + length - 1
        # (The membership tests first: they rule out almost every place without a call.)
        if facilities and alias.etype == "LOC" and ((cut == 0 and i > 0 and toks[i - 1] in _FACILITY_HEADS)
                                                    or (last + 1 < n and toks[last + 1] in _EN_FACILITY_TAILS)) \
                and _inside_facility(doc, i, last, cut):
            entry = entries[alias.entry]
            after = i + length
            template = _ORG_FACILITIES.get(toks[i - 1]) if i > 0 and cut == 0 else None
            if template is not None and doc.joined(i - 1) and doc.owner[i - 1] < 0:
                _claim(doc, spans, _Span(i - 1, after - 1, doc.start(i - 1), doc.end(after - 1), "ORG",
                                         "rasd:org:" + _slug(template.format(entry.name)),
                                         template.format(entry.name), CONF_ORG_PATTERN))
            continue
        # _claim, inlined: this is the most frequent claim.
        if length == 1:
            owner[i] = len(spans)
        else:
            owner[i:last + 1] = [len(spans)] * length
        spans.append(_Span(i, last, cum[2 * i + 1] + cut, cum[2 * last + 2], alias.etype, alias.canonical, alias.name,
                           alias.conf, alias.kind))
        after = last + 1


def _variant_pass(doc: _Doc, gaz: Gazetteer, spans: list[_Span]) -> None:
    """Capitalised Latin spans that are no alias but a spelling variant of one ("Zelenskiy" of Zelensky, "Bint
    Jbeil" of Bent Jbail): the variant key of exactly one entry's alias (:meth:`.variants.Variants.latin`; a place
    in a country only where the article names that country).  Only on the tokens the gazetteer pass left free; a
    one-word span needs 5 letters or more, must not open a sentence and links to a person, an organisation or a place
    in no country (a country, a sea) only."""
    toks, owner, n, text, cum = doc.toks, doc.owner, len(doc.toks), doc.text, doc._cum
    variants = gaz.variants()
    cache = variants.token_heads
    try:
        sizes = _lookup_all(cache, toks)
    except KeyError:  # words not seen before: function words, one letter and Arabic words start no variant
        for tok in set(toks).difference(cache):
            if len(tok) < 2 or tok in _EN_FUNCTION_WORDS or _ARABIC.match(tok):
                cache[tok] = 0
            else:
                variants.head_size(tok)
        sizes = _lookup_all(cache, toks)
    # The tokens that may start a variant and are capitalised, in C loops: the first letter of token i is
    # text[cum[2i + 1]] (most candidates are lower-case words: "state", "western").
    firsts = itemgetter(*cum[1:2 * n:2])(text) if n > 1 else tuple(text[cum[1]:cum[1] + 1])
    heads = list(compress(compress(_indices(n), sizes), compress(map(str.isupper, firsts), sizes)))
    countries: set[str] | None = None
    after = 0
    for i in heads:
        if i < after or owner[i] >= 0:
            continue
        limit, run = min(sizes[i], n - i), 1  # run: the free tokens joined in one phrase from i, at most limit
        while run < limit and owner[i + run] < 0 and doc.joined(i + run - 1):
            run += 1
        for size in range(run, 0, -1):
            last = i + size - 1
            if size == 1:
                if cum[2 * i + 2] - cum[2 * i + 1] < 5 or _sentence_start(doc, i):
                    continue
            elif not text[cum[2 * last + 1]].isupper():
                continue
            if countries is None:
                countries = {s.canonical for s in spans} & variants.countries
            # One word links to no place in a country: capitalised common words are knowledge-base places too often
            # ("Monday", "Republic": towns in the United States).
            entry = variants.latin(text[cum[2 * i + 1]:cum[2 * last + 2]], countries if size > 1 else ())
            if entry is None:
                continue
            known = gaz.entries[entry]
            if known.type == "LOC" and _inside_facility(doc, i, last, 0):  # "Kakhovka Dam": as the gazetteer pass
                after = last + 1
                break
            first = i - 1 if i > 0 and toks[i - 1] in ("al", "el") and doc.gap_before(i) == "-" \
                and owner[i - 1] < 0 else i  # "al-Shabaab": the article is part of the name
            _claim(doc, spans, _Span(first, last, doc.start(first), doc.end(last), known.type, known.id, known.name,
                                     CONF_VARIANT))
            after = last + 1
            break
