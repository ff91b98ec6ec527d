"""Spelling-variant keys for names, so that transliterations of one name meet (issue 17 item 5).

* :func:`latin_key` — a Latin-script name's *variant key*: case-folded, diacritics stripped, transliteration
  alternations unified (kh/ch, dj/j/zh, ph/f, q/k, w/v, ou/u, th/t, ...), vowels reduced to three classes (a; e/i/y;
  o/u), doubled letters collapsed, a final iy/yy/ii/ij/y read as i.  "Zelenskiy", "Zelenskyy" and "Zelensky" share
  one key, as do "Bint Jbeil" and "Bent Jbail".  The gazetteer links a Latin span that is no alias but whose key is
  the key of exactly one entry's alias (:class:`VariantIndex`).
* :func:`arabic_skeleton` and :func:`latin_skeleton` — a consonant skeleton in one alphabet of classes for both
  scripts (vowels and the letters that write them, ا و ي ع ء, dropped; ب/p → b, ف/v → f, ق/ك/c → k, ...), so an
  Arabic place name the knowledge base has only in Latin letters ("أوفيرا", Uvira) can be looked for among the
  places of a country the article names (:class:`PlaceSkeletons`).

Both were tuned on GeoNames names (``scripts/measure_variants.py``; figures in docs/entities.md, "Name variants"),
not on the examples above.  Pure functions, cached: the stage calls them on gazetteer misses only.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

# Letters NFKD does not take apart, and those whose diacritic changes the sound (š is sh, not s).
_SPECIAL: Final = str.maketrans({
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i", "þ": "th",
    "š": "sh", "ş": "sh", "ș": "sh", "ž": "zh", "č": "ch", "ć": "ch", "ç": "ch", "ğ": "g", "ţ": "t", "ț": "t",
})
# Marks inside a word that romanisations add or drop (‘ayn, hamza, apostrophes): removed, not word breaks.
_MARKS: Final = re.compile("['’‘ʼʻʿʾ`´]")
_LATIN_WORD: Final = re.compile(r"[a-z0-9]+")
# Leading Arabic articles of romanised names ("Al Karamah", "Ad-Dawhah", "El Fasher"): dropped before another word.
_ARTICLES: Final = frozenset(["al", "el", "ad", "ar", "as", "ash", "at", "az", "an", "ed", "er", "es", "et", "ez",
                              "en", "ul", "ol"])

@dataclass(frozen=True, slots=True)
class Scheme:
    """The choices of the Latin key (``scripts/measure_variants.py`` compares them; :data:`SHIPPED` is the one used).

    ``vowels``: "classes" (a; e/i/y; o/u), "one" (any vowel run is one letter), "exact"; ``ch``: what "ch" is, "x"
    (kh: German, Slavic) or "S" (sh: French); ``articles``: drop leading "al"/"el"/"ad"... words; ``final_h``: drop
    a word's final h after a vowel (-ah, -eh)."""

    vowels: str = "classes"
    ch: str = "x"
    articles: bool = True
    final_h: bool = False


SHIPPED: Final = Scheme()
SCHEME: Scheme = SHIPPED  # (the measurement script swaps it, then clears the caches: :func:`use`)

# Digraphs and letters unified, longest first (one left-to-right pass).  The classes: x = kh/ch (German, Slavic),
# S = sh/sch/sz, C = ts/tz/c (Polish cz), j = j/dj/dzh/zh, f = f/ph, v = v/w, k = k/c/ck/q, t = t/th, d = d/dh,
# g = g/gh; the diphthongs ai/ay/ei/ey are i.
_LATIN_RULES: Final = {
    "tsch": "C", "sch": "S", "dzh": "j", "tch": "C", "kh": "x", "sh": "S", "sz": "S", "zh": "j",
    "dj": "j", "ph": "f", "th": "t", "dh": "d", "gh": "g", "ck": "k", "ts": "C", "tz": "C", "cz": "C",
    "q": "k", "c": "k", "w": "v", "x": "ks", "ou": "u", "oo": "u", "ee": "i", "ai": "i", "ay": "i", "ei": "i",
    "ey": "i",
}
_LATIN_SUB: Final = re.compile("|".join(sorted((*_LATIN_RULES, "ch"), key=len, reverse=True)))
_FINAL_I: Final = re.compile(r"(?:iy|yy|ii|ij|iyi|y)$")
_Y_INSIDE: Final = re.compile(r"(?<=.)y")
_DOUBLE: Final = re.compile(r"(.)\1+")
_VOWEL_RUN: Final = re.compile(r"[aeiou]+")
_VOWEL_CLASSES: Final = str.maketrans({"e": "i", "o": "u"})


def use(scheme: Scheme) -> None:
    """Make ``scheme`` the Latin key's (for the measurement), clearing the cached keys."""
    global SCHEME
    SCHEME = scheme
    for cached in (latin_key, latin_skeleton):
        cached.cache_clear()


def fold(name: str) -> str:
    """Lower-case ASCII letters of a Latin name (diacritics stripped, š → sh, ø → o), marks inside words removed."""
    text = name.casefold().translate(_SPECIAL)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _MARKS.sub("", text)


def _word_key(word: str) -> str:
    scheme = SCHEME
    word = _DOUBLE.sub(r"\1", word)
    ch = scheme.ch
    word = _LATIN_SUB.sub(lambda m: ch if m.group() == "ch" else _LATIN_RULES[m.group()], word)
    word = _FINAL_I.sub("i", word)
    word = _Y_INSIDE.sub("i", word)
    if scheme.final_h and len(word) > 2 and word.endswith("h") and word[-2] in "aeiou":
        word = word[:-1]
    if scheme.vowels == "classes":
        word = word.translate(_VOWEL_CLASSES)
    elif scheme.vowels == "one":
        word = _VOWEL_RUN.sub("a", word)
    return _DOUBLE.sub(r"\1", word)


def _words(name: str) -> list[str]:
    words = _LATIN_WORD.findall(fold(name))
    while SCHEME.articles and len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    return words


@lru_cache(maxsize=1 << 16)
def latin_key(name: str) -> str:
    """The variant key of a Latin-script name (words joined by one space; "" when it has no Latin letters)."""
    return " ".join(_word_key(w) for w in _words(name))


# ---------------------------------------------------------------------------------------------
# Consonant skeletons, comparable across Arabic and Latin script.

# Arabic letters (in the matching form: أ/إ/آ → ا, ة → ه, ى → ي) to consonant classes; "" for the letters that write
# vowels or glottal stops in a foreign name (ا و ي ع ء ئ ؤ).
_ARABIC_CLASSES: Final = str.maketrans({
    "ا": "", "ء": "", "ئ": "", "ؤ": "", "ع": "", "و": "", "ي": "", "ى": "", "أ": "", "إ": "", "آ": "",
    "ب": "b", "ت": "t", "ط": "t", "ث": "t", "ج": "j", "ح": "h", "ه": "h", "ة": "h", "خ": "x", "د": "d", "ض": "d",
    "ذ": "z", "ز": "z", "ظ": "z", "ر": "r", "س": "s", "ص": "s", "ش": "S", "غ": "g", "ف": "f", "ق": "k", "ك": "k",
    "ل": "l", "م": "m", "ن": "n",
})
_ARABIC_WORD: Final = re.compile(r"[\u0621-\u064a]+")
_HARAKAT: Final = re.compile("[\u064b-\u065f\u0670\u0640]")
# The Latin key's letters to the same classes: vowels and y, v/w ambiguity, p (Arabic has only ب).
_LATIN_CLASSES: Final = str.maketrans({"a": "", "e": "", "i": "", "o": "", "u": "", "y": "", "v": "f", "p": "b",
                                        "C": "ts"})


def _arabic_word_skeleton(word: str) -> str:
    if word.startswith("ال") and len(word) > 3:
        word = word[2:]
    if word.endswith(("ه", "ة")) and len(word) > 2:  # the feminine ending is a vowel (-a, -ah, -eh)
        word = word[:-1]
    return _DOUBLE.sub(r"\1", word.translate(_ARABIC_CLASSES))


# The vowels a foreign name written in Arabic shows: ا a, و u (or w), ي i (or y); an alef that only carries the
# hamza before another vowel letter shows none.
_ARABIC_VOWELS: Final = {"ا": "a", "و": "u", "ي": "i", "ى": "a"}


def _arabic_word_vowels(word: str) -> str:
    if word.startswith("ال") and len(word) > 3:
        word = word[2:]
    if word[:1] == "ا" and word[1:2] in ("و", "ي"):
        word = word[1:]
    return "".join(_ARABIC_VOWELS.get(c, "") for c in word)


@lru_cache(maxsize=1 << 16)
def arabic_skeleton(name: str) -> str:
    """The consonant skeleton of an Arabic-script name (words joined by one space)."""
    words = _ARABIC_WORD.findall(_HARAKAT.sub("", name))
    return " ".join(s for s in map(_arabic_word_skeleton, words) if s)


@lru_cache(maxsize=1 << 16)
def arabic_vowels(name: str) -> str:
    """The vowel letters of an Arabic-script name, as a, i, u (:func:`vowels_fit`)."""
    return "".join(map(_arabic_word_vowels, _ARABIC_WORD.findall(_HARAKAT.sub("", name))))


def _latin_words_for_skeleton(name: str) -> list[str]:
    # w is و, a vowel letter here, not v.
    return [_word_key(w.replace("w", "u")) for w in _words(name)]


@lru_cache(maxsize=1 << 16)
def latin_skeleton(name: str) -> str:
    """The consonant skeleton of a Latin-script name, in :func:`arabic_skeleton`'s classes."""
    out = []
    for key in _latin_words_for_skeleton(name):
        if len(key) > 2 and key.endswith("h") and key[-2] in "aeiou":  # -ah, -eh: the Arabic feminine ending
            key = key[:-1]
        skeleton = _DOUBLE.sub(r"\1", key.translate(_LATIN_CLASSES))
        if skeleton:
            out.append(skeleton)
    return " ".join(out)


@lru_cache(maxsize=1 << 16)
def latin_vowels(name: str) -> str:
    """The vowels of a Latin-script name as a, i, u (e → i, o → u, y → i)."""
    keys = _latin_words_for_skeleton(name)
    return "".join(c for c in "".join(keys).translate(_VOWEL_CLASSES).replace("y", "i") if c in "aiu")


def vowels_fit(arabic: str, latin: str) -> bool:
    """May a name with Latin vowels ``latin`` be written with Arabic vowel letters ``arabic``: is ``arabic`` a
    subsequence of ``latin`` (Arabic leaves short vowels out, not the other way round)?"""
    rest = iter(latin)
    return all(v in rest for v in arabic)


# ---------------------------------------------------------------------------------------------
# Indexes


AMBIGUOUS: Final = -1


@dataclass(slots=True)
class VariantIndex:
    """Variant key -> the one entry (an index into the gazetteer's entries) whose Latin aliases have it, or
    :data:`AMBIGUOUS` when two entries share it (such keys never link)."""

    keys: dict[str, int] = field(default_factory=dict)
    # First word of a key -> the most words a key starting with it has.
    first: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, names: Iterable[tuple[int, str]], min_len: int = 4) -> VariantIndex:
        """From (entry index, Latin alias) pairs; keys shorter than ``min_len`` letters are left out."""
        owners: dict[str, set[int]] = defaultdict(set)
        for entry, name in names:
            key = latin_key(name)
            if len(key.replace(" ", "")) >= min_len:
                owners[key].add(entry)
        index = cls()
        for key, entries in owners.items():
            index.keys[key] = next(iter(entries)) if len(entries) == 1 else AMBIGUOUS
            head, size = key.split(" ", 1)[0], key.count(" ") + 1
            if index.first.get(head, 0) < size:
                index.first[head] = size
        return index

    def lookup(self, name: str) -> int | None:
        """The entry whose alias ``name`` is a variant of, or None (no such key, or two entries have it)."""
        entry = self.keys.get(latin_key(name))
        return None if entry is None or entry == AMBIGUOUS else entry

    def collisions(self) -> int:
        """How many keys two entries or more share."""
        return sum(1 for e in self.keys.values() if e == AMBIGUOUS)


@dataclass(slots=True)
class PlaceSkeletons:
    """(country id, consonant skeleton) -> the places of that country whose Latin or Arabic names have that skeleton,
    each with the name's vowels and script ("en"/"ar").  :meth:`lookup` links an Arabic name to the one place whose
    skeleton and vowels fit it."""

    keys: dict[tuple[str, str], tuple[tuple[int, str, str], ...]] = field(default_factory=dict)
    min_len: int = 3
    # Skeletons of fewer consonants than this need the same vowels, not only fitting ones (Uvira: f r, u i a).
    strict_below: int = 4

    @classmethod
    def build(cls, places: Iterable[tuple[int, str, Iterable[str], Iterable[str]]], min_len: int = 3,
              strict_below: int = 4) -> PlaceSkeletons:
        """From (entry index, country id, Latin names, Arabic names); skeletons of fewer than ``min_len`` consonants
        are left out (too many places share them)."""
        owners: dict[tuple[str, str], set[tuple[int, str, str]]] = defaultdict(set)
        for entry, country, latin, arabic in places:
            for n in latin:
                owners[country, latin_skeleton(n)].add((entry, latin_vowels(n), "en"))
            for n in arabic:
                owners[country, arabic_skeleton(n)].add((entry, arabic_vowels(n), "ar"))
        return cls({k: tuple(sorted(v)) for k, v in owners.items() if len(k[1].replace(" ", "")) >= min_len}, min_len,
                   strict_below)

    def fitting(self, arabic: str, countries: Iterable[str], hide: int | None = None, absent: bool = False) -> set[int]:
        """The places of ``countries`` whose skeleton is ``arabic``'s and whose vowels fit it.  ``hide``: an entry
        whose Arabic names are not to be used (the measurement hides the place it asks for); ``absent``: not its Latin
        names either (a place the knowledge base lacks)."""
        skeleton, vowels = arabic_skeleton(arabic), arabic_vowels(arabic)
        strict = len(skeleton.replace(" ", "")) < self.strict_below
        found = set()
        for country in countries:
            for entry, other, script in self.keys.get((country, skeleton), ()):
                if absent and entry == hide:
                    continue
                if strict:
                    fits = other == vowels and (script == "en" or entry != hide)
                elif script == "en":
                    fits = vowels_fit(vowels, other)
                else:
                    fits = entry != hide and (vowels_fit(vowels, other) or vowels_fit(other, vowels))
                if fits:
                    found.add(entry)
        return found

    def lookup(self, arabic: str, countries: Iterable[str], hide: int | None = None) -> int | None:
        """The one place named ``arabic`` in one of ``countries`` (None when none, or more than one, fits)."""
        found = self.fitting(arabic, countries, hide)
        return found.pop() if len(found) == 1 else None


@dataclass(slots=True)
class Variants:
    """What the gazetteer links by variant (built once, on the first miss that needs it: :meth:`build`).

    * ``curated``: the variant keys of the curated entries' Latin aliases (people, organisations, places in no
      country: countries, seas, regions), linked wherever a capitalised Latin span has one;
    * ``places``: (country, variant key) of the places in a country (curated and knowledge base), linked only in an
      article naming the country;
    * ``skeletons``: consonant skeletons of all places in a country, for Arabic place names the gazetteer lacks,
      linked only in an article naming the country.
    """

    curated: VariantIndex
    places: dict[tuple[str, str], int]
    skeletons: PlaceSkeletons
    countries: frozenset[str]
    # First word of a key -> the most words a key starting with it has (both Latin indexes).
    heads: dict[str, int]
    # Token (matching form) -> the most words a variant starting with it may have, 0 for none (a cache).
    token_heads: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str, tuple[str, ...], tuple[str, ...], str]],
              containers: Callable[[str], tuple[str, ...]], min_len: int = 4) -> Variants:
        """From (id, name, Latin aliases, Arabic aliases, type) of every entry and the gazetteer's containment."""
        rows = list(entries)
        country = {i: chain[-1] for i, (entity_id, _, _, _, etype) in enumerate(rows)
                   if etype == "LOC" and (chain := containers(entity_id))}
        # Anywhere: people, organisations and the places in no country (countries, seas, regions).  A place in a
        # country, curated or not, only where the article names the country ("Cuíto" of Angola is not Quito).
        curated = VariantIndex.build((i, n) for i, (entity_id, name, latin, _, _) in enumerate(rows)
                                     if not entity_id.startswith("geonames:") and i not in country
                                     for n in {name, *latin})
        owners: dict[tuple[str, str], set[int]] = defaultdict(set)
        for i, (_, name, latin, _, _) in enumerate(rows):
            if i in country:
                for n in {name, *latin}:
                    key = latin_key(n)
                    if len(key.replace(" ", "")) >= min_len:
                        owners[country[i], key].add(i)
        places = {k: next(iter(v)) if len(v) == 1 else AMBIGUOUS for k, v in owners.items()}
        heads = dict(curated.first)
        for (_, key) in places:
            head, size = key.split(" ", 1)[0], key.count(" ") + 1
            if heads.get(head, 0) < size:
                heads[head] = size
        skeletons = PlaceSkeletons.build((i, country[i], {rows[i][1], *rows[i][2]}, rows[i][3]) for i in country)
        return cls(curated, places, skeletons, frozenset(country.values()), heads)

    def head_size(self, tok: str) -> int:
        """The most words a variant starting with token ``tok`` (a Latin word in matching form) may have; 0: none."""
        size = self.token_heads.get(tok)
        if size is None:
            if len(self.token_heads) > 200_000:
                self.token_heads.clear()
            key = latin_key(tok)
            size = self.token_heads[tok] = self.heads.get(key, 0) if key and " " not in key else 0
        return size

    def latin(self, name: str, countries: Iterable[str]) -> int | None:
        """The entry a Latin span ``name`` is a variant of: a curated entry's, else a knowledge-base place of one of
        ``countries`` (the countries the article names); None when none or several."""
        key = latin_key(name)
        hit = self.curated.keys.get(key)
        if hit is not None:
            return None if hit == AMBIGUOUS else hit
        found = {self.places.get((c, key)) for c in countries} - {None}
        if len(found) != 1:
            return None
        entry = found.pop()
        return None if entry is None or entry == AMBIGUOUS else entry

    def arabic(self, name: str, countries: Iterable[str]) -> int | None:
        """The one place of ``countries`` whose consonant skeleton and vowels fit the Arabic ``name``, or None."""
        return self.skeletons.lookup(name, countries)
