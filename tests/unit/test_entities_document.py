"""Tokenising (services/entities/document.py): the tokens, their offsets and forms; and its fast paths, which give
exactly what the plain code they replace gives.

Why: the stage is CPU-bound, so its hot spots take shortcuts (a tokenizer with ``\\w`` spelt out as one bitmap class);
the output must not change by a byte.  Each test pins a shortcut to its plain definition on the edge cases the plain
code handled (empty text, Arabic and English, characters beyond the BMP, "+" at token ends) and on real articles.
"""

from __future__ import annotations

import re

import pytest

from services.entities.document import (
    _SPLIT,
    _SPLIT_BMP,
    _WORD_CLASS,
    _any_in,
    _candidates,
    _claim,
    _Doc,
    _lookup_all,
    _may_leave_the_bmp,
    _sentence_start,
    _slug,
    _Span,
    _split,
    _strip,
    _title_case_line,
)
from services.normalizer.textforms import display_form, matching_form
from tests.unit.entities_texts import match_texts


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
    texts = match_texts()
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
    for text in match_texts():
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


def _doc(text: str) -> _Doc:
    text = display_form(text)
    return _Doc(text, matching_form(text))


def test_doc_tokens_offsets_and_gaps() -> None:
    """Tokens are the matching forms; their offsets index the display text; "U.S." is one phrase, "،" breaks one."""
    doc = _doc("وقال للأمم المتحدة، U.S. army")
    assert doc.toks == ["وقال", "للامم", "المتحده", "u", "s", "army"]
    assert [doc.start(i) for i in range(len(doc.toks))] == [0, 5, 11, 20, 22, 25]
    assert doc.word(1) == "للأمم" and doc.text[doc.start(1):doc.end(1)] == doc.word(1)
    assert doc.joined(1) and not doc.joined(2) and doc.joined(3)
    assert doc.gap_after(2) == "، " and doc.gap_before(0) == ""
    assert doc.owner == [-1] * 6


def test_candidates_strip_proclitics_and_give_lam_its_article() -> None:
    """A token's forms without an attached proclitic, with its length; لل gets its article back at offset 0."""
    assert _candidates(matching_form("للأمم")) == (("للامم", 0), ("الامم", 0), ("لامم", 1))
    assert _candidates("وبغزه") == (("وبغزه", 0), ("غزه", 2), ("بغزه", 1))
    assert _candidates("gaza") == (("gaza", 0),)
    assert _strip("وبغزه") == {"وبغزه", "غزه", "بغزه"}
    assert _any_in("وبغزه", frozenset({"غزه"})) and not _any_in("gaza", frozenset({"غزه"}))


def test_slug_and_sentence_and_headline_tests() -> None:
    assert _slug("Foo Bar-Baz!") == "foo-bar-baz" and _slug("!!") == "x"
    doc = _doc("Hello there. Ministry of Foreign Affairs said")
    assert _sentence_start(doc, 0) and _sentence_start(doc, 2) and not _sentence_start(doc, 3)
    assert not _title_case_line(doc, 2)
    headline = _doc("Russian Forces Shell Power Plant Near Kherson\nThe army said")
    assert _title_case_line(headline, 0) and not _title_case_line(headline, 7)


def test_claim_marks_the_tokens_as_owned() -> None:
    doc = _doc("one two three four")
    spans: list[_Span] = []
    _claim(doc, spans, _Span(1, 2, doc.start(1), doc.end(2), "LOC", "Q1", "X", 0.85))
    assert doc.owner == [-1, 0, 0, -1] and len(spans) == 1
