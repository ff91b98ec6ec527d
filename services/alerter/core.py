"""Functional core of the alerter: lexicon matching, context rules, scoring.

Plain Python, no Faust and no I/O at call time: :meth:`Lexicon.load` reads and
compiles the lexicon once; :func:`detect` is a pure function of an enriched
article, the lexicon and the clock value ``now`` handed in by the caller.

Matching runs on ``article.match_text`` (same length as ``article.text``), one
pass over its tokens.  An Arabic token is compared through a small set of
candidate forms (the token itself, the token without attached proclitics
و ف ب ل ك / ال / لل, without the accusative alef, ``-تها`` → ``-ة``), so
``وبالقصف`` matches ``قصف`` and ``هجوما بريا`` matches ``هجوم بري``.  English
matching is case-insensitive on whole words.  Terms and *context cues* (sport,
drills, disasters, denials, hypotheticals, negations, history markers, and
"blockers" such as وقف إطلاق النار) share one index and the longest expression
wins at each position, so a blocker swallows the escalation term inside it.  The
lexicon file adds context categories of its own (``figurative``, ``de_escalation``,
``breakdown``: :class:`Context`), data with their factors, compiled into the same index.

Speed (issue 7): the text is read as space-separated chunks whose tokens are cached by the
lexicon, and an article in which no lexicon term can match in full (most articles) is settled
from those chunks alone, before the tokens, offsets and context cues of the full scan.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import operator
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, chain, compress
from pathlib import Path
from typing import Any, Literal, cast

from schemas.models import Alert, AlertEntity, AlertMatch, EnrichedArticle, Entity, Severity
from services.common.datafiles import read_jsonl
from services.common.text import dateline_span
from services.entities.shared import capital_ids
from services.normalizer.textforms import display_form, matching_form

DEFAULT_LEXICON = Path(__file__).parent / "data" / "lexicon.jsonl"

CATEGORIES = frozenset({
    "military_operation", "strikes_shelling", "armed_clashes", "casualties", "mobilisation_threat",
    "emergency_diplomacy", "atrocity", "siege_blockade", "coup", "displacement",
})
LANGS = frozenset({"ar", "en"})
# What a casualty term counts, for the death toll an alert reports (``Alert.casualties``): a number next to a
# "dead" term is a toll; one next to an "injured" term is not (it claims the number from a "dead" term farther
# away: "5 killed and 40 wounded" reports 5).  Casualty terms without a toll ("casualties", "ضحايا") count none.
TOLLS = frozenset({"dead", "injured"})

# Context cues, written in normal Arabic / English and compiled like lexicon terms.
_VERBAL = ("حادا", "لاذعا", "كلاميا", "إعلاميا", "شرسا على الحكومة")
_CUES: dict[str, tuple[str, ...]] = {
    "sport": (
        "مباراة", "المباراة", "الدوري", "سجل هدفا", "الهدف الأول", "الهدف الثاني", "الهدف الثالث",
        "هدف التعادل", "أهداف دون رد", "ضربة جزاء", "ركلة جزاء", "المنتخب", "منتخب", "كرة القدم", "ملعب",
        "مرمى", "الشوط", "المدرب", "لاعبين", "لاعبيه", "لاعبو", "تصفيات", "كأس العالم", "كأس", "نادي",
        "تسديدة", "صافرة", "حارس المرمى", "match", "premier league", "champions league", "goalkeeper",
        "own goal", "penalty", "stadium", "striker", "scored", "derby", "champions", "club", "tournament",
        "football", "soccer", "midfielder", "supporters", "fans", "title race", "kick-off", "half-time",
    ),
    "drill": (
        "مناورات", "مناورة", "تدريبات", "تدريب", "التدريب المشترك", "تمرين", "تمارين", "رمايات",
        "الذخيرة الحية", "exercise", "exercises", "drill", "drills", "war games", "wargames",
    ),
    "disaster": (
        "زلزال", "الزلزال", "هزة أرضية", "فيضانات", "فيضان", "إعصار", "سيول", "تسونامي", "بركان",
        "انهيار أرضي", "الانهيارات الصخرية", "حرائق الغابات", "حادث سير", "حادث مروري", "تصادم", "غرق",
        "earthquake", "quake", "flood", "floods", "flooding", "hurricane", "cyclone", "typhoon", "wildfire",
        "wildfires", "tsunami", "landslide", "road accident", "car crash", "plane crash", "collision",
    ),
    "denial": (
        "نفى", "نفت", "ينفي", "تنفي", "نفي", "نفيا", "أنكر", "كذب", "denied", "denies", "deny",
        "false reports", "أخبار كاذبة", "شائعات",
    ),
    "hypothetical": (
        "إذا", "لو", "في حال", "في حالة", "if", "unless", "in case", "in the event",
    ),
    "negation": (
        "لم", "لن", "لا", "دون", "بدون", "عدم", "not", "no", "never", "without", "didn", "wasn", "weren",
    ),
    "history": (
        "ذكرى", "الذكرى", "التسعينيات", "الثمانينيات", "السبعينيات", "الستينيات", "حقبة", "قبل عقود",
        "anniversary", "1990s", "1980s", "1970s", "decades ago", "remembered", "remembering", "recounts",
        "memoir", "book review", "يستذكر", "تستذكر", "يستعيد", "تستعيد", "ذكريات", "مذكرات",
    ),
    # Fiction and entertainment: films, series, novels, games about war.
    "culture": (
        "فيلم", "الفيلم", "مسلسل", "المسلسل", "رواية", "الرواية", "شباك التذاكر", "السينما", "مهرجان", "لعبة فيديو",
        "film", "movie", "box office", "novel", "series finale", "video game", "cinema", "blockbuster",
        "film festival", "screenplay",
    ),
    # Crime news: gangs, suspects, smugglers (police work, not war).
    "crime": (
        "عصابة", "عصابات", "المشتبه", "مشتبه", "تجار المخدرات", "المخدرات", "مهربين", "سطو", "جريمة", "جنائية",
        "gang", "gangs", "drug gang", "suspect", "suspects", "smugglers", "robbery", "criminal", "criminals",
        "cartel", "drug",
    ),
    # A political or figurative target right after an "attack" word: "هجوما على وزير المالية", "attack on the
    # government", "offensive against mosquitoes", "حربه على التضخم" (see _verbal_sentences).
    "political": (
        "وزير", "وزيرة", "الحكومة", "حكومة", "المعارضة", "البرلمان", "النائب", "الحزب", "حزب", "الصحافة",
        "منتقديه", "خصومه", "سياسة", "سياسات", "قرارات", "الموازنة", "الميزانية",
        "minister", "government", "opposition", "parliament", "party", "critics", "rivals", "policy",
        "policies", "budget", "press", "media",
        "التضخم", "الفساد", "الفقر", "البطالة", "الأوبئة", "الوباء", "البعوض", "التدخين", "السمنة", "الأسعار",
        "inflation", "corruption", "poverty", "unemployment", "mosquitoes", "dengue", "virus", "cancer", "obesity",
        "smoking", "prices", "drugs",
    ),
    # Expressions that contain an escalation term but are not escalation.
    "block": (
        "وقف إطلاق النار", "لوقف إطلاق النار", "اتفاق لوقف إطلاق النار", "خفض التصعيد", "تهدئة", "ceasefire",
        "cease-fire", "de-escalation", "trade war", "price war", "حرب الأسعار", "الحرب التجارية",
        "attacking midfielder", "heart attack", "panic attack", "hunger strike", "strike action", "workers strike",
        "اضراب", "هجوم إلكتروني", "cyber attack", "cyberattack", "لا تزال", "لا يزال", "ما زال", "ما زالت",
        "لم يسبق", "not only", "no fewer", "no less", "exercise restraint", "exercised restraint",
        "انقلاب حافلة", "انقلاب سيارة", "انقلاب شاحنة", "انقلاب قارب", "انقلاب مركب", "scathing attack",
        "verbal attack", "blistering attack", "personal attack", "attack on the press",
        *(f"{verb} هجوما {adj}" for verb in ("شن", "شنت", "يشن", "تشن") for adj in _VERBAL),
        *(f"هجوما {adj}" for adj in _VERBAL), "هجوم حاد", "هجوم لاذع", "هجوم كلامي", "هجوم إعلامي",
    ),
}
_SENTENCE_FACTOR = {
    "sport": 0.1, "drill": 0.1, "disaster": 0.15, "denial": 0.2, "history": 0.2, "culture": 0.15, "verbal": 0.1,
    "crime": 0.3,
}
_HYPOTHETICAL_FACTOR = 0.3
_NEGATION_FACTOR = 0.1
_NEGATION_WINDOW = 4
_FRAME_FACTOR = {"sport": 0.2, "drill": 0.3, "disaster": 0.35, "culture": 0.2, "crime": 0.3}
_ATTACK_CATEGORIES = frozenset({"military_operation", "strikes_shelling"})
_POLITICAL_WINDOW = 4  # tokens after an attack word in which a political target makes it verbal
_FRAME_MIN_HITS = 3
# Context categories may also be defined in the lexicon file (``{"context": …}`` rows, see Lexicon.from_rows):
# names must be new, lowercase words; these are the built-in kinds.
_CONTEXT_NAME = re.compile(r"[a-z][a-z_]*")
# ``toll``, usable in ``cancelled_by`` only: a sentence that reports a death toll in digits ("kills 3").
REPORTED_TOLL = "toll"
_BUILTIN_KINDS = frozenset({"term", "history", "verbal", REPORTED_TOLL, *_CUES})
_CONTEXT_FIELDS = frozenset({"context", "sentence_factor", "article_factor", "cancelled_by", "note"})
_TERM_FIELDS = frozenset({"term", "lang", "category", "weight", "toll"})
# Deaths or displacement alone are as likely crime, accident or disaster news.
_SUPPORT_ONLY = frozenset({"casualties", "displacement"})
_SUPPORT_ONLY_FACTOR = 0.3
_STRICT_CUES = frozenset({"negation", "hypothetical"})
_THREAT_CATEGORIES = frozenset({"mobilisation_threat", "emergency_diplomacy"})
_HOSTILE_OPS = frozenset({"military_operation", "strikes_shelling"})

_TITLE_FACTOR = 2.0
_LEAD_FACTOR = 1.25
_LEAD_CHARS = 400
_NUMBER_FACTOR = 1.3
_MIN_CONTEXT = 0.5  # matches discounted below this are not reported

THRESHOLD_ALERT = 5.0
THRESHOLD_LOW = 2.0

_MONTHS = frozenset(matching_form(m) for m in (
    "يناير", "فبراير", "مارس", "أبريل", "إبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر",
    "نوفمبر", "ديسمبر", "كانون", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول", "تشرين",
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
))
_YEAR_LEADS = frozenset(matching_form(w) for w in (
    "في", "عام", "سنة", "منذ", "خريف", "ربيع", "صيف", "شتاء", "مطلع", "أواخر", "منتصف", "نهاية", "بداية",
    "خلال", "in", "since", "during", "of", "by",
))

_TOKEN = re.compile(r"[^\W_]+")
# A sentence ends after a run of newlines, or after a run of . ! ? ؟ ؛ ; followed by a space, a quote, a
# bracket or the end.  Written to start with one character set (the regex engine then skips ahead to
# candidate characters): the same matches as r"\n+|[.!?؟؛;]+(?=[\s\"')]|$)", about five times faster.
_SENTENCE_END = re.compile(r"[\n.!?؟؛;](?:(?<=\n)\n*|(?<!\n)[.!?؟؛;]*(?=[\s\"')]|$))")
_GAP_OK = re.compile(r"[\s\"'()\-/]*")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_YEAR = re.compile(r"(?:1[89]|20)\d\d")
_DIGITS = re.compile(r"\d+")
_COUNT = re.compile(r"[وف]?(\d+)")  # a number token, "و30" of "12 قتيلا و30 جريحا" included
_THOUSANDS = re.compile(r"\d{3}")
# A number in front of these is not a head count ("killed 10 km from", "قتل قبل 3 أيام").
_NOT_COUNTS = frozenset(matching_form(w) for w in (
    "km", "kilometres", "kilometers", "miles", "metres", "meters", "minutes", "hours", "days", "weeks", "months",
    "years", "percent", "per", "am", "pm", "كيلومتر", "كيلومترات", "كلم", "كم", "ميل", "متر", "مترا", "أمتار",
    "دقيقة", "دقائق", "ساعة", "ساعات", "يوم", "يوما", "أيام", "أسبوع", "أسابيع", "شهر", "شهرا", "أشهر",
    "عام", "عاما", "أعوام", "سنة", "سنوات", "بالمئة", "بالمائة", "صباحا", "مساء",
))
_TOLL_BEFORE = 3  # "12 people were killed": the number up to 3 tokens before a casualty term
_TOLL_AFTER = 4  # "killed at least 12", "ارتفعت حصيلة القتلى في المدينة إلى 40": up to 4 after
_ALERT_ENTITY_TYPES = frozenset({"PERSON", "LOC"})
_START = operator.attrgetter("start")


_STARTS_CACHE_MAX = 200_000
_CHUNKS_CACHE_MAX = 100_000  # ~400 bytes per chunk with its tokens and offsets: ~40 MB at most


class LexiconError(ValueError):
    """A lexicon file row is invalid."""


@dataclass(frozen=True, slots=True)
class _Entry:
    words: tuple[str, ...]
    kind: str  # "term" or a cue kind
    category: str
    weight: float
    key: int
    toll: str | None = None  # casualty terms: "dead" or "injured" (see TOLLS)


@dataclass(frozen=True, slots=True)
class _Starts:
    """The entries a token can start: the index entry lists of its forms (most literal form first), and
    what rules most of them out at a glance."""

    lists: tuple[list[_Entry], ...]
    single: bool  # some entry is one word long
    seconds: frozenset[str]  # the second words of the longer entries


@dataclass(frozen=True, slots=True)
class Term:
    """One lexicon row."""

    term: str
    lang: str
    category: str
    weight: float
    toll: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """A context category defined in the lexicon file, whose cues lower the score of the terms around them.

    ``sentence_factor``: every term in a sentence with one of its cues counts that much.  ``article_factor``:
    when its cues frame the article (a cue in the headline, or three in the text), every term counts that
    much.  ``cancelled_by``: contexts whose cue lifts this one — in the same sentence for the sentence
    factor, anywhere in the article for the article factor ("withdrew heavy weapons under the accord" is
    de-escalation, "violated the accord to withdraw heavy weapons" is not).  A context with no factor is a
    marker that only cancels others.
    """

    name: str
    sentence_factor: float | None = None
    article_factor: float | None = None
    cancelled_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Cue:
    """One cue of a context category of the lexicon file."""

    term: str
    lang: str
    context: str


def _bare(word: str) -> str:
    """Lexicon word → the form tokens are compared to (Arabic article dropped)."""
    if word.startswith("ال") and len(word) > 3:
        return word[2:]
    return word


@lru_cache(maxsize=200_000)
def _forms(token: str) -> tuple[str, ...]:
    """Candidate forms of a matching-form token (see module docstring), most literal first.

    A tuple in a fixed order, not a set: which lexicon entry wins when two forms match must not
    depend on string hashing, or the same article would score differently in two processes.
    """
    if not _ARABIC.match(token):
        return (token,)
    bases = [token]
    if token[0] in "وف" and len(token) > 3:
        bases.append(token[1:])
    for base in list(bases):
        if base.startswith("لل") and len(base) > 4:
            bases.append(base[2:])
        if base[0] in "بلك" and len(base) > 3:
            bases.append(base[1:])
    out = dict.fromkeys(bases)
    for base in bases:
        if base.startswith("ال") and len(base) > 3:
            out[base[2:]] = None
    for form in list(out):
        if form.endswith("ا") and len(form) >= 4:
            out[form[:-1]] = None
        if form.endswith(("ها", "هم", "هن")) and len(form) >= 5:
            out[form[:-2]] = None
            if form[-3] == "ت":
                out[form[:-3] + "ه"] = None
    return tuple(out)


def _words(text: str) -> tuple[str, ...]:
    return tuple(_bare(t) for t in _TOKEN.findall(matching_form(display_form(text))))


@dataclass(slots=True)
class Lexicon:
    """Compiled escalation lexicon plus the context cues: built-in (``_CUES``) and from the file (``contexts``)."""

    terms: list[Term]
    contexts: dict[str, Context] = field(default_factory=dict)
    cues: list[Cue] = field(default_factory=list)
    # Per context kind, built-in and from the file: the sentence and article (frame) factors.
    sentence_factors: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    frame_factors: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _index: dict[str, list[_Entry]] = field(default_factory=dict, init=False, repr=False)
    # token → the entries it can start (None for most tokens).  A cache over the vocabulary seen, bounded
    # like ``_forms``.
    _starts: dict[str, _Starts | None] = field(default_factory=dict, init=False, repr=False)
    # Index key → the lexicon terms (not context cues) it starts, in index order.
    _term_index: dict[str, list[_Entry]] = field(default_factory=dict, init=False, repr=False)
    # A text is cut at single spaces into *chunks* ("بالقصف،", "2020)\nوقال"); no token spans a space, so a
    # text's tokens are its chunks' tokens in order.  Caches over the chunks seen (bounded): ``_chunk_words``,
    # chunk → its tokens; ``_loud``, chunk → for each of its tokens that can start a lexicon term, its
    # position, whether a one-word term is among those terms, and the second words of the others (an empty
    # tuple, falsy, for most chunks).
    _chunk_words: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False, repr=False)
    _loud: dict[str, tuple[tuple[int, bool, frozenset[str]], ...]] = field(
        default_factory=dict, init=False, repr=False
    )
    _longest_term: int = field(default=1, init=False, repr=False)  # words

    def __post_init__(self) -> None:
        index: dict[str, list[_Entry]] = defaultdict(list)
        for key, term in enumerate(self.terms):
            words = _words(term.term)
            index[words[0]].append(_Entry(words, "term", term.category, term.weight, key, term.toll))
        key = len(self.terms)
        builtin = ((kind, cue) for kind, cues in _CUES.items() for cue in cues)
        for kind, cue in chain(builtin, ((c.context, c.term) for c in self.cues)):
            words = _words(cue)
            index[words[0]].append(_Entry(words, kind, kind, 0.0, key))
            key += 1
        contexts = self.contexts.values()
        self.sentence_factors = _SENTENCE_FACTOR | {c.name: c.sentence_factor for c in contexts
                                                    if c.sentence_factor is not None}
        self.frame_factors = _FRAME_FACTOR | {c.name: c.article_factor for c in contexts
                                              if c.article_factor is not None}
        for entries in index.values():
            entries.sort(key=lambda e: (-len(e.words), e.kind != "term"))
        self._index = dict(index)
        terms = {k: [e for e in entries if e.kind == "term"] for k, entries in index.items()}
        self._term_index = {k: entries for k, entries in terms.items() if entries}
        self._longest_term = max(len(e.words) for entries in self._term_index.values() for e in entries)

    def __len__(self) -> int:
        return len(self.terms)

    def starts(self, words: list[str]) -> list[_Starts | None]:
        """For each token, the entries it can start (None for most tokens)."""
        known = self._starts
        try:  # the tokens of the chunks :meth:`loud` learnt are known: no set of the words needed, 29 → 14 us
            return list(map(known.__getitem__, words))
        except KeyError:  # this cache was cleared since
            pass
        missing = set(words).difference(known)
        if missing:
            if len(known) + len(missing) > _STARTS_CACHE_MAX:
                known.clear()
                missing = set(words)
            index = self._index
            for word in missing:
                lists = tuple(index[form] for form in _forms(word) if form in index)
                sizes = [e.words for e in chain.from_iterable(lists)]
                single, seconds = any(len(w) == 1 for w in sizes), frozenset(w[1] for w in sizes if len(w) > 1)
                known[word] = _Starts(lists, single, seconds) if lists else None
        return list(map(known.__getitem__, words))

    def loud(self, chunks: list[str]) -> list[int]:
        """The positions of the chunks (of ``text.split(" ")``) with a token that can start a lexicon term.

        An article without one cannot alert: one cached lookup per chunk (C speed, ~30 us for a
        3,300-character article) settles it without tokenising the text (~90 us) or scanning it.
        Also makes every chunk known to :meth:`chunk_words`.
        """
        try:  # (not ``.get`` and a test for None: that test alone was 8 us)
            flags = list(map(self._loud.__getitem__, chunks))
        except KeyError:  # a chunk not seen yet
            self._learn(chunks)
            flags = list(map(self._loud.__getitem__, chunks))
        return list(compress(range(len(chunks)), flags))

    def _learn(self, chunks: list[str]) -> None:
        known, loud = self._chunk_words, self._loud
        missing = set(chunks).difference(known)
        if len(known) + len(missing) > _CHUNKS_CACHE_MAX:
            known.clear()
            loud.clear()
            missing = set(chunks)
        learnt = {chunk: tuple(_TOKEN.findall(chunk)) for chunk in missing}
        self.starts([word for words in learnt.values() for word in words])  # known with their chunks
        for chunk, words in learnt.items():
            known[chunk] = words
            starts = []
            for j, word in enumerate(words):
                sizes = [e.words for e in self.terms_at(word)]
                if sizes:
                    seconds = frozenset(w[1] for w in sizes if len(w) > 1)
                    starts.append((j, any(len(w) == 1 for w in sizes), seconds))
            loud[chunk] = tuple(starts)

    def term_from(self, chunks: list[str], c: int) -> bool:
        """Whether a lexicon term matches in full from a token of chunk ``c``, context aside (a blocker
        may still swallow it).  Most articles with a term's first word lack the rest ("التقدم" without
        "بري"): they stop here, before the full scan.  Looks only at chunk ``c`` and the next few."""
        known = self._chunk_words
        here = known[chunks[c]]
        for j, single, seconds in self._loud[chunks[c]]:
            if single:
                return True  # a one-word term matches as it is
            # The next token's forms must hold a second word (no offsets, no window needed): this rules
            # out most candidates, ~5 → ~2 us per loud chunk.
            if j + 1 < len(here):
                following = here[j + 1]
            else:
                e = c + 1
                while e < len(chunks) and not known[chunks[e]]:
                    e += 1
                if e == len(chunks):
                    continue
                following = known[chunks[e]][0]
            if not seconds.isdisjoint(_forms(following)):
                break
        else:
            return False
        first = len(here)
        need, end = first + self._longest_term - 1, c + 1
        count = first
        while count < need and end < len(chunks):
            count += len(known[chunks[end]])
            end += 1
        window = chunks[c:end]  # " ".join(window) is a slice of the text: same tokens, same gaps
        per_chunk = self.chunk_words(window)
        words = list(chain.from_iterable(per_chunk))
        candidates = [
            (i, entry) for i in range(first) for entry in self.terms_at(words[i])
            if len(entry.words) == 1 or (i + 1 < len(words) and entry.words[1] in _forms(words[i + 1]))
        ]
        if not candidates:
            return False
        tokens = _Tokens(" ".join(window), window, per_chunk, words)
        return any(_rest_matches(tokens, entry, i) for i, entry in candidates)

    def terms_at(self, word: str) -> Iterator[_Entry]:
        """The lexicon terms (not cues) the token ``word`` can start, by form (most literal first)."""
        index = self._term_index
        return chain.from_iterable(index[form] for form in _forms(word) if form in index)

    def chunk_words(self, chunks: list[str]) -> list[tuple[str, ...]]:
        """The tokens of each chunk; every chunk must have been seen by :meth:`loud` just before."""
        return list(map(self._chunk_words.__getitem__, chunks))

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, object]]) -> Lexicon:
        """Validate rows and compile.

        Three kinds of row: a *term* (``term``, ``lang``, one of :data:`CATEGORIES`, ``weight`` > 0, a
        ``toll`` only on casualty terms); a *context* definition (``context``: a new lowercase name,
        optional ``sentence_factor`` and ``article_factor`` in [0, 1), ``cancelled_by``: names of
        contexts or of term categories, ``note``: free text); a *cue* (``term``, ``lang``, ``category``: a
        context defined anywhere in the file, no weight).  No expression twice, compared in matching form, nor one that
        is a built-in cue.
        """
        rows = list(rows)
        contexts: dict[str, Context] = {}
        for n, row in enumerate(rows, 1):
            if isinstance(row, dict) and "context" in row:
                context = _context(n, row)
                if context.name in contexts:
                    raise LexiconError(f"row {n}: context {context.name!r} defined twice")
                contexts[context.name] = context
        for context in contexts.values():
            unknown = [c for c in context.cancelled_by
                       if c != REPORTED_TOLL and c not in CATEGORIES and (c not in contexts or c == context.name)]
            if unknown:
                raise LexiconError(
                    f"context {context.name!r}: cancelled_by names no other context or category: {unknown}")
        terms: list[Term] = []
        cues: list[Cue] = []
        builtin = {_words(cue): kind for kind, kind_cues in _CUES.items() for cue in kind_cues}
        seen: dict[tuple[str, ...], int] = {}
        for n, row in enumerate(rows, 1):
            if not isinstance(row, dict):
                raise LexiconError(f"row {n}: not an object")
            if "context" in row:
                continue
            category = row.get("category")
            is_cue = category in contexts
            extra = set(row) - ({"term", "lang", "category"} if is_cue else _TERM_FIELDS)
            if extra:
                raise LexiconError(f"row {n}: " + (f"a {category!r} cue has no " if is_cue else "unknown fields ")
                                   + str(sorted(extra)))
            term, lang = row.get("term"), row.get("lang")
            if not isinstance(term, str) or not term.strip():
                raise LexiconError(f"row {n}: term must be a non-empty string")
            if lang not in LANGS:
                raise LexiconError(f"row {n}: unknown lang {lang!r}")
            if not is_cue and category not in CATEGORIES:
                raise LexiconError(f"row {n}: unknown category {category!r}")
            words = _words(term)
            if not words:
                raise LexiconError(f"row {n}: term {term!r} has no word")
            if words in seen:
                raise LexiconError(f"row {n}: duplicate term {term!r} (same as row {seen[words]})")
            if is_cue and words in builtin:
                raise LexiconError(f"row {n}: cue {term!r} is already a built-in {builtin[words]!r} cue")
            seen[words] = n
            if is_cue:
                cues.append(Cue(term.strip(), str(lang), str(category)))
                continue
            weight, toll = row.get("weight"), row.get("toll")
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise LexiconError(f"row {n}: weight must be a number")
            if not math.isfinite(weight) or weight <= 0:
                raise LexiconError(f"row {n}: weight must be > 0, got {weight}")
            if toll is not None and (toll not in TOLLS or category != "casualties"):
                raise LexiconError(f"row {n}: toll {toll!r} (one of {sorted(TOLLS)}, on casualty terms only)")
            terms.append(Term(term.strip(), str(lang), str(category), float(weight), toll and str(toll)))
        if not terms:
            raise LexiconError("lexicon is empty")
        return cls(terms, contexts, cues)

    @classmethod
    def load(cls, path: Path | None = None) -> Lexicon:
        """Read a JSON-lines lexicon (default: the packaged one) and compile it."""
        return cls.from_rows(row for _, row in read_jsonl(path or DEFAULT_LEXICON, LexiconError))


def _factor(n: int, row: dict[str, object], key: str) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise LexiconError(f"row {n}: {key} must be a number in [0, 1), got {value!r}")
    return float(value)


def _context(n: int, row: dict[str, object]) -> Context:
    """A context definition row, validated (see :meth:`Lexicon.from_rows`)."""
    extra = set(row) - _CONTEXT_FIELDS
    if extra:
        raise LexiconError(f"row {n}: unknown fields {sorted(extra)}")
    name = row["context"]
    if not isinstance(name, str) or not _CONTEXT_NAME.fullmatch(name) or name in CATEGORIES | _BUILTIN_KINDS:
        raise LexiconError(f"row {n}: context name {name!r} must be a new lowercase word (not a category or built-in)")
    cancelled_by = row.get("cancelled_by", [])
    if not isinstance(cancelled_by, list) or not all(isinstance(c, str) for c in cancelled_by):
        raise LexiconError(f"row {n}: cancelled_by must be a list of context names")
    if not isinstance(row.get("note", ""), str):
        raise LexiconError(f"row {n}: note must be text")
    return Context(name, _factor(n, row, "sentence_factor"), _factor(n, row, "article_factor"), tuple(cancelled_by))


@dataclass(slots=True)
class _Hit:
    entry: _Entry
    tok: int  # index of first token
    start: int
    end: int
    sentence: int


def _strict_ok(token: str, word: str) -> bool:
    """Particles (لم، لا، إذا، عدم...) match only alone or after و/ف: "بعدما" is not "عدم"."""
    return token == word or (token[0] in "وف" and token[1:] == word)


@lru_cache(maxsize=_CHUNKS_CACHE_MAX)
def _chunk_spans(chunk: str) -> tuple[tuple[int, int], ...]:
    """Where the tokens of a chunk with punctuation ("(2020)", "القصف،") are in it: hits are often next
    to punctuation, and a regex pass per offset asked was a third of the time spent on offsets."""
    return tuple(m.span() for m in _TOKEN.finditer(chunk))


@dataclass(slots=True)
class _Tokens:
    """The word tokens of a text: ``words[i]`` is token ``i``, read from the text's space-separated chunks
    (tokens and chunks cached by the lexicon: no regex pass over the text, 91 → ~35 us); character
    offsets are computed on demand for the few tokens that need them (hits, years)."""

    text: str
    chunks: list[str]  # text.split(" ")
    per_chunk: list[tuple[str, ...]]  # the tokens of each chunk
    words: list[str]
    _counts: list[int] | None = None  # tokens in chunks 0..c, cumulative
    _starts: list[int] | None = None  # chunk c starts at _starts[c] + c (the spaces before it)

    @classmethod
    def of(cls, text: str, chunks: list[str], per_chunk: list[tuple[str, ...]]) -> _Tokens:
        return cls(text, chunks, per_chunk, list(chain.from_iterable(per_chunk)))

    def __len__(self) -> int:
        return len(self.words)

    def _span(self, i: int) -> tuple[int, int]:
        if self._counts is None:
            self._counts = list(accumulate(map(len, self.per_chunk)))
        if self._starts is None:
            self._starts = list(accumulate(map(len, self.chunks), initial=0))
        c = bisect.bisect_right(self._counts, i)
        at = self._starts[c] + c
        chunk = self.chunks[c]
        if len(chunk) == len(self.words[i]):  # the token is the whole chunk
            return at, at + len(chunk)
        start, end = _chunk_spans(chunk)[i - (self._counts[c - 1] if c else 0)]
        return at + start, at + end

    def start(self, i: int) -> int:
        return self._span(i)[0]

    def end(self, i: int) -> int:
        return self._span(i)[1]

    def gap_ok(self, i: int) -> bool:
        """Whether only spaces, quotes, brackets, hyphens or slashes separate token ``i - 1`` from token ``i``."""
        return _GAP_OK.fullmatch(self.text, self.end(i - 1), self.start(i)) is not None


def _rest_matches(tokens: _Tokens, entry: _Entry, i: int) -> bool:
    """Whether the words of ``entry`` after its first follow token ``i``, each separated by a light gap."""
    words = entry.words
    return i + len(words) <= len(tokens) and all(
        words[j] in _forms(tokens.words[i + j]) and tokens.gap_ok(i + j) for j in range(1, len(words))
    )


def _scan(tokens: _Tokens, lexicon: Lexicon) -> tuple[list[_Hit], list[int]]:
    """Longest lexicon or cue expression at each token, left to right, never overlapping.

    Only tokens with a form that starts some entry are tried (:meth:`Lexicon.starts`); the forms of
    the tokens that follow are computed only when a multi-word entry needs them.
    """
    match_text = tokens.text
    words = tokens.words
    starts = lexicon.starts(words)
    n = len(words)
    hits: list[_Hit] = []
    bounds: list[int] | None = None
    after = 0  # the first token not covered by the last hit
    for i in compress(range(n), starts):
        if i < after:
            continue
        can = starts[i]
        assert can is not None
        following: tuple[str, ...] | None = None  # the forms of token i + 1, once a longer entry needs them
        if not can.single:
            # Every entry needs a second word: most such tokens ("في" of "في حال", "قبل" of "قبل عقود")
            # are ruled out by one set test on the next token's forms (scan of alerting articles 175 → 150 us).
            following = _forms(words[i + 1]) if i + 1 < n else ()
            if can.seconds.isdisjoint(following):
                continue
        best: _Entry | None = None
        for entries in can.lists:
            for entry in entries:
                size = len(entry.words)
                if best is not None and size <= len(best.words):
                    break
                if i + size > n:
                    continue
                if entry.kind in _STRICT_CUES and not _strict_ok(words[i], entry.words[0]):
                    continue
                if size > 1:
                    # Most multi-word candidates fail on the next word: test it here before the general
                    # check (a call per candidate).
                    if following is None:
                        following = _forms(words[i + 1])
                    if entry.words[1] not in following or not _rest_matches(tokens, entry, i):
                        continue
                best = entry
                break
        if best is None:
            continue
        size = len(best.words)
        if bounds is None:
            bounds = [m.end() for m in _SENTENCE_END.finditer(match_text)]
        start, end = tokens.start(i), tokens.end(i + size - 1)
        hits.append(_Hit(best, i, start, end, bisect.bisect_right(bounds, start)))
        after = i + size
    return hits, bounds or []


def _ref_year(article: EnrichedArticle, now: float) -> int:
    if article.published_at and article.published_at[:4].isdigit():
        return int(article.published_at[:4])
    return time.gmtime(now).tm_year


def _past_year_sentences(tokens: _Tokens, bounds: list[int], ref_year: int) -> set[int]:
    """Sentences dated in a past year: "في عام 2020", "سبتمبر/ أيلول 2020", "in 1994"."""
    out: set[int] = set()
    words = tokens.words
    # Four digits, 18xx-20xx.  The regex only on the (rare) tokens of digits: 43 → 13 us.
    digits = compress(range(len(words)), map(str.isdigit, words))
    for k in (k for k in digits if _YEAR.fullmatch(words[k])):
        if int(words[k]) >= ref_year or k == 0:
            continue
        prev = _forms(words[k - 1])
        if not (_YEAR_LEADS.isdisjoint(prev) and _MONTHS.isdisjoint(prev)):
            out.add(bisect.bisect_right(bounds, tokens.start(k)))
    return out


def _verbal_sentences(terms: list[_Hit], political: list[tuple[int, int]]) -> set[int]:
    """Sentences where an attack word aims at a political target ("شن هجوما على وزير المالية",
    "launched an attack on the government"): a verbal attack, so the whole sentence is discounted."""
    out: set[int] = set()
    for hit in terms:
        if hit.entry.category not in _ATTACK_CATEGORIES:
            continue
        last = hit.tok + len(hit.entry.words) - 1
        if any(s == hit.sentence and 0 < t - last <= _POLITICAL_WINDOW for t, s in political):
            out.add(hit.sentence)
    return out


def _negated(hit: _Hit, negations: list[tuple[int, int]]) -> bool:
    """Whether a negation (لم, لا, عدم, not, no…) stands up to ``_NEGATION_WINDOW`` tokens before ``hit``,
    in its sentence."""
    return any(s == hit.sentence and 0 < hit.tok - t <= _NEGATION_WINDOW for t, s in negations)


def _file_contexts(
    cues: list[_Hit],
    lexicon: Lexicon,
    title_end: int,
    toll_sentences: set[int],
    sentence_cues: dict[int, set[str]],
    frame_hits: Counter[str],
    terms: list[_Hit],
) -> None:
    """Record the cues of the lexicon file's contexts (not negated) like the built-in ones: the sentence
    of each cue gets its kind, unless a cue of a context that cancels it is in the same sentence; a cue
    counts towards its context's frame (the headline's count three) unless a cancelling cue is anywhere
    in the article.  A sentence that reports a death toll in digits (``toll_sentences``) counts as a
    cue of the built-in context ``toll``, and a sentence with a lexicon ``terms`` hit counts as a cue of its
    category (``cancelled_by`` may name one: air strikes lift the weather context)."""
    by_sentence: dict[int, set[str]] = defaultdict(set)
    for sentence in toll_sentences:
        by_sentence[sentence].add(REPORTED_TOLL)
    for term in terms:
        by_sentence[term.sentence].add(term.entry.category)
    for hit in cues:
        by_sentence[hit.sentence].add(hit.entry.kind)
    present = set().union(*by_sentence.values())
    for hit in cues:
        kind = hit.entry.kind
        cancelled_by = lexicon.contexts[kind].cancelled_by
        if by_sentence[hit.sentence].isdisjoint(cancelled_by):
            sentence_cues[hit.sentence].add(kind)
        if kind in lexicon.frame_factors and present.isdisjoint(cancelled_by):
            frame_hits[kind] += _FRAME_MIN_HITS if hit.start < title_end else 1


def _near_number(tokens: _Tokens, hit: _Hit) -> bool:
    last = hit.tok + len(hit.entry.words) - 1
    for k in (hit.tok - 2, hit.tok - 1, last + 1, last + 2):
        if 0 <= k < len(tokens) and _DIGITS.fullmatch(tokens.words[k]):
            return True
    return False


def _count_at(tokens: _Tokens, k: int) -> int | None:
    """The head count token ``k`` starts ("12", "1,200" as two tokens joined by a comma, "و30"), or None
    when it is no count: not a number, the tail of "1,200", a year ("في عام 2014"), a distance, a
    duration or a percentage."""
    words = tokens.words
    match = _COUNT.fullmatch(words[k])
    if match is None:
        return None
    text = tokens.text
    if k > 0 and words[k - 1].isdigit() and text[tokens.end(k - 1):tokens.start(k)] == ",":
        return None  # the "200" of "1,200"
    digits, j = match.group(1), k
    while j + 1 < len(words) and _THOUSANDS.fullmatch(words[j + 1]) and text[tokens.end(j):tokens.start(j + 1)] == ",":
        digits, j = digits + words[j + 1], j + 1
    if _YEAR.fullmatch(digits) and k > 0:
        prev = _forms(words[k - 1])
        if not (_YEAR_LEADS.isdisjoint(prev) and _MONTHS.isdisjoint(prev)):
            return None
    end = tokens.end(j)
    if text[end:end + 1] in ("%", "٪") or (j + 1 < len(words) and words[j + 1] in _NOT_COUNTS):
        return None
    value = int(digits)
    return value or None


def _death_counts(tokens: _Tokens, bounds: list[int], hits: list[_Hit]) -> list[tuple[_Hit, int]]:
    """The numbers of people reported killed, each with its casualty term: a number next to a term whose
    toll is "dead" ("مقتل 12", "12 قتيلا", "killed at least 12", "12 people were killed").

    Each number belongs to the nearest casualty term of its sentence with a toll, up to
    :data:`_TOLL_BEFORE` tokens before it or :data:`_TOLL_AFTER` after it, so "5 killed and 40 wounded"
    gives 5, not 40.  A tie goes to the term before the number, except for a number written with و
    ("12 قتيلا و30 جريحا"), which opens the next phrase.  Numbers in words ("dozens", "عشرات", "ثلاثة")
    are not read.  ``hits`` are the casualty terms with a toll, context aside.
    """
    if not any(h.entry.toll == "dead" for h in hits):
        return []
    n = len(tokens)
    near: set[int] = set()
    for hit in hits:
        near.update(range(max(0, hit.tok - _TOLL_BEFORE), hit.tok))
        last = hit.tok + len(hit.entry.words) - 1
        near.update(range(last + 1, min(n, last + 1 + _TOLL_AFTER)))
    counts: list[tuple[_Hit, int]] = []
    for k in sorted(near):
        value = _count_at(tokens, k)
        if value is None:
            continue
        sentence = bisect.bisect_right(bounds, tokens.start(k))
        forward = tokens.words[k][0] in "وف"
        owners: list[tuple[int, bool, int, _Hit]] = []
        for j, hit in enumerate(hits):
            first, last = hit.tok, hit.tok + len(hit.entry.words) - 1
            if hit.sentence == sentence and (0 < first - k <= _TOLL_BEFORE or 0 < k - last <= _TOLL_AFTER):
                owners.append((first - k if k < first else k - last, (k < first) != forward, j, hit))
        if owners:
            owner = min(owners, key=lambda o: o[:3])[3]
            if owner.entry.toll == "dead":
                counts.append((owner, value))
    return counts


def alert_id(article_id: str) -> str:
    """Stable alert id: the same article always yields the same id (replays never duplicate)."""
    return "alert-" + hashlib.sha256(f"rasd-alert\x00{article_id}".encode()).hexdigest()[:24]


def _sentence_span(text: str, bounds: list[int], sentence: int) -> str:
    start = bounds[sentence - 1] if sentence > 0 else 0
    end = bounds[sentence] if sentence < len(bounds) else len(text)
    snippet = " ".join(text[start:end].split())
    if len(snippet) > 280:
        snippet = snippet[:279].rsplit(" ", 1)[0] + "…"
    return snippet


def _entities(article: EnrichedArticle, limit: int = 8) -> list[AlertEntity]:
    """The people and places most mentioned, ties in order of first mention, with up to 3 surface forms each.

    Filters before sorting by offset (a stable sort: same order) and counts with plain dicts: 63 → 44 us.
    """
    counts: dict[str, int] = {}
    first: dict[str, Entity] = {}
    mentions: dict[str, dict[str, None]] = {}
    # Where the report was filed is not where its event happened: a place named only in the dateline
    # ("كييف" on a report of a strike on Kharkiv) is not one of the alert's places.
    filed_from, filed_to = dateline_span(article.text, article.dateline)
    for ent in sorted((e for e in article.entities if e.type in _ALERT_ENTITY_TYPES), key=_START):
        if filed_from <= ent.start < filed_to:
            continue
        canonical = ent.canonical
        if canonical in first:
            counts[canonical] += 1
            forms = mentions[canonical]
            if len(forms) < 3:
                forms[ent.text] = None
        else:
            counts[canonical], first[canonical], mentions[canonical] = 1, ent, {ent.text: None}
    ranked = sorted(first, key=lambda c: -counts[c])  # stable: ties stay in order of first mention
    return [
        AlertEntity(canonical=c, name=first[c].name, type=first[c].type, mentions=list(mentions[c]),
                    lat=first[c].lat, lon=first[c].lon)
        for c in ranked[:limit]
    ]


def _severity(cats: dict[str, float], front: dict[str, float]) -> Severity:
    """``high`` for active hostilities up front (title or lead) with casualties or sustained strikes.

    An article whose headline and lead are about threats, build-ups, meetings or
    accusations stays ``medium`` even when its background paragraphs recall
    earlier fighting.
    """
    front_ops = sum(front.get(c, 0.0) for c in _HOSTILE_OPS)
    front_hostile = front_ops + front.get("armed_clashes", 0.0)
    ops = sum(cats.get(c, 0.0) for c in _HOSTILE_OPS)
    if front_hostile >= 2.0 and (front.get("casualties", 0.0) >= 2.0 or ops >= 6.0 or front_ops >= 5.0):
        return "high"
    if front.get("coup", 0.0) >= 2.0 and front.get("casualties", 0.0) >= 2.0:  # a coup with bloodshed
        return "high"
    return "medium"


def detect(article: EnrichedArticle, *, lexicon: Lexicon, now: float, emit_low: bool = False) -> Alert | None:
    """Return the escalation alert for ``article``, or None when it does not qualify."""
    if article.dedup.status == "duplicate":
        return None
    text, match_text = article.text, article.match_text
    # Most articles cannot alert: no term can start in them (one cached lookup per chunk), or none matches
    # in full.  Only the others are tokenised in full and scanned with context cues and offsets.
    chunks = match_text.split(" ")
    loud = lexicon.loud(chunks)
    if not any(lexicon.term_from(chunks, c) for c in loud):
        return None
    tokens = _Tokens.of(match_text, chunks, lexicon.chunk_words(chunks))
    hits, bounds = _scan(tokens, lexicon)
    if not hits:
        return None
    title_end = text.find("\n")
    title_end = len(text) if title_end < 0 else title_end

    # Context: per-sentence cue kinds, document frames, negation positions.
    sentence_cues: dict[int, set[str]] = defaultdict(set)
    frame_hits: Counter[str] = Counter()
    negations: list[tuple[int, int]] = []
    political: list[tuple[int, int]] = []
    terms: list[_Hit] = []
    from_file: list[_Hit] = []  # cues of the lexicon file's contexts: negations must be known first
    contexts = lexicon.contexts
    for hit in hits:
        kind = hit.entry.kind
        if kind == "term":
            terms.append(hit)
            continue
        if kind == "block":
            continue
        if kind == "negation":
            negations.append((hit.tok, hit.sentence))
            continue
        if kind == "political":
            political.append((hit.tok, hit.sentence))
            continue
        if kind in contexts:
            from_file.append(hit)
            continue
        sentence_cues[hit.sentence].add(kind)
        if kind in _FRAME_FACTOR:
            frame_hits[kind] += _FRAME_MIN_HITS if hit.start < title_end else 1
    if not terms:
        return None
    deaths = _death_counts(tokens, bounds, [h for h in terms if h.entry.toll])
    if from_file:
        live = [h for h in from_file if not _negated(h, negations)]
        _file_contexts(live, lexicon, title_end, {h.sentence for h, _ in deaths}, sentence_cues, frame_hits, terms)
    for sentence in _verbal_sentences(terms, political):
        sentence_cues[sentence].add("verbal")
    for sentence in _past_year_sentences(tokens, bounds, _ref_year(article, now)):
        sentence_cues[sentence].add("history")
    frame = 1.0
    frame_factors, sentence_factors = lexicon.frame_factors, lexicon.sentence_factors
    for kind, count in frame_hits.items():
        if count >= _FRAME_MIN_HITS:
            frame = min(frame, frame_factors[kind])

    seen: Counter[int] = Counter()
    cats: dict[str, float] = defaultdict(float)
    front: dict[str, float] = defaultdict(float)
    scored: list[tuple[_Hit, float, float]] = []  # hit, effective weight, context factor
    for hit in terms:
        entry = hit.entry
        ctx = frame
        for kind in sentence_cues.get(hit.sentence, ()):
            if kind in sentence_factors:
                ctx *= sentence_factors[kind]
            elif kind == "hypothetical" and entry.category not in _THREAT_CATEGORIES:
                ctx *= _HYPOTHETICAL_FACTOR
        if _negated(hit, negations):
            ctx *= _NEGATION_FACTOR
        weight = entry.weight * ctx
        if hit.start < title_end:
            weight *= _TITLE_FACTOR
        elif hit.start < title_end + _LEAD_CHARS:
            weight *= _LEAD_FACTOR
        if entry.category == "casualties" and _near_number(tokens, hit):
            weight *= _NUMBER_FACTOR
        weight /= 1 + seen[entry.key]
        seen[entry.key] += 1
        cats[entry.category] += weight
        if hit.start < title_end + _LEAD_CHARS and ctx >= _MIN_CONTEXT:
            front[entry.category] += weight
        scored.append((hit, weight, ctx))

    raw = sum(cats.values())
    present = {c for c, v in cats.items() if v >= 1.0}
    diversity = len(present)
    if present and present <= _SUPPORT_ONLY:
        raw *= _SUPPORT_ONLY_FACTOR
    score = raw * min(2.0, 1.0 + 0.25 * max(0, diversity - 1))
    severity: Severity
    if score >= THRESHOLD_ALERT:
        severity = _severity(cats, front)
    elif emit_low and score >= THRESHOLD_LOW:
        severity = "low"
    else:
        return None

    reported = [(h, w) for h, w, c in scored if c >= _MIN_CONTEXT] or [(h, w) for h, w, _ in scored]
    counted = {id(h) for h, _, c in scored if c >= _MIN_CONTEXT}  # the toll only from sentences that count
    matches = [
        AlertMatch(term=text[h.start:h.end], category=h.entry.category, weight=round(w, 3), start=h.start, end=h.end)
        for h, w in sorted(reported, key=lambda hw: hw[0].start)
    ]
    strongest = max(reported, key=lambda hw: hw[1])[0]
    title = article.title or text[:title_end]
    return Alert(
        alert_id=alert_id(article.id),
        article_id=article.id,
        story_id=article.story_id,
        severity=severity,
        score=round(score, 3),
        casualties=max((n for h, n in deaths if id(h) in counted), default=None),
        matches=matches,
        entities=_entities(article),
        title=title,
        snippet=_sentence_span(text, bounds, strongest.sentence),
        language=article.language,
        source=article.source,
        url=article.url,
        published_at=article.published_at,
        detected_at=now,
    )


# ----------------------------------------------------------------------------------- one alert per story

SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
MAX_STORY_ARTICLES = 64  # alerted article ids remembered per story (replay protection)
MAX_STORY_PLACES = 64  # place ids remembered per story (an alert names at most 8 people and places)
# A death toll grows "materially" when it reaches 1.5 times the highest figure sent for the story *and* at
# least 5 more: 4 → 12 or 20 → 40 is news, a toll revised in small steps (12 → 13 → 15) or a large one
# creeping (300 → 320) is not worth paging the desk again.  With no figure sent yet, 5 dead or more is news.
CASUALTY_RISE_FACTOR = 1.5
CASUALTY_RISE_MIN = 5
Action = Literal["new", "update", "suppressed", "replay"]
ACTIONS: tuple[Action, ...] = ("new", "update", "suppressed", "replay")
# Why an article of a story was sent as a new alert instead of being judged against the story: it names no
# place the story's alerts named (``disjoint``), or it or the story names no place at all (``unplaced``).
Disagreement = Literal["disjoint", "unplaced"]
DISAGREEMENTS: tuple[Disagreement, ...] = ("disjoint", "unplaced")


def alert_places(alert: Alert) -> tuple[str, ...]:
    """The canonical ids of the places an alert names (its ``LOC`` entities), in its order."""
    return tuple(dict.fromkeys(e.canonical for e in alert.entities if e.type == "LOC"))


@dataclass(frozen=True, slots=True)
class StoryState:
    """What the alerter remembers about one story: its highest alerted severity, latest alert, the places
    its alerts named and the highest death toll they reported.

    ``articles`` lists the articles that raised an alert for the story, so a replayed article is
    recognised and never alerts twice.  ``places`` (at most :data:`MAX_STORY_PLACES`, the latest kept)
    decide whether a new article is about the story's event at all.  Stored as JSON in a changelog-backed
    table keyed by story id; a state stored before places and tolls were kept reads with none of either.
    """

    alert_id: str
    severity: Severity
    articles: tuple[str, ...]
    places: tuple[str, ...] = ()
    casualties: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "severity": self.severity, "articles": list(self.articles),
            "places": list(self.places), "casualties": self.casualties,
        }

    @classmethod
    def from_json(cls, data: object) -> StoryState | None:
        """The state stored in a table (``None`` when absent)."""
        if not isinstance(data, dict):
            return None
        severity = data.get("severity")
        if severity not in SEVERITY_RANK:
            return None
        articles = tuple(str(a) for a in data.get("articles", ()))
        places = tuple(str(p) for p in data.get("places") or ())
        casualties = data.get("casualties")
        toll = casualties if isinstance(casualties, int) and not isinstance(casualties, bool) else None
        return cls(str(data["alert_id"]), cast(Severity, severity), articles, places, toll)


@dataclass(frozen=True, slots=True)
class StoryDecision:
    """The outcome for one candidate alert: what to send (if anything), the story's next state, and
    whether the candidate was sent because its places disagree with the story's."""

    action: Action
    alert: Alert | None
    state: StoryState | None
    disagreement: Disagreement | None = None


def casualties_grew(before: int | None, after: int | None) -> bool:
    """Whether a death toll ``after`` is material news over ``before`` (see :data:`CASUALTY_RISE_FACTOR`)."""
    if after is None:
        return False
    base = before or 0
    return after >= base + CASUALTY_RISE_MIN and after >= base * CASUALTY_RISE_FACTOR


Containers = Callable[[str], tuple[str, ...]]


def _no_containers(_: str) -> tuple[str, ...]:
    return ()


def _known(place: str, known: set[str], containers: Containers) -> bool:
    """Whether a story that alerted for ``known`` already covers ``place``: the same place, a place that
    contains one of them (Sudan, when Port Sudan was alerted), or one inside a region they name below the
    country (Rafah, when the Gaza Strip was).  A town inside a country the story named is news."""
    if place in known:
        return True
    return any(place in containers(k) for k in known) or any(c in known for c in containers(place)[:-1])


def decide_story(
    previous: StoryState | None, candidate: Alert, containers: Containers | None = None
) -> StoryDecision:
    """One alert per story, failing safe.  Pure: same inputs, same decision.

    * The first alert of a story goes out (``new``).
    * An article that already alerted for the story (a replay, a redelivery) never alerts again.
    * A candidate that shares no place with the places of the story's alerts so far, or when either
      side names no place at all, goes out as a ``new`` alert with its ``disagreement``: the grouping
      may have merged two events, and a wrong merge must not silence one of them.
    * Otherwise it goes out as an ``update`` (``supersedes`` = the story's latest alert) when its
      severity is higher than any sent, it names places the story's alerts did not, or its death toll
      grew materially (:func:`casualties_grew`); else it is ``suppressed``.

    Places are compared through ``containers`` (a place id → the ids containing it, nearest first, the
    country last: :meth:`~services.entities.core.Gazetteer.containers`): naming the country of a town
    already alerted shares a place and adds none, and only a new place inside a country (a town, a
    province; not its capital) is an update: a newly named country or capital is mostly a party to the
    story (a mediator, a government).  Without
    ``containers`` places are compared by id and every new place is an update.

    Every alert sent adds its places to the story's and raises its severity and toll to the highest sent.
    """
    places = alert_places(candidate)
    if previous is None:
        state = StoryState(
            candidate.alert_id, candidate.severity, (candidate.article_id,), places[-MAX_STORY_PLACES:],
            candidate.casualties,
        )
        return StoryDecision("new", candidate, state)
    if candidate.article_id in previous.articles:
        return StoryDecision("replay", None, previous)
    known = set(previous.places)
    # New geography is a town or a region inside a country; a country newly named is mostly a party to
    # the story (a mediator, a government's statement), so is a capital ("Washington urges…"), and a sea
    # or continent in passing is not news.
    added = tuple(p for p in places if not _known(p, known, containers or _no_containers))
    if containers is None:
        spread = bool(added)
    else:
        capitals = capital_ids()
        spread = any(containers(p) and p not in capitals for p in added)
    disagreement: Disagreement | None = None
    if not places or not known:
        disagreement = "unplaced"
    elif len(added) == len(places):
        disagreement = "disjoint"
    if disagreement is None and not (
        SEVERITY_RANK[candidate.severity] > SEVERITY_RANK[previous.severity]
        or spread
        or casualties_grew(previous.casualties, candidate.casualties)
    ):
        return StoryDecision("suppressed", None, previous)
    sent = candidate if disagreement else candidate.model_copy(update={"supersedes": previous.alert_id})
    tolls = [t for t in (previous.casualties, candidate.casualties) if t is not None]
    state = StoryState(
        sent.alert_id,
        max(previous.severity, candidate.severity, key=SEVERITY_RANK.__getitem__),
        (*previous.articles, candidate.article_id)[-MAX_STORY_ARTICLES:],
        (*previous.places, *added)[-MAX_STORY_PLACES:],
        max(tolls) if tolls else None,
    )
    return StoryDecision("new" if disagreement else "update", sent, state, disagreement)


def term_categories(match_text: str, lexicon: Lexicon) -> frozenset[str]:
    """The categories of the lexicon terms found in ``match_text`` (context cues aside: a blocker still
    swallows the term inside it).  What an article reports happening, for story grouping
    (``services/deduplicator/stories.py``), without scoring or evidence."""
    chunks = match_text.split(" ")
    if not lexicon.loud(chunks):
        return frozenset()
    hits, _ = _scan(_Tokens.of(match_text, chunks, lexicon.chunk_words(chunks)), lexicon)
    return frozenset(hit.entry.category for hit in hits if hit.entry.kind == "term")
