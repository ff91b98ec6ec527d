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
from pathlib import Path

import orjson
import pytest

from services.normalizer.core import (
    _AFTER_CREDIT,
    _AGENCY_RE,
    _CREDIT_SUFFIX_RE,
    _ends_with_credit,
)
from services.normalizer.textforms import display_form, matching_form

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
