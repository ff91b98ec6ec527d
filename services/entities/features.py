"""Token features of the Arabic sequence tagger (:mod:`services.entities.tagger`).

The tokens are those of the rules (:class:`services.entities.document._Doc`: runs of word characters of the matching
form, punctuation left in the gaps), so the model is trained and run on the same units.  A token's features are
plain strings, cheap to hash and built once per word type:

* the word (matching form: alef/hamza unified, ة→ه, ى→ي), its clitic-stripped forms (و ف ب ل ك and their
  combinations, لل → ال, as the gazetteer matcher strips them) and its core without proclitic and article;
* prefixes and suffixes of 2 and 3 letters, a shape (Arabic, digits, Latin, length);
* **what the project already knows**, as evidence the model weighs, not as rules: the gazetteer types of the
  aliases a form starts, continues or is ("gLOC1" a one-word place, "gORGB" the first word of an organisation's
  alias, "gPERSONI" a later word of a person's), a nationality adjective, and the rules' word lists (titles and
  roles, title links, reporting verbs, organisation and unit heads, facility heads, place cues, given names, given
  names that are also words, common news words, function words, ministries, "named after" nouns);
* the same word-level evidence (word, core, gazetteer, lists) of the two tokens on either side, and the
  punctuation in the gaps before and after the token (a sentence start included).

Changing anything here changes what the model means: run ``make model`` (the manifest test says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from services.entities.document import _ADJ, _ARABIC, _candidates, _Doc
from services.entities.gazetteer import Gazetteer
from services.entities.lexicon import (
    _EN_FACILITY_TAILS,
    _EN_ORG_NOUNS,
    _EN_TITLES,
    _FACILITY_HEADS,
    _MINISTRIES,
    _NAME_JOINERS,
    _NAME_PREFIXES,
    _NAME_SUFFIXES,
    _NAMES,
    _ORG_HEADS,
    _PERSON_NAME_OF,
    _PLACE_CUES,
    _REPORT_AR,
    _REPORT_EN,
    _STOP,
    _TITLE_HEADS,
    _TITLE_LINKS,
    _UNIT_HEADS,
)

# The word lists the model sees, by feature name (matching forms, as the rules compare them).
_LEXICONS: Final[tuple[tuple[str, frozenset[str]], ...]] = (
    ("title", _TITLE_HEADS | _EN_TITLES),
    ("tlink", _TITLE_LINKS),
    ("report", _REPORT_AR | _REPORT_EN),
    ("orghead", _ORG_HEADS | _EN_ORG_NOUNS),
    ("unit", _UNIT_HEADS),
    ("facility", _FACILITY_HEADS | _EN_FACILITY_TAILS),
    ("cue", _PLACE_CUES),
    ("given", _NAMES.given_ar | _NAMES.given_en),
    ("givenc", _NAMES.given_ar_common),
    ("common", _NAMES.common_ar),
    ("stop", _STOP),
    ("ministry", frozenset(_MINISTRIES)),
    ("nameof", _PERSON_NAME_OF),
    ("joiner", _NAME_JOINERS | _NAME_PREFIXES),
    ("suffix", _NAME_SUFFIXES),
)


def lexicon_words() -> dict[str, list[str]]:
    """The word lists the features read, sorted (the training manifest records their hash)."""
    return {name: sorted(words) for name, words in _LEXICONS}


_SENTENCE_END: Final = frozenset(".!?؟\n")
# The view of "no token" before the first and after the last.
_EDGE: Final[tuple[list[str], ...]] = (["-2pad"], ["-1pad"], ["pad"], ["+1pad"], ["+2pad"])


def _shape(tok: str) -> str:
    if tok.isdigit():
        return "digits"
    if _ARABIC.match(tok):
        return "ar" + str(min(len(tok), 8))
    if tok.isascii():
        return "latin"
    return "other"


def _gap_class(gap: str) -> str:
    """The punctuation of a gap between two tokens: spaces dropped, a line break written "nl", at most 3 marks."""
    if "\n" in gap:
        return "nl"
    marks = gap.replace(" ", "")
    return marks[:3] if marks else "_"


class Features:
    """Builds the feature strings of a token sequence; the per-word part is cached per word type."""

    __slots__ = ("_cache", "_gaz_table", "_nisba")

    def __init__(self, gazetteer: Gazetteer) -> None:
        # Word (matching form) -> the gazetteer evidence of that form: type and place in the alias.
        table: dict[str, set[str]] = {}
        for key, alias in gazetteer.index.items():
            if alias.kind == _ADJ:
                continue
            size = len(key)
            for j, word in enumerate(key):
                where = "1" if size == 1 else ("B" if j == 0 else "I")
                table.setdefault(word, set()).add(alias.etype + where)
        self._gaz_table: dict[str, tuple[str, ...]] = {w: tuple(sorted(v)) for w, v in table.items()}
        self._nisba = gazetteer.nisba
        # tok -> (its features as seen from 2 before, 1 before, itself, 1 after, 2 after)
        self._cache: dict[str, tuple[list[str], ...]] = {}

    def views(self, tok: str) -> tuple[list[str], ...]:
        """The features of word ``tok`` as seen from the token 2 after it, 1 after it, itself, 1 before it and
        2 before it: the features of a token are ``views(t[i-2])[0] + views(t[i-1])[1] + views(t[i])[2] +
        views(t[i+1])[3] + views(t[i+2])[4]`` and those of the gaps around it (cached per word type)."""
        hit = self._cache.get(tok)
        if hit is not None:
            return hit
        if len(self._cache) > 200_000:
            self._cache.clear()
        stems = [stem for stem, _ in _candidates(tok)]  # tok first, then without proclitics
        core_form = min(stems, key=len)
        if core_form.startswith("ال") and len(core_form) >= 4:
            core_form = core_form[2:]
        evidence = sorted({"g" + g for stem in stems for g in self._gaz_table.get(stem, ())})
        if any(s in self._nisba for s in stems):
            evidence.append("nisba")
        for name, words in _LEXICONS:
            if any(s in words for s in stems):
                evidence.append(name)
        context = ["w=" + tok, "c=" + core_form, *evidence]  # what the neighbours see
        own = [
            "w=" + tok, "c=" + core_form, "sh=" + _shape(tok),
            "p2=" + tok[:2], "p3=" + tok[:3], "x2=" + tok[-2:], "x3=" + tok[-3:],
            *("s=" + s for s in stems[1:]),
            *evidence,
        ]
        views = ([f"-2{f}" for f in context], [f"-1{f}" for f in context], own,
                 [f"+1{f}" for f in context], [f"+2{f}" for f in context])
        self._cache[tok] = views
        return views

    @staticmethod
    def edge_views() -> tuple[list[str], ...]:
        """The views of "no token" (before the first, after the last)."""
        return _EDGE

    def sequence(self, doc: _Doc) -> list[list[str]]:
        """The feature strings of every token of ``doc`` (for training; :class:`~services.entities.tagger.Tagger`
        compiles the same features per word type)."""
        toks = doc.toks
        n = len(toks)
        padded = [_EDGE, _EDGE, *(self.views(t) for t in toks), _EDGE, _EDGE]
        gaps = doc._parts[0::2]
        return [[*padded[i][0], *padded[i + 1][1], *padded[i + 2][2], *padded[i + 3][3], *padded[i + 4][4],
                 *gap_before(gaps[i], i == 0), *gap_after(gaps[i + 1])] for i in range(n)]


def gap_before(gap: str, first: bool) -> list[str]:
    """The features of the gap before a token (``first``: the text's first token): its punctuation, and whether
    the token starts a sentence or a line."""
    cls = _gap_class(gap)
    if first or cls == "nl" or not _SENTENCE_END.isdisjoint(gap):
        return ["gb=" + cls, "bos"]
    return ["gb=" + cls]


def gap_after(gap: str) -> list[str]:
    """The features of the gap after a token: its punctuation."""
    return ["ga=" + _gap_class(gap)]


def token_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first, last, type) of each entity in a BIO tag sequence ("B-LOC", "I-LOC", "O"); an I- that does not
    continue an entity of its type opens one (as conlleval counts it)."""
    spans: list[tuple[int, int, str]] = []
    first, etype = -1, ""
    for i, tag in enumerate(tags):
        if tag == "O":
            if etype:
                spans.append((first, i - 1, etype))
            first, etype = -1, ""
            continue
        prefix, kind = tag[:1], tag[2:]
        if prefix == "B" or kind != etype:
            if etype:
                spans.append((first, i - 1, etype))
            first, etype = i, kind
    if etype:
        spans.append((first, len(tags) - 1, etype))
    return spans
