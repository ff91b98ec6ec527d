"""The deduplicator's fast paths give exactly what the plain formulation they replace gives.

The deduplicator fingerprints every article, so its core computes some things more cheaply than the
obvious way (int band keys instead of strings, one punctuation pass over the whole text, a dict in
front of ``story_word``, a C-level count of equal bins).  Each test states why the shortcut is safe and
checks it against the plain formulation on real articles (the seeds and ``tests/data``) and on
hand-made edge cases (empty text, Arabic and English, underscores and rare symbols, more features
than kept), so a change that breaks a shortcut fails here instead of silently moving a verdict.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.models import NormalizedArticle
from services.deduplicator import core
from services.deduplicator.core import (
    _BAND_MULS,
    _MASK64,
    _TOKEN,
    _TOKEN_HASHES,
    DedupConfig,
    DedupIndex,
    band_keys,
    fingerprint,
    minhash,
    similarity,
    story_word,
    story_words,
    token_hashes,
    word_tokens,
)
from services.normalizer.textforms import display_form, matching_form

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def _real_texts() -> list[str]:
    """Matching-form texts of the real articles the repository holds (headline first, then the body)."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    texts.append((DATA / "near_copy_of_002.txt").read_text(encoding="utf-8"))
    for line in (DATA / "originals.jsonl").read_text("utf-8").splitlines():
        row: dict[str, Any] = orjson.loads(line)
        texts.append(f"{row['title']}\n{row['body']}")
    return [matching_form(display_form(t).strip()) for t in texts]


REAL = _real_texts()
EDGE_TEXTS = [
    "",
    " \n\t ",
    ".،:/\"'()-,؛؟!?%;",
    "one_two three",  # "_" is a word character the shortcut does not know
    "price €5 @home #tag",  # rarer symbols: the regular expression decides
    "title only",
    "عنوان\nنص الخبر، مع علامات: ترقيم (كثيرة) - و\"اقتباس\".",
    "mixed عربي English ١٢٣ 456\n\nsecond   paragraph\u00a0nbsp",
    "\nbody without a title",
    "title\n",
]


def _article(text: str, article_id: str = "a") -> NormalizedArticle:
    return NormalizedArticle(
        id=article_id, title=text.split("\n", 1)[0], language="ar", text=text, match_text=text, ingested_at=0.0
    )


@pytest.mark.parametrize("text", REAL + EDGE_TEXTS)
def test_word_tokens_are_the_regular_expressions_tokens(text: str) -> None:
    """Splitting at spaces after replacing punctuation gives ``\\w+`` runs only when every chunk is
    alphanumeric; the joined-chunks check must fall back to the regex in every other case."""
    assert word_tokens(text) == _TOKEN.findall(text)
    for part in text.split("\n"):
        assert word_tokens(part) == _TOKEN.findall(part)


@pytest.mark.parametrize("text", REAL + EDGE_TEXTS)
def test_one_punctuation_pass_over_the_whole_text_tokenizes_title_and_body_alike(text: str) -> None:
    """``fingerprint`` replaces punctuation once for the whole text, then splits at the first line
    break: every part of the fingerprint must be what the regex tokens of title and body, taken apart,
    give through the plain formulation."""
    config = DedupConfig()
    title, _, body = text.partition("\n")
    title_tokens, body_tokens = _TOKEN.findall(title), _TOKEN.findall(body)
    tokens = body_tokens or title_tokens
    signature = minhash(token_hashes(tokens), config.num_perm, config.shingle)
    words = _plain_story_words(title_tokens, body_tokens, config)
    got = fingerprint(_article(text), config)
    assert got.exact == hashlib.blake2b(" ".join(tokens).encode(), digest_size=8).hexdigest()
    assert got.signature == signature
    assert got.bands == tuple(band_keys(signature, config.bands))
    assert got.story.words == tuple(sorted({h >> 32 for h in token_hashes(words)}))
    assert story_words(title_tokens, body_tokens, config) == words


def _plain_story_words(title: list[str], body: list[str], config: DedupConfig) -> list[str]:
    """The plain formulation: the first ``story_features`` distinct non-empty story words, in order."""
    out: dict[str, None] = {}
    for word in map(story_word, [*title, *body[: config.story_lead]]):
        if word:
            out[word] = None
            if len(out) >= config.story_features:
                break
    return list(out)


@pytest.mark.parametrize("features", [1, 3, 32, 500])
def test_story_words_keep_the_first_distinct_words_whatever_the_limit(features: int) -> None:
    """The dict in front of ``story_word`` and the slice after ``dict.fromkeys`` keep the same words, in
    the same order, as the loop that stopped at the limit (repeats and stop words included)."""
    config = DedupConfig(story_features=features)
    for text in REAL:
        title, _, body = text.partition("\n")
        t, b = word_tokens(title), word_tokens(body)
        assert story_words(t, b, config) == _plain_story_words(t, b, config)
        assert story_words(t + t, b + b, config) == _plain_story_words(t + t, b + b, config)
    assert story_words([], [], config) == []


def _string_band_keys(signature: tuple[int, ...], bands: int) -> list[str]:
    """The former string keys: ``b{band}:{top 32 bits of the band hash, hex}``."""
    rows = len(signature) // bands
    columns = [signature[r : bands * rows : rows] for r in range(rows)]
    return [
        f"b{b}:{((b + sum(v * m for v, m in zip(values, _BAND_MULS, strict=False))) & _MASK64) >> 32:x}"
        for b, values in enumerate(zip(*columns, strict=True))
    ]


@pytest.mark.parametrize(("num_perm", "bands"), [(60, 20), (64, 16), (60, 60), (60, 30)])
def test_int_band_keys_match_exactly_when_the_string_keys_did(num_perm: int, bands: int) -> None:
    """The buckets (and so the candidates) only depend on which keys are equal: the int key must be a
    one-to-one image of the former string key, for the default rows (3, written out) and others."""
    config = DedupConfig(num_perm=num_perm, bands=bands)
    signatures = {fingerprint(_article(t, str(i)), config).signature for i, t in enumerate(REAL)}
    # Signatures that share some bands but not all, as near-copies do.
    signatures |= {s[:num_perm // 2] + tuple((v + 1) & 0xFFFF for v in s[num_perm // 2:]) for s in list(signatures)}
    for sig in signatures:
        keys, strings = band_keys(sig, bands), _string_band_keys(sig, bands)
        assert len(keys) == len(strings) == bands
        # The int spells the string's two fields, band and hash, in separate bits: one-to-one.
        assert [f"b{k >> 32}:{k & 0xFFFFFFFF:x}" for k in keys] == strings


def test_similarity_counts_equal_bins_and_rejects_different_lengths() -> None:
    """The C-level count of equal bins is the plain count; signatures of two configurations (different
    lengths) cannot be compared, as ``zip(strict=True)`` used to refuse."""
    config = DedupConfig()
    a, b, c = (fingerprint(_article(t, str(i)), config).signature for i, t in enumerate(REAL[:3]))
    for x, y in ((a, a), (a, b), (b, c), (a, c)):
        plain = sum(1 for u, v in zip(x, y, strict=True) if u == v) / len(x)
        chance = 1.0 / (1 << 16)
        assert similarity(x, y) == max(0.0, (plain - chance) / (1.0 - chance))
    with pytest.raises(ValueError):
        similarity(a, a[:-1])


@pytest.mark.parametrize("text", ["title\nprice €5 and €5 again, a_b a_b", "t\nx+y x+y ok", "t\n€€ ۝ ok ok ok"])
def test_chunks_found_in_the_token_cache_are_the_tokens(text: str) -> None:
    """The body's chunks are taken as its tokens when all are in the token cache, so only alphanumeric
    tokens may enter it: a chunk such as ``€5`` (regex tokens: ``5``) must never be cached, even after
    the same text was fingerprinted before (second round: everything else is cached by then)."""
    config = DedupConfig()
    tokens = _TOKEN.findall(text.partition("\n")[2])
    expected = minhash(token_hashes(tokens), config.num_perm, config.shingle)
    for _ in range(2):
        fp = fingerprint(_article(text), config)
        assert fp.signature == expected
        assert fp.exact == hashlib.blake2b(" ".join(tokens).encode(), digest_size=8).hexdigest()
    assert all(token.isalnum() for token in _TOKEN_HASHES)


def test_an_exact_copy_is_decided_and_indexed_from_its_exact_key_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exact copy's record keeps no signature and no story features, so ``check`` stops at the exact
    key: the verdict, the stored record and every bucket must be what they were when the whole
    fingerprint was computed first, and the next near copy must still find the root."""
    index = DedupIndex(DedupConfig())
    original = REAL[0]
    retitled = "another headline, same body\n" + original.partition("\n")[2].replace("،", " ، ")
    index.check(_article(original, "orig"), now=0.0)
    bands = index.buckets.band_map()
    stories = {k: list(v) for k, v in index.buckets.stories.items()}

    def no_fingerprint(*args: object) -> None:
        pytest.fail("the fingerprint of an exact copy was computed")

    monkeypatch.setattr(core, "_fingerprint", no_fingerprint)
    verdict = index.check(_article(retitled, "copy"), now=1.0)
    monkeypatch.undo()
    assert (verdict.status, verdict.kind, verdict.duplicate_of) == ("duplicate", "exact", "orig")
    assert not {"g", "w", "e"} & set(index.docs["copy"])
    assert index.docs["copy"]["x"] == fingerprint(_article(retitled), DedupConfig()).exact
    assert (index.buckets.band_map(), index.buckets.stories) == (bands, stories)
    near = "\n".join(original.split("\n")[:-1])
    assert index.check(_article(near, "near"), now=2.0).duplicate_of == "orig"
