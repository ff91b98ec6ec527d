"""Word lists for people outside the gazetteer: given names and common news words (plain text data files).

Loaded once, in matching form (hamza/alef, ة/ه, ى/ي unified; Latin lower-cased).  See
``data/names/README.md`` for what each list means and how to extend it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from services.normalizer.textforms import display_form, matching_form

NAMES_DIR: Final = Path(__file__).resolve().parent / "data" / "names"


def read_words(path: Path) -> frozenset[str]:
    """Every whitespace-separated word of a list file (``#`` starts a comment), in matching form."""
    words: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0]
            words.update(matching_form(display_form(w)) for w in line.split())
    return frozenset(words)


@dataclass(frozen=True, slots=True)
class NameLexicon:
    """Given names (safe, and those that are also common words) and common non-name news words."""

    given_ar: frozenset[str]
    given_ar_common: frozenset[str]
    given_en: frozenset[str]
    common_ar: frozenset[str]

    @classmethod
    def load(cls, directory: Path = NAMES_DIR) -> NameLexicon:
        return cls(given_ar=read_words(directory / "given_ar.txt"),
                   given_ar_common=read_words(directory / "given_ar_common.txt"),
                   given_en=read_words(directory / "given_en.txt"),
                   common_ar=read_words(directory / "common_ar.txt"))


@lru_cache(maxsize=1)
def default_lexicon() -> NameLexicon:
    return NameLexicon.load()
