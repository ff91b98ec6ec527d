"""The vendored ANERcorp train split (``data/anercorp/``), read into the tagger's units.

The corpus has one whitespace word a line (``TOKEN TAG``, IOB2 with ``PERS``/``ORG``/``LOC``/``MISC``), an empty line
between sentences.  :func:`chunk_doc` joins consecutive sentences into one text as an article would hold them
(each word through :func:`display_form`, words and sentences separated by a space) and tokenises it as the rules
and the tagger do (:class:`services.entities.document._Doc`: punctuation goes to the gaps).  Each tagger token takes
the tag of the corpus word it lies in (the later pieces of a word split at punctuation continue its entity).
MISC is not an entity type of Rasd: it becomes ``O``; ``PERS`` becomes ``PERSON``.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from services.entities.document import _Doc
from services.entities.features import token_spans
from services.entities.gazetteer import DATA_DIR
from services.normalizer.textforms import display_form, matching_form

CORPUS: Final = DATA_DIR / "anercorp" / "ANERCorp_CamelLab_train.txt"
CORPUS_SHA256: Final = "393969ce6f24f1acca1b3321b401e0b4fae135610c606dbeb4bf141d7dfde053"
_TYPES: Final = {"PERS": "PERSON", "ORG": "ORG", "LOC": "LOC"}


@dataclass(frozen=True, slots=True)
class Sentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]  # B-PERSON, I-ORG, ..., O (MISC mapped to O)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_corpus(path: Path = CORPUS) -> list[Sentence]:
    """The sentences of the corpus, tags mapped to Rasd's types."""
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            if words:
                sentences.append(Sentence(tuple(words), tuple(tags)))
                words, tags = [], []
            continue
        word, _, tag = line.rpartition(" ")
        kind = _TYPES.get(tag[2:])
        words.append(word)
        tags.append(f"{tag[:2]}{kind}" if kind else "O")
    if words:
        sentences.append(Sentence(tuple(words), tuple(tags)))
    return sentences


def chunks(sentences: Sequence[Sentence], min_words: int = 300) -> list[list[Sentence]]:
    """Consecutive sentences grouped until a group holds at least ``min_words`` words (article-sized texts)."""
    out: list[list[Sentence]] = []
    current: list[Sentence] = []
    size = 0
    for s in sentences:
        current.append(s)
        size += len(s.words)
        if size >= min_words:
            out.append(current)
            current, size = [], 0
    if current:
        out.append(current)
    return out


@dataclass(slots=True)
class ChunkDoc:
    """A group of sentences as one text: the tagger's doc, its tokens' tags, and the corpus words' places."""

    text: str
    match: str
    doc: _Doc
    labels: list[str]  # per tagger token
    word_starts: list[int]  # character offset of each corpus word in ``text`` (words left empty: none)
    word_index: list[int]  # corpus word index of each entry of word_starts
    gold: list[tuple[int, int, str]]  # (first word, last word, type) of each entity, corpus-word indices

    def words_of(self, start: int, end: int) -> tuple[int, int]:
        """The corpus words holding characters ``start`` and ``end - 1``."""
        return (self.word_index[bisect_right(self.word_starts, start) - 1],
                self.word_index[bisect_right(self.word_starts, end - 1) - 1])


def chunk_doc(group: Sequence[Sentence]) -> ChunkDoc:
    """One text from ``group`` (see the module's docstring)."""
    pieces: list[str] = []
    starts: list[int] = []
    index: list[int] = []
    tags: list[str] = []
    at = 0
    w = 0
    for sentence in group:
        for word, tag in zip(sentence.words, sentence.tags, strict=True):
            tags.append(tag)
            clean = display_form(word).replace("\n", " ").strip()
            if clean:
                if pieces:
                    at += 1  # the space before it
                starts.append(at)
                index.append(w)
                pieces.append(clean)
                at += len(clean)
            w += 1
    text = " ".join(pieces)
    match = matching_form(text)
    doc = _Doc(text, match)
    labels: list[str] = []
    prev_word = -1
    for i in range(len(doc.toks)):
        at_word = index[bisect_right(starts, doc.start(i)) - 1]
        tag = tags[at_word]
        if at_word == prev_word and tag.startswith("B-"):
            tag = "I-" + tag[2:]
        labels.append(tag)
        prev_word = at_word
    return ChunkDoc(text, match, doc, labels, starts, index, token_spans(tags))
