"""The alerter's fast paths give the answers of the plain algorithms they replace.

Why: the alerter skips work for speed (issue 7) — tokens read from cached space-separated chunks
instead of one regex pass, articles settled before the full scan when no lexicon term can match,
entities counted with plain dicts.  Each shortcut is only correct if it agrees with the plain definition on every input,
including the awkward ones (empty text, runs of spaces, tabs, newlines, punctuation glued to words,
underscores, digits, Arabic and English, broken bytes); these tests compare them.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from pathlib import Path

import pytest

from schemas.models import Entity, EntityType
from services.alerter import core
from services.alerter.core import Lexicon, _rest_matches, _scan, _Tokens, detect
from services.normalizer.textforms import display_form, matching_form
from tests.unit.test_alerter import NOW, SEEDS, make_article

DATA = Path(__file__).resolve().parents[1] / "data"
ROBUSTNESS = [json.loads(line)["text"] for line in (DATA / "alerter_robustness.jsonl").read_text("utf-8").splitlines()]

# The definition the chunked tokens must reproduce: maximal runs of letters and digits, and the gaps between.
PLAIN_SPLIT = re.compile(r"([^\W_]+)")
GAP_OK = re.compile(r"[\s\"'()\-/]*")

AWKWARD = [
    "",
    " ",
    "   ",
    "word",
    "  leading and trailing  ",
    "two  spaces   three    four",
    "tab\tseparated\twords",
    "line\nbreaks\n\nand\r\nwindows",
    "قال:«القصف» (2020) - و/أو، ثم.انتهى؟",
    "snake_case __dunder__ _x_",
    "2020)\nوقال 1990s ١٢٣ ۴۵ x²",
    "\"quoted\" 'single' (brackets) hyphen-ated slash/ed",
    "no\u00a0break\u2009thin\u3000ideographic",  # other Unicode spaces: gaps, not chunk separators
    "وبالقصف،والاشتباكات... هجوما بريا!",
    "Odesa missile attack kills 20\nODESA, Ukraine — Russian forces launched",
]


def _texts() -> list[str]:
    """Awkward strings plus real articles (seeds and the robustness set) in matching form."""
    real = [path.read_text("utf-8") for path in SEEDS] + ROBUSTNESS
    return AWKWARD + [matching_form(display_form(text)) for text in real]


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load()


def _tokens(text: str, lexicon: Lexicon) -> _Tokens:
    chunks = text.split(" ")
    lexicon.loud(chunks)  # makes the chunks known, as detect does
    return _Tokens.of(text, chunks, lexicon.chunk_words(chunks))


@pytest.mark.parametrize("text", _texts())
def test_chunked_tokens_equal_the_regex_split(text: str, lexicon: Lexicon) -> None:
    """Words, offsets and gap tests read from cached chunks equal those of one regex split of the text."""
    parts = PLAIN_SPLIT.split(text)
    words = parts[1::2]
    tokens = _tokens(text, lexicon)
    assert tokens.words == words
    offset = 0
    for i, word in enumerate(words):
        offset += len(parts[2 * i])
        assert (tokens.start(i), tokens.end(i)) == (offset, offset + len(word))
        assert text[tokens.start(i):tokens.end(i)] == word
        if i:
            assert tokens.gap_ok(i) == (GAP_OK.fullmatch(parts[2 * i]) is not None)
        offset += len(word)


@pytest.mark.parametrize("text", _texts())
def test_prefilter_never_drops_an_article_with_a_term(text: str, lexicon: Lexicon) -> None:
    """``detect`` stops early when no chunk is loud or no term matches in full from a loud chunk; the full
    scan must then find no term either (it may find cues: they alone never alert)."""
    chunks = text.split(" ")
    loud = lexicon.loud(chunks)
    passes = any(lexicon.term_from(chunks, c) for c in loud)
    hits, _ = _scan(_tokens(text, lexicon), lexicon)
    if any(hit.entry.kind == "term" for hit in hits):
        assert passes


TERM_EDGES = [
    pytest.param("بدأ التقدم البري", id="two-word-term"),
    pytest.param("قوات التقدم", id="first-word-at-the-end"),
    pytest.param("بدأ التقدم  البري", id="empty-chunk-between"),
    pytest.param("بدأ التقدم\nالبري", id="newline-between"),
    pytest.param("بدأ التقدم، البري", id="comma-between-is-no-match"),
    pytest.param("بدأ التقدم (البري)", id="bracket-between"),
    pytest.param("التقدم-البري التقدم/البري", id="one-chunk"),
    pytest.param("اندلع القتال", id="one-word-term"),
    pytest.param("وقف إطلاق النار", id="blocker-around-a-term-word"),
]


@pytest.mark.parametrize("content", [*TERM_EDGES, *_texts()])
def test_term_from_equals_matching_on_the_whole_text(content: str, lexicon: Lexicon) -> None:
    """``term_from`` looks only at a loud chunk and a few after it, and tests the second word before any
    offset: it must say exactly whether a term matches in full from that chunk's tokens in the whole text."""
    text = matching_form(display_form(content))
    chunks = text.split(" ")
    loud = lexicon.loud(chunks)
    tokens = _tokens(text, lexicon)
    ends = list(accumulate(map(len, lexicon.chunk_words(chunks))))
    for c in loud:
        expected = any(
            _rest_matches(tokens, entry, i)
            for i in range(ends[c] - len(lexicon.chunk_words([chunks[c]])[0]), ends[c])
            for entry in lexicon.terms_at(tokens.words[i])
        )
        assert lexicon.term_from(chunks, c) == expected


def test_term_edges_cover_both_answers(lexicon: Lexicon) -> None:
    """The edge cases above include loud chunks with and without a term in full."""
    answers = set()
    for param in TERM_EDGES:
        text = matching_form(display_form(str(param.values[0])))
        chunks = text.split(" ")
        answers.update(lexicon.term_from(chunks, c) for c in lexicon.loud(chunks))
    assert answers == {True, False}


def test_prefilter_is_exercised_both_ways(lexicon: Lexicon) -> None:
    """The invariant above is not vacuous: among real articles some have no loud chunk, some have loud chunks
    but no term in full (a term's first word alone), and some pass to the full scan."""
    outcomes = set()
    for text in _texts()[len(AWKWARD):]:
        chunks = text.split(" ")
        loud = lexicon.loud(chunks)
        outcomes.add("quiet" if not loud else "full" if any(lexicon.term_from(chunks, c) for c in loud) else "first")
    assert outcomes == {"quiet", "first", "full"}


@pytest.mark.parametrize("bound", ["_CHUNKS_CACHE_MAX", "_STARTS_CACHE_MAX"])
def test_caches_are_bounded_and_results_survive_a_clear(
    bound: str, lexicon: Lexicon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk and token caches are cleared when full (a long-running worker sees an open vocabulary),
    each on its own; articles processed across clears get the same alerts as with warm caches."""
    texts = [path.read_text("utf-8") for path in SEEDS] + ROBUSTNESS
    warm = [detect(make_article(t), lexicon=lexicon, now=NOW) for t in texts]
    small = Lexicon.load()
    monkeypatch.setattr(core, bound, 50)
    cold = [detect(make_article(t), lexicon=small, now=NOW) for t in texts]
    assert cold == warm
    assert any(alert is not None for alert in cold)
    largest = max(len(set(matching_form(display_form(t)).split(" "))) for t in texts)
    cache = small._chunk_words if bound == "_CHUNKS_CACHE_MAX" else small._starts
    assert len(cache) <= max(50, 3 * largest)


def _entity(text: str, etype: EntityType, canonical: str, start: int) -> Entity:
    return Entity(text=text, type=etype, canonical=canonical, name=canonical, start=start,
                  end=start + len(text), confidence=0.9)


def test_alert_entities_rank_ties_by_first_mention_and_keep_three_forms(lexicon: Lexicon) -> None:
    """Entities arrive in any order: ranked by mentions, ties by first mention in the text, at most three
    distinct surface forms each (first seen first), organisations left out."""
    content = "غارات جوية تقتل 12 مدنيا في إدلب\nقتل 12 مدنيا في غارات جوية على إدلب وقصف مدفعي على حماة."
    ents = [
        _entity("حماة", "LOC", "hama", 90),
        _entity("ادلب", "LOC", "idlib", 60),
        _entity("إدلب", "LOC", "idlib", 27),
        _entity("أدلب", "LOC", "idlib", 70),
        _entity("إدلب", "LOC", "idlib", 75),
        _entity("Idlib", "LOC", "idlib", 80),
        _entity("حماه", "LOC", "hama", 40),
        _entity("الأسد", "PERSON", "assad", 35),
        _entity("الأمم المتحدة", "ORG", "un", 0),
        _entity("الأمم المتحدة", "ORG", "un", 5),
        _entity("الأمم المتحدة", "ORG", "un", 8),
    ]
    alert = detect(make_article(content, entities=ents), lexicon=lexicon, now=NOW)
    assert alert is not None
    assert [e.canonical for e in alert.entities] == ["idlib", "hama", "assad"]
    assert alert.entities[0].mentions == ["إدلب", "ادلب", "أدلب"]
    assert alert.entities[1].mentions == ["حماه", "حماة"]


@pytest.mark.parametrize(("year", "history"), [
    pytest.param("2020", True, id="past-year"),
    pytest.param("2024", False, id="this-year"),
    pytest.param("20201", False, id="five-digits"),
    pytest.param("1750", False, id="before-1800"),
])
def test_only_four_digit_past_years_make_history(year: str, history: bool, lexicon: Lexicon) -> None:
    """A sentence dated "في عام <year>" is history (discounted) only for a past year 18xx-20xx: the year
    test now runs on digit tokens only, with the same regex."""
    content = f"اشتباكات عنيفة\nاندلعت اشتباكات عنيفة في عام {year} بين الجيش والمتمردين وقتل 30 شخصا."
    alert = detect(make_article(content, published_at="2024-05-01"), lexicon=lexicon, now=NOW, emit_low=True)
    plain = detect(make_article(content.replace(year, "")), lexicon=lexicon, now=NOW, emit_low=True)
    assert plain is not None
    assert (alert is None or alert.score < plain.score) == history
