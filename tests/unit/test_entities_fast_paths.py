"""The entities core's fast paths give exactly what the plain code they replace gives.

Why: the stage is CPU-bound, so its hot spots take shortcuts (a tokenizer with ``\\w`` spelt out as one bitmap class);
the output must not change by a byte.  Each test pins a shortcut to its plain definition on the edge cases the plain
code handled (empty text, Arabic and English, characters beyond the BMP, "+" at token ends) and on real articles.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from rasd.inputs import read_articles
from services.entities.core import Gazetteer
from services.entities.document import (
    _SPLIT,
    _SPLIT_BMP,
    _WORD_CLASS,
    _capitalised,
    _Doc,
    _lookup_all,
    _may_leave_the_bmp,
    _Span,
    _split,
)
from services.entities.gazetteer import _Alias
from services.entities.lexicon import _EN_FACILITY_TAILS, _EN_PARTICLES, _EN_STOP, _FACILITY_HEADS
from services.entities.linking import _gazetteer_pass, _latin_ok
from services.entities.people import _tokens_ending_with
from services.normalizer.textforms import display_form, matching_form

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = [ROOT / "seeds", ROOT / "tests" / "data" / "entities_people.jsonl",
            ROOT / "tests" / "data" / "alerter_robustness.jsonl", ROOT / "tests" / "data" / "originals.jsonl"]


def _texts() -> list[tuple[str, str]]:
    """(display form, matching form) of the title and body of every test article (what the stage reads)."""
    texts = []
    for raw in read_articles(ARTICLES):
        obj = orjson.loads(raw)
        if isinstance(obj, dict):
            shown = [display_form(obj[k]) for k in ("title", "body") if isinstance(obj.get(k), str)]
            texts.extend((text, matching_form(text)) for text in shown)
    return texts


def _match_texts() -> list[str]:
    """The matching forms of the title and body of every test article (what the stage tokenizes)."""
    return [match for _, match in _texts()]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def test_bmp_word_class_is_w_on_every_bmp_character() -> None:
    """The explicit class must accept exactly the characters ``\\w`` accepts, on the whole BMP at once (each
    character between two spaces, so that every one is tested alone)."""
    plane = " ".join(map(chr, range(0x10000)))
    assert _SPLIT_BMP.split(plane) == _SPLIT.split(plane)
    assert len(_SPLIT.split(plane)) > 2 * 40_000  # the plane really holds tens of thousands of word characters


@pytest.mark.parametrize("text", [
    "", " ", "x", "_", "+", "a+", "a+b", "c++ d", "+x+", "x_y+", "٣ ١٢٣", "²³ ½",
    "وقال وزير الخارجية الأرميني، إن \"الحل\" قريب.", "U.S. President Joe Biden said: 'no'.",
    "ﷺ ﻻ ﺍﻟ",  # presentation forms: word characters at the end of the BMP
    "emoji 😀 between", "𝐀𝐁𝐂 math letters are word characters beyond the BMP", "lone \ud800 surrogate",
    "\U00020000 CJK extension B", "tab\tnew\nline\r\n",
])
def test_split_is_the_w_split(text: str) -> None:
    """``_split`` gives the parts of the ``\\w`` tokenizer: through the bitmap class when the text stays in the
    BMP, through ``\\w`` itself when it has characters beyond it (some of them word characters)."""
    assert _split(text) == _SPLIT.split(text)
    assert "".join(_split(text)) == text


def test_split_is_the_w_split_on_real_articles() -> None:
    """The same on the matching text of every seed and test article (Arabic and English)."""
    texts = _match_texts()
    assert len(texts) >= 10
    for text in texts:
        assert _split(text) == _SPLIT.split(text)


def test_split_keeps_the_token_pattern() -> None:
    """The fast pattern is the plain one with only ``\\w+`` replaced (by the class, then the class repeated, made
    possessive): same "+" suffix, same capture group."""
    assert _SPLIT.pattern == r"(\w+\+?)"
    assert _SPLIT_BMP.pattern == f"({_WORD_CLASS}{_WORD_CLASS}*+\\+?+)"
    assert _WORD_CLASS.startswith("[") and _WORD_CLASS.endswith("]")
    word = re.compile(_WORD_CLASS)
    assert word.fullmatch("ا") and word.fullmatch("_") and not word.match(" ") and not word.match("+")
    for text in ("", "a", "ab", "a+", "a++", "+a", "ab+c", "_ _+ +_"):  # one and several characters, "+" anywhere
        assert _SPLIT_BMP.split(text) == _SPLIT.split(text)


@pytest.mark.parametrize("text", [
    "", "a", "é", "ا", "ab" * 3000, "ا" * 3000, "😀", "a😀", "ا😀", "\ud800", "\U00020000" * 3, "x" * 70_000 + "😀",
])
def test_bmp_check_sees_every_character_beyond_the_bmp(text: str) -> None:
    """The O(1) check (the str's storage width) must say "may leave the BMP" whenever a character is beyond it, on
    texts of any width and length, and, for the fast path to be taken at all, not on texts that stay inside it."""
    beyond = any(ord(ch) > 0xFFFF for ch in text)
    assert _may_leave_the_bmp(text) == beyond
    assert _may_leave_the_bmp(text[:1] + text[1:]) == beyond  # built anew: same answer
    if beyond:
        inside = "".join(ch for ch in text if ord(ch) <= 0xFFFF)
        assert not _may_leave_the_bmp(inside)  # what is left, stored narrower, takes the fast path


@pytest.mark.parametrize("count", [0, 1, 2, 3, None])
def test_lookup_all_is_the_map_of_getitem_on_real_tokens(count: int | None) -> None:
    """``_lookup_all`` (one ``itemgetter`` of all the tokens) gives the bytes of the per-token lookups on the tokens
    of real articles: also for no token and one token, where ``itemgetter`` fails or returns a bare value."""
    table: dict[str, int] = {}
    for text in _match_texts():
        toks = _SPLIT.split(text)[1::2][:count]
        for tok in toks:
            table.setdefault(tok, len(table) % 256)
        assert _lookup_all(table, toks) == bytes(map(table.__getitem__, toks))
    assert len(table) > (100 if count is None else count - 1)  # whole articles: many distinct words looked up


def test_lookup_all_raises_key_error_on_an_unknown_token() -> None:
    """The caller learns new tokens on KeyError: the fast path must raise it as the plain one does, however many
    tokens there are and wherever the unknown one is."""
    table = {"a": 1, "b": 2}
    for toks in (["x"], ["a", "x"], ["x", "a", "b"], ["a", "b", "x"]):
        with pytest.raises(KeyError):
            bytes(map(table.__getitem__, toks))
        with pytest.raises(KeyError):
            _lookup_all(table, toks)


# Real articles, and places named inside a facility's name (a head before, an English tail after).
_FACILITY_TEXTS = [
    "قصفت القوات محطة دنيبرو الكهرومائية، وقال مسؤول في جامعة طرابلس إن سد مأرب بخير.",
    "Russian forces shelled the Zaporizhzhia Power Plant and the Kakhovka Dam near Kherson.",
]


def _gazetteer_spans(gaz: Gazetteer, text: str, match: str, plain: bool) -> list[_Span]:
    doc = _Doc(text, match)
    spans: list[_Span] = []
    gaz_at, _, _, _, facilities = gaz.positions(doc.toks)
    _gazetteer_pass(doc, gaz, spans, False, gaz_at, True if plain else facilities)
    return spans


def test_facility_flag_says_whether_a_token_is_a_facility_word(gazetteer: Gazetteer) -> None:
    """``positions`` says "no facility word" only when no token is a facility head or English tail: the one fact
    the gazetteer pass's shortcut relies on (checked on every real article and on texts that have some)."""
    seen = set()
    for match in [*_match_texts(), *(matching_form(display_form(t)) for t in _FACILITY_TEXTS)]:
        toks = _split(match)[1::2]
        expected = any(t in _FACILITY_HEADS or t in _EN_FACILITY_TAILS for t in toks)
        assert gazetteer.positions(toks)[4] == expected
        seen.add(expected)
    assert seen == {True, False}


@pytest.mark.parametrize("source", ["articles", "facilities"])
def test_gazetteer_pass_without_facility_words_is_the_plain_pass(gazetteer: Gazetteer, source: str) -> None:
    """The gazetteer pass told "no facility word" claims exactly what the plain pass (every place tested for a
    facility's name, every token through its starters) claims, on real articles and on places inside facilities'
    names: the facility shortcut and the one-token shortcut (``Gazetteer._singles``) both run in the first."""
    texts = _texts() if source == "articles" else [(t, matching_form(t)) for t in map(display_form, _FACILITY_TEXTS)]
    claimed = 0
    for text, match in texts:
        fast = _gazetteer_spans(gazetteer, text, match, plain=False)
        assert fast == _gazetteer_spans(gazetteer, text, match, plain=True)
        claimed += len(fast)
    assert claimed > 0
    if source == "facilities":  # the facility test still runs there: "جامعة طرابلس" is the University of Tripoli
        text, match = texts[0]
        spans = _gazetteer_spans(gazetteer, text, match, plain=False)
        assert any(s.type == "ORG" and "university" in s.canonical for s in spans)


def _plain_latin_ok(doc: _Doc, first: int, last: int, alias: _Alias) -> bool:
    """``_latin_ok`` as it was written before its shortcuts."""
    words = [doc.word(k) for k in range(first, last + 1)]
    if alias.acronym:
        return all(w.isupper() for w in words)
    if len(words) == 1:
        return _capitalised(words[0])
    content = [w for w in words if w.lower() not in _EN_PARTICLES and w.lower() not in _EN_STOP]
    return bool(content) and _capitalised(words[0]) and _capitalised(content[-1])


@pytest.mark.parametrize("acronym", [False, True])
def test_latin_ok_is_the_plain_test_on_real_words(acronym: bool) -> None:
    """``_latin_ok`` with its shortcuts (one word without lists, the first word tested first, one set of function
    words) answers as the plain test for every one, two and three words of the real articles (English words
    capitalised, lower-case and all capitals, Arabic ones)."""
    alias = _Alias(0, 0, True, acronym, False, "LOC", "Q1", "X", 0.85)
    answers = set()
    for text, match in _texts():
        doc = _Doc(text, match)
        for first in range(len(doc.toks)):
            for last in range(first, min(first + 3, len(doc.toks))):
                answer = _latin_ok(doc, first, last, alias)
                assert answer == _plain_latin_ok(doc, first, last, alias)
                answers.add(answer)
    assert answers == {True, False}


@pytest.mark.parametrize("text", ["", "x", "a+b c++ d+", "ab ab ab", "aab ab baab", "bab.ab-ab", "+ ++ a+ +a"])
def test_tokens_ending_with_is_the_endswith_filter_on_edge_cases(text: str) -> None:
    """Overlapping occurrences, occurrences across a token's end or in a gap, "+" ends, no token at all."""
    doc = _Doc(text, text)
    for tail in ("a", "b", "ab", "aab", "+", "b+", "++", "a b", "zz"):
        assert _tokens_ending_with(doc, tail) == [t for t in doc.toks if t.endswith(tail)]


def test_tokens_ending_with_is_the_endswith_filter_on_real_articles() -> None:
    """The occurrence-based search finds the tokens ending with a tail exactly as a test of every token does, for
    the endings (1-4 letters) and whole tokens of the real articles (Arabic and English)."""
    found = 0
    for text, match in _texts():
        doc = _Doc(text, match)
        tails = {t[-k:] for t in doc.toks[:60] for k in (1, 2, 4)} | set(doc.toks[::25])
        for tail in sorted(tails):
            fast = _tokens_ending_with(doc, tail)
            assert fast == [t for t in doc.toks if t.endswith(tail)]
            found += len(fast)
    assert found > 1000


def test_singles_are_the_tokens_whose_starters_are_one_plain_single(gazetteer: Gazetteer) -> None:
    """Each token the gazetteer pass claims by the one-token shortcut has exactly one form, that starts no longer
    alias and is a plain one-token alias, with the proclitic length its starters give; and every such token of the
    real articles is recorded (so the shortcut does run)."""
    gaz = Gazetteer.from_entries(gazetteer.entries)  # fresh caches
    for _, match in _texts():
        for tok in _split(match)[1::2]:
            starters = gaz.starters(tok)
            one = len(starters) == 1 and starters[0][2] == 1 and starters[0][3] is not None and starters[0][3].plain
            assert (tok in gaz._singles) == one
            if one:
                assert gaz._singles[tok] == (starters[0][3], starters[0][1])
    assert len(gaz._singles) > 20
