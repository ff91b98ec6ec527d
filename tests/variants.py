"""Republished variants of an original article, as newsrooms make them.

Each variant applies a few of these edits, chosen by a seeded random generator:
drop a paragraph, add a paragraph, boilerplate lines, tashkeel, other digit
forms, other punctuation, a reordered sentence, a new title.  Used by the unit
test on ``tests/data/originals.jsonl`` and by ``bench/dedup_variants.py`` on the
shared development originals.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

TASHKEEL = ("\u064e", "\u064f", "\u0650", "\u0651", "\u0652", "\u064b")
ARABIC_LETTER = re.compile("[\u0621-\u064a]")
BOILERPLATE = {
    "ar": ("تابعونا على تيليغرام", "اقرأ أيضاً:", "شارك هذا الخبر", "جميع الحقوق محفوظة © 2025", "المصدر: وكالات"),
    "en": ("Follow us on X", "Read more:", "Share this story", "© 2025 All rights reserved", "Source: agencies"),
}
EXTRA = {
    "ar": (
        "وفي سياق متصل، قال محللون إن التطورات الأخيرة قد تنعكس على المشهد الإقليمي خلال الأسابيع المقبلة، "
        "داعين إلى متابعة ما ستسفر عنه الاتصالات الجارية.",
        "ولم يتسن الحصول على تعليق فوري من الجهات المعنية حتى موعد نشر هذا الخبر.",
    ),
    "en": (
        "Analysts said the developments could weigh on the wider region in the coming weeks and urged caution "
        "until the picture became clearer.",
        "There was no immediate comment from the authorities concerned at the time of publication.",
    ),
}
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@dataclass(frozen=True)
class Original:
    """An original article: what a feed would publish."""

    id: str
    language: str
    title: str
    body: str
    published_at: str | None = None


def _paragraphs(body: str) -> list[str]:
    return [p for p in body.split("\n") if p.strip()]


def drop_paragraph(rng: random.Random, lang: str, title: str, paras: list[str]) -> tuple[str, list[str]]:
    if len(paras) > 2:
        del paras[rng.randrange(1, len(paras))]
    return title, paras


def add_paragraph(rng: random.Random, lang: str, title: str, paras: list[str]) -> tuple[str, list[str]]:
    paras.insert(rng.randrange(1, len(paras) + 1), rng.choice(EXTRA[lang]))
    return title, paras


def boilerplate(rng: random.Random, lang: str, title: str, paras: list[str]) -> tuple[str, list[str]]:
    lines = rng.sample(BOILERPLATE[lang], 2)
    return title, [lines[0], *paras, lines[1]]


def tashkeel(rng: random.Random, lang: str, title: str, paras: list[str]) -> tuple[str, list[str]]:
    def mark(text: str) -> str:
        return ARABIC_LETTER.sub(lambda m: m.group() + rng.choice(TASHKEEL) if rng.random() < 0.2 else m.group(), text)

    return mark(title), [mark(p) for p in paras]


def digits(rng: random.Random, lang: str, title: str, paras: list[str]) -> tuple[str, list[str]]:
    return title.translate(ARABIC_DIGITS), [p.translate(ARABIC_DIGITS) for p in paras]


def punctuation(rng: random.Random, lang: str, title: str, paras: list[str]) -> tuple[str, list[str]]:
    def swap(text: str) -> str:
        text = re.sub(r'"([^"]*)"', r"«\1»", text).replace("،", ",").replace(" - ", " — ")
        return text.replace(".", " .") if rng.random() < 0.5 else text.replace(",", "")

    return title, [swap(p) for p in paras]


def reorder_sentence(rng: random.Random, lang: str, title: str, paras: list[str]) -> tuple[str, list[str]]:
    i = rng.randrange(len(paras))
    sentences = [s for s in re.split(r"(?<=[.!؟?])\s+|،\s*(?=و)", paras[i]) if s]
    if len(sentences) > 1:
        rng.shuffle(sentences)
        paras[i] = " ".join(sentences)
    elif len(paras) > 2:
        j = rng.randrange(1, len(paras))
        paras[i], paras[j] = paras[j], paras[i]
    return title, paras


def new_title(rng: random.Random, lang: str, title: str, paras: list[str]) -> tuple[str, list[str]]:
    words = paras[0].split()
    prefix = "عاجل:" if lang == "ar" else "UPDATE:"
    return f"{prefix} {' '.join(words[2:10])}", paras


EDITS: dict[str, Callable[[random.Random, str, str, list[str]], tuple[str, list[str]]]] = {
    "drop_paragraph": drop_paragraph,
    "add_paragraph": add_paragraph,
    "boilerplate": boilerplate,
    "tashkeel": tashkeel,
    "digits": digits,
    "punctuation": punctuation,
    "reorder_sentence": reorder_sentence,
    "new_title": new_title,
}


def variant(original: Original, seed: int, edits: int = 3) -> tuple[dict[str, str | None], list[str]]:
    """One republished variant (a raw article dict) and the names of the edits applied."""
    rng = random.Random(seed)
    names = sorted(rng.sample(sorted(EDITS), edits))
    lang = "ar" if original.language == "ar" else "en"
    title, paras = original.title, _paragraphs(original.body)
    for name in names:
        title, paras = EDITS[name](rng, lang, title, paras)
    raw = {
        "id": f"{original.id}~v{seed}", "source": "republisher", "language": original.language,
        "published_at": original.published_at, "title": title, "body": "\n\n".join(paras),
    }
    return raw, names


@dataclass
class VariantScore:
    """How the deduplicator did on originals and their variants."""

    variants: int = 0
    caught: int = 0
    false_duplicates: int = 0
    misses: list[str] | None = None

    @property
    def recall(self) -> float:
        return self.caught / self.variants if self.variants else 1.0


def score_variants(originals: list[Original], per_original: int = 10, edits: int = 3) -> VariantScore:
    """Index the originals in order, then their variants; count variants caught and false duplicates.

    A false duplicate is an original flagged as a copy, or a variant pointing at another original.
    """
    from schemas.models import NormalizedArticle, RawArticle
    from services.deduplicator.core import DedupConfig, DedupIndex
    from services.normalizer.stage import NormalizerStage

    normalizer, index = NormalizerStage(), DedupIndex(DedupConfig())

    def check(raw: dict[str, str | None]) -> tuple[str, str | None]:
        normalized = normalizer.handle(RawArticle.model_validate(raw), now=0.0)[0].value
        assert isinstance(normalized, NormalizedArticle)
        verdict = index.check(normalized, now=0.0)
        return verdict.status, verdict.duplicate_of

    score = VariantScore(misses=[])
    for original in originals:
        status, _ = check({"id": original.id, "language": original.language, "title": original.title,
                           "body": original.body, "published_at": original.published_at})
        score.false_duplicates += status == "duplicate"
    for original in originals:
        for seed in range(per_original):
            raw, names = variant(original, seed, edits)
            status, target = check(raw)
            score.variants += 1
            if status == "duplicate" and target == original.id:
                score.caught += 1
            elif status == "duplicate":
                score.false_duplicates += 1
            else:
                score.misses.append(f"{raw['id']} {'+'.join(names)}")
    return score
