"""The normalizer's fast paths give exactly what the plain formulation they replace gives.

The normalizer is on the hot path, so some checks are done in a cheaper way than the obvious one
(a pre-filter before an expensive regex, a shortcut for text that needs no work...).  Each test
here states the invariant that makes the shortcut safe and checks it on real article lines (the
seeds and ``tests/data``) and on hand-made edge cases, so a change of the lexicon or of a regex
that breaks the shortcut fails here rather than silently changing outputs.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas.models import RawArticle
from services.normalizer.core import (
    _AFTER_CREDIT,
    _AGENCY_RE,
    _CREDIT_SUFFIX_RE,
    _LEXICON,
    _ends_with_credit,
    _unpunct,
    normalize,
)
from services.normalizer.textforms import (
    _CLEAN_ALL_RE,
    _CLEAN_CHARS,
    _CLEAN_RE,
    _COMPOSING_MARKS,
    _LONG_LOWER,
    _clean_char,
    display_form,
    matching_form,
)

ROOT = Path(__file__).parents[2]


def _real_lines() -> list[str]:
    """Every non-empty line (display form) of the seeds and of the test data's articles."""
    texts = [p.read_text(encoding="utf-8") for d in ("seeds", "tests/data") for p in sorted((ROOT / d).glob("*.txt"))]
    for path in sorted((ROOT / "tests" / "data").glob("*.jsonl")):
        for row in map(orjson.loads, path.read_bytes().splitlines()):
            texts += [row[field] for field in ("title", "body", "text") if isinstance(row.get(field), str)]
    return [line for text in texts for line in display_form(text).split("\n") if line]


REAL_LINES = _real_lines()
# Lines that do end with a credit, in the shapes the regexes accept (and some near misses).
CREDIT_LINES = [
    "طرابلس - وكالات", "غوريس (ارمينيا) - وكالات", "العربي - وكالات", "وكالات..", "(رويترز)", "اكادير - خاص",
    "القاهرة - أ ف ب", "باريس - (أ.ف.ب)", "(د ب أ) :", "بيروت | رويترز وأ ف ب", "وكالات …", "الرباط - متابعات ",
    "دخان فوق المدينة - غيتي", "دخان فوق المدينة – Getty Images", "Rescue workers in Odesa - AP", "Reuters.",
    "LONDON (Reuters) -", "المصدر: وكالات ومواقع محلية", "صورة أرشيفية", "رويترزز", "وكالاتهم", "",
]


def test_after_credit_is_every_character_the_regexes_allow_after_a_credit() -> None:
    """``_AFTER_CREDIT`` must hold every character of ``[\\s.:…)]`` in all of Unicode (it is built from
    ``str.isspace`` below U+3001 to keep the import fast): a missing one would hide agency lines."""
    every_char = "".join(map(chr, range(sys.maxunicode + 1)))
    assert sorted(re.findall(r"[\s.:…)]", every_char)) == sorted(_AFTER_CREDIT)


@pytest.mark.parametrize("lines", [REAL_LINES, CREDIT_LINES], ids=["real", "credit"])
def test_credit_prefilter_never_hides_an_agency_line_or_a_credit_suffix(lines: list[str]) -> None:
    """``_ends_with_credit`` is only a pre-filter: wherever the full agency or credit-suffix regex
    matches, it must say yes (else a sign-off or caption would stay in the text)."""
    matches = 0
    for line in lines:
        m = matching_form(display_form(line))
        if _AGENCY_RE.match(m) or _CREDIT_SUFFIX_RE.search(m):
            matches += 1
            assert _ends_with_credit(m), line
    assert matches >= 3  # the corpus really exercises the regexes


@pytest.mark.parametrize(("line", "expected"), [
    ("طرابلس - وكالات", True),
    ("(أ ف ب).", True),
    ("Rescue workers in Odesa - AP )  ", True),
    ("وقال المتحدث إن القوات تواصل عملياتها في المنطقة.", False),
    ("وقال المتحدث إن القوات تقاتل الانفصاليين (رويترز) في المدينة", False),
    ("", False),
])
def test_credit_prefilter_decides_on_the_last_word(line: str, expected: bool) -> None:
    """The pre-filter looks at the last word only, after the closing parenthesis, spaces and dots."""
    assert _ends_with_credit(matching_form(display_form(line))) is expected


# --------------------------------------------------------------------------- prefix phrases


def _prefix_phrases() -> list[str]:
    """The phrases of data/boilerplate.txt that also drop a line they start ("Read more:", "Reporting by ...")."""
    text = (ROOT / "services" / "normalizer" / "data" / "boilerplate.txt").read_text(encoding="utf-8")
    body = text[: text.index("\n[credits]")]
    return [line.strip().rstrip(".…") for line in body.splitlines()
            if line.strip().endswith((":", "：", "...", "…")) and not line.startswith("#")]


PREFIX_LINES = [f"{lead}{phrase} {tail}" for phrase in _prefix_phrases()
                for lead in ("", "• ", "- ", "📷 ", '"', "_")
                for tail in ("عنوان آخر", "Another headline", "")]


@pytest.mark.parametrize("lines", [REAL_LINES, PREFIX_LINES], ids=["real", "prefix"])
def test_first_word_filter_never_hides_a_prefix_phrase(lines: list[str]) -> None:
    """``_classify`` skips a prefix regex when the line's first word is plain (all ``\\w``) and starts
    no phrase: wherever the regex matches, the first word must be unplain or a phrase's first word."""
    matches = 0
    for line in lines:
        m = matching_form(display_form(line))
        toks = _unpunct(m).split()
        for regex, firsts in ((_LEXICON.boiler_prefix, _LEXICON.boiler_firsts),
                              (_LEXICON.caption_prefix, _LEXICON.caption_firsts)):
            if toks and regex.match(m):
                matches += 1
                first = toks[0].decode()
                assert not first.isalnum() or first in firsts, line
    assert matches > 0  # the corpus really exercises the regexes


# --------------------------------------------------------------------------- words as bytes

WHITESPACE = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]


@pytest.mark.parametrize("space", WHITESPACE, ids=[f"U+{ord(c):04X}" for c in WHITESPACE])
@pytest.mark.parametrize("around", ["{}", "  {} ", "\u0627\u0654{}"], ids=["alone", "odd-spaces", "nfkc"])
def test_display_form_leaves_no_whitespace_but_space_and_newline(space: str, around: str) -> None:
    """The words are cut from UTF-8 bytes with ``bytes.split()`` (ASCII whitespace only), which gives
    the words ``str.split()`` gives only if the display form holds no other whitespace than " " and
    "\\n" — whichever whitespace the feed sent, on each path of :func:`display_form`."""
    text = display_form(f"كلمة {around.format(space)}كلمة{space}word\n" + around.format(space) + " آخر")
    assert not [c for c in text if c.isspace() and c not in " \n"]
    keys = _unpunct(matching_form(text))
    assert [line.split() for line in keys.split(b"\n")] == [
        [w.encode() for w in line.split()] for line in keys.decode().split("\n")]


@pytest.mark.parametrize("lines", [REAL_LINES, ["قال: «نعم»، ثم غادر…", 'Say "yes" (now) — or_not?', ""]],
                         ids=["real", "crafted"])
def test_words_as_bytes_are_the_str_words_encoded(lines: list[str]) -> None:
    """``_unpunct`` returns bytes: its words must be exactly the UTF-8 of the words of the str form
    (punctuation, ASCII or not, becomes a space; the underscore stays a word character)."""
    for line in lines:
        m = matching_form(line)
        text = m
        for mark in "،؛؟…–—•·٭۔":
            text = text.replace(mark, " ")
        expected = "".join(" " if "!" <= c <= "~" and not c.isalnum() and c != "_" else c for c in text).split()
        assert _unpunct(m).split() == [w.encode() for w in expected], line


def test_a_number_in_another_script_still_blocks_a_near_repeat() -> None:
    """``_near_repeat`` tests digits with ``str.isdigit`` (a decoded word), not ``bytes.isdigit`` (ASCII
    only): a paragraph repeated with a new "²" or Devanagari number is news, not a repeat."""
    base = "ارتفعت حصيلة ضحايا الزلزال في إقليم الحوز إلى 2800 قتيل وفق وزارة الداخلية المغربية"
    body = f"{base} ٥.\n\n{base} ५."  # Arabic-Indic five becomes "5"; the Devanagari five stays a digit
    article = normalize(RawArticle(title="زلزال", body=body), now=datetime(2024, 9, 10, tzinfo=UTC))
    assert len(article.text.split("\n")) == 3


# --------------------------------------------------------------------------- text forms


def test_clean_pass_maps_or_drops_each_listed_character() -> None:
    """The one-character clean regex with its dict callback does what a ``str.translate`` of the whole
    text would (the slow, obvious form), on runs of every listed character between Arabic letters."""
    chars = "".join(_CLEAN_CHARS)
    text = "كلمة" + chars + " نص " + chars[::-1] + "ـــ" + "٢٠٢٤" + "مُحَمَّدٌ"
    table = str.maketrans(_CLEAN_CHARS)
    assert _CLEAN_ALL_RE.sub(_clean_char, text) == text.translate(table)
    keep_composing = _CLEAN_RE.sub(_clean_char, text)
    assert keep_composing == text.translate(str.maketrans({**_CLEAN_CHARS, **{c: c for c in _COMPOSING_MARKS}}))


def test_only_one_character_lowers_to_more_than_one() -> None:
    """``matching_form_is_per_line`` looks for ``_LONG_LOWER`` only: it must be every such character."""
    longer = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if len(c.lower()) != 1)
    assert longer == _LONG_LOWER


@pytest.mark.parametrize(("title", "body"), [
    (None, "ΟΔΟΣ ΣΤΑΘΜΟΣ\n\nΗ ΟΔΟΣ ΕΊΝΑΙ ΚΛΕΙΣΤΉ ΣΉΜΕΡΑ ΛΌΓΩ ΤΩΝ ΈΡΓΩΝ ΣΤΟ ΚΈΝΤΡΟ ΤΗΣ ΠΌΛΗΣ ΟΔΟΣ.\nΣΑΣ"),
    ("İstanbul ΟΔΟΣ", "ΣΤΑΘΜΟΣ ΣΑΣ Σ\n\nİSTANBUL — Officials said the ΟΔΟΣ was closed on Monday morning."),
    ("Title", "The ΟΔΟΣ road is closed today for works in the city centre, officials said.\n\nRead more: İstanbul"),
    ("عنوان", "طرابلس - وكالات\n\nأعلن المتحدث أن القوات تواصل عملياتها في المنطقة الحدودية منذ الصباح."),
    ("Title", " ".join(["The spokesman said the forces continued their operations in the border area"] * 5)
     + " (Photo: AFP)\n\nΣΑΣ ΟΔΟΣ."),
])
def test_match_text_joined_from_lines_equals_matching_form_of_text(title: str | None, body: str) -> None:
    """``match_text`` is joined from the lines' matching forms; it must equal ``matching_form(text)``,
    also with Greek final sigmas at line ends, an "İ" in the title or body (kept or dropped), a filing place put back
    as a line, and a paragraph cut before its photo credit."""
    article = normalize(RawArticle(title=title, body=body), now=datetime(2024, 9, 10, tzinfo=UTC))
    assert article.match_text == matching_form(article.text)


# --------------------------------------------------------------------------- near repeats

A = "أعلنت وزارة الدفاع في أذربيجان بدء عملية عسكرية واسعة في إقليم ناغورنو كاراباخ صباح اليوم."
B = "وقالت الخارجية الفرنسية إنها تدعو إلى اجتماع عاجل لمجلس الأمن لبحث التصعيد على الحدود."
MIXED = ("أعلنت وزارة الدفاع في أذربيجان بدء عملية عسكرية واسعة وقالت الخارجية الفرنسية إنها تدعو إلى "
         "اجتماع عاجل لمجلس الأمن.")


@pytest.mark.parametrize(("paragraphs", "kept"), [
    ([A, B, "وفي السياق، " + A], [A, B]),  # near repeat of the first paragraph: dropped
    ([A, "وفي السياق، " + A, "كما " + A, B], [A, B]),  # near repeats after a dropped one: dropped too
    ([A, B, MIXED], [A, B, MIXED]),  # its words are all seen, but spread over two paragraphs: kept
])
def test_near_repeat_needs_one_earlier_paragraph(paragraphs: list[str], kept: list[str]) -> None:
    """The word union of earlier paragraphs is only a first filter (it may hold more words than the
    kept paragraphs); a paragraph is dropped only when one kept paragraph holds 85 % of its words."""
    article = normalize(RawArticle(title="عنوان", body="\n\n".join(paragraphs)), now=datetime(2024, 9, 10, tzinfo=UTC))
    assert article.text.split("\n")[1:] == [display_form(p) for p in kept]
