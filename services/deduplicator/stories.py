"""Story grouping on what makes an event an event: where, who, what, when — and rare words.

Pure (no Faust, no I/O once loaded): the deduplicator's index (``core.py``) asks
:func:`story_score` about each candidate and keeps the best.  ``docs/dedup.md``
gives the rule, the measured figures and the limits.

An article's :class:`StoryProfile` is read from its title and lead (the first
``lead_chars`` characters of the body), where a newswire report says what
happened, where and who did it:

* **places** — specific places linked by the entities gazetteer (a town, a
  district, a region; the same ids in Arabic and English), with their
  **regions**: the places containing them below the country level (Khan Younis
  → Gaza Strip), and the **countries** named or containing them;
* **actors** — linked organisations and people (armies, armed groups,
  governments, leaders);
* **categories** — the escalation categories of the alerter's lexicon terms
  found there (air strike, shelling, ground assault, mobilisation…);
* **words** — the distinctive words (stop words removed), language-specific.

Every feature is weighted by its rarity among the articles the index holds
(IDF over the retention window): on a busy day "killed", "Ukraine" or the
country at war weigh little, the town and the rare words of the event weigh
much.  Two articles score per channel as the cosine of their IDF-weighted
feature sets, summed with the channel weights of :class:`StoryRule`.

Reports of hostilities join only through the **place gate**: a specific place of
one article is a place of the other or contains one of its places (a town the
gazetteer does not know meets a known one through its spelling, within a country
both name).  Other articles that share no specific place can join when nothing
about their places contradicts and their actors (or, in one language, their rare
words) agree; across languages through one rare actor.  So two articles in
different languages join through the ids they share, and two reports of
hostilities with no place in common never do (:class:`StoryQuery`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass
from functools import cache

from services.common.datafiles import read_jsonl
from services.common.text import dateline_span
from services.entities.core import DATA_DIR as ENTITIES_DATA
from services.entities.core import Gazetteer, GazetteerEntry, extract_entities
from services.entities.shared import broad_region_ids, capital_ids, default_gazetteer
from services.entities.tagger import Tagger, configured_tagger
from services.entities.variants import arabic_skeleton, arabic_vowels, latin_skeleton, latin_vowels

# The prefix of a place's spelling key (:func:`spelling_keys`), kept among the places and regions.
SPELLING = "~"
# Feature kinds other than words, as prefixes of the stored feature strings.
PLACE, REGION, COUNTRY, BACKGROUND, ACTOR, CATEGORY = "L:", "K:", "B:", "S:", "A:", "C:"
_KINDS = (PLACE, REGION, COUNTRY, BACKGROUND, ACTOR, CATEGORY)


@dataclass(frozen=True)
class StoryRule:
    """How much each channel counts, and the bar a pair must clear (``docs/dedup.md``: why these)."""

    threshold: float = 0.4
    places: float = 0.5
    words: float = 0.6
    actors: float = 0.15
    categories: float = 0.2
    region_weight: float = 0.5  # a containing region counts half a place in the place channel
    country_weight: float = 0.5  # a country counts half a place (and IDF makes it rarer still on a busy day)
    background_weight: float = 0.5  # a place named after the place lead counts half a place, and opens no gate
    words_only: float = 0.45  # the words' cosine needed when no specific place is shared (one language only)
    words_evidence: float = 0.12  # the words' cosine that shows "what", when no category or actor is shared
    # An actor named by at most one retained original in e^2.3 ≈ 10 is rare: across languages, with no
    # hostilities, one such actor in common shows the same who (words are not comparable there).
    rare_actor_idf: float = 2.3
    place_lead_chars: int = 150  # places here (with the headline) say where the event is
    lead_chars: int = 400  # actors, categories and background places are read up to here


@dataclass(frozen=True)
class StoryProfile:
    """The story features of one article (see the module docstring)."""

    words: tuple[int, ...] = ()
    places: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    background: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    language: str = ""

    def tagged(self) -> list[str]:
        """Every feature but the words, as kind-prefixed strings (the stored form)."""
        return [
            *(PLACE + p for p in self.places), *(REGION + r for r in self.regions),
            *(COUNTRY + c for c in self.countries), *(BACKGROUND + x for x in self.background),
            *(ACTOR + a for a in self.actors),
            *(CATEGORY + c for c in self.categories),
        ]

    def features(self) -> list[Hashable]:
        """Every feature as the index counts and posts it: word hashes (ints) and tagged strings."""
        return [*self.words, *self.tagged()]

    @classmethod
    def from_stored(cls, words: tuple[int, ...], tagged: Iterable[str], language: str) -> StoryProfile:
        """The profile a record stored (:meth:`tagged` and the word hashes)."""
        kinds: dict[str, list[str]] = {kind: [] for kind in _KINDS}
        for feature in tagged:
            kinds[feature[:2]].append(feature[2:])
        return cls(
            words, tuple(kinds[PLACE]), tuple(kinds[REGION]), tuple(kinds[COUNTRY]), tuple(kinds[BACKGROUND]),
            tuple(kinds[ACTOR]), tuple(kinds[CATEGORY]), language,
        )


@cache
def country_ids() -> frozenset[str]:
    """The ids of what story grouping counts as countries: the gazetteer's countries
    (``services/entities/data/countries.jsonl``) and the places spanning several (:func:`broad_region_ids`)."""
    countries = {str(obj["id"]) for _, obj in read_jsonl(ENTITIES_DATA / "countries.jsonl")}
    return frozenset(countries | broad_region_ids())


CategoriesOf = Callable[[str], Collection[str]]


class StoryProfiler:
    """Reads an article's story profile with the entities gazetteer and the alerter's lexicon categories.

    The entities service's gazetteer, rules and (for Arabic, when ``tagger`` is given) its learned tagger
    give the ids, so an Arabic and an English article about Mogadishu carry the same place id here and in
    their enriched output.  The tagger adds the towns the gazetteer does not know: two Arabic reports of one
    unknown town share its ``rasd:`` id (on the held-out busy day, stories F1 0.516 without it, 0.606 with
    it, precision 1.000 both; ~0.6 ms more per Arabic lead, measured 2026-12-07: ``docs/dedup.md``).
    """

    def __init__(self, gazetteer: Gazetteer, categories_of: CategoriesOf, tagger: Tagger | None = None) -> None:
        self.gazetteer = gazetteer
        self.tagger = tagger
        self.categories_of = categories_of
        self.countries = country_ids()
        self._containers = gazetteer.containers
        # The places that contain other places of the gazetteer below the country (South Lebanon, North
        # Darfur, the Gaza Strip): regions, when an article names them.
        self.regions = frozenset(c for e in gazetteer.entries for c in gazetteer.containers(e.id)) - self.countries
        self.known = frozenset(e.id for e in gazetteer.entries)
        self._entries: dict[str, GazetteerEntry] | None = None

    def _entry(self, entity_id: str) -> GazetteerEntry | None:
        if self._entries is None:
            self._entries = {e.id: e for e in self.gazetteer.entries}
        return self._entries.get(entity_id)

    def _country(self, place: str) -> str | None:
        chain = self._containers(place)
        return chain[-1] if chain and chain[-1] in self.countries else None

    @classmethod
    @cache
    def default(cls) -> StoryProfiler:
        """The profiler on the packaged gazetteer, lexicon and (as ``RASD_ENTITIES_TAGGER`` says) tagger, loaded once
        per process."""
        from services.alerter.core import Lexicon, term_categories  # the alerter's data, read-only

        lexicon = Lexicon.load()
        gazetteer = default_gazetteer()
        return cls(gazetteer, lambda match_text: term_categories(match_text, lexicon), configured_tagger(gazetteer))

    def profile(
        self, text: str, match_text: str, language: str, words: tuple[int, ...], rule: StoryRule,
        dateline: str | None = None,
    ) -> StoryProfile:
        """The profile of an article given its display and matching text (headline first), its
        language and its word features; ``rule`` says how much of the body is its lead.

        ``dateline``: where the story was filed (the normalizer keeps a "بيروت - وكالات" place as the
        line after the headline).  A report of an Odesa attack filed in Kyiv is not about Kyiv, and every
        report filed in one capital would otherwise share a place: places on that line are background.
        """
        body, filed_end = dateline_span(text, dateline)
        cut = min(len(text), body + rule.lead_chars)
        place_cut = min(len(text), filed_end + rule.place_lead_chars)
        lead, lead_match = text[:cut], match_text[:cut]
        places: dict[str, None] = {}
        regions: dict[str, None] = {}
        countries: dict[str, None] = {}
        background: dict[str, None] = {}
        actors: dict[str, None] = {}
        unknown_names: dict[str, str] = {}  # place id the gazetteer does not know -> its name as written
        for entity in extract_entities(lead, lead_match, gazetteer=self.gazetteer, language=language,
                                      tagger=self.tagger):
            if entity.type != "LOC":
                actors[entity.canonical] = None
                continue
            if entity.canonical in self.countries:
                countries[entity.canonical] = None
                continue
            if entity.start >= place_cut or body <= entity.start < filed_end:
                background[entity.canonical] = None
                continue
            part = compass_part(lead_match, entity.start)
            if part:
                # "بغرب كردفان" where the gazetteer knows only Kordofan: a part of the place, itself the place named,
                # inside it (West Kordofan is not where El Obeid, in North Kordofan, lies).
                places[f"{entity.canonical}#{part}"] = None
                regions[entity.canonical] = None
            else:
                places[entity.canonical] = None
                if entity.canonical not in self.known:
                    unknown_names.setdefault(entity.canonical, entity.text)
            for container in self._containers(entity.canonical):
                (countries if container in self.countries else regions)[container] = None
        # A region named beside a town of its country ("بنت جبيل في جنوب لبنان") is that town's setting, not
        # a second place of the event, even where the gazetteer does not know that the one lies in the other
        # (a town of the knowledge base knows only its country).  Not beside the capital: "Baku" in a report
        # on Karabakh names the government.
        capitals = capital_ids()
        towns_in = {self._country(p) for p in places if p not in self.regions and p not in capitals} - {None}
        unknown = any(p not in self.known and "#" not in p for p in places)
        for place in [p for p in places if p in self.regions and (unknown or self._country(p) in towns_in)]:
            del places[place]
            regions[place] = None
        # Spellings: a town the gazetteer does not know ("أوفيرا") is the place of the same spelling in a country
        # the article names (Uvira, DR Congo), as far as another report says so — a known place carries its
        # spelling keys as regions, an unknown one as its places (see :func:`spelling_keys`).
        for place in list(places):
            name = unknown_names.get(place)
            if name is not None:
                places.update(dict.fromkeys(spelling_keys(name)[-1:]))
            elif self._country(place) is not None and (entry := self._entry(place)) is not None:
                for latin in (entry.name, *entry.en):
                    regions.update(dict.fromkeys(spelling_keys(latin)))
        return StoryProfile(
            words=words,
            places=tuple(places),
            regions=tuple(regions),  # also those the article names: they are not its narrowest places
            countries=tuple(countries),
            background=tuple(b for b in background if b not in places and b not in regions),
            actors=tuple(actors),
            categories=tuple(sorted(self.categories_of(lead_match))),
            language=language,
        )


# Compass words, in matching form, that name a part of the place right after them ("غرب كردفان", "northern Gaza").
_COMPASS: dict[str, str] = {
    **dict.fromkeys(("شمال", "شمالي", "north", "northern"), "n"),
    **dict.fromkeys(("جنوب", "جنوبي", "south", "southern"), "s"),
    **dict.fromkeys(("شرق", "شرقي", "east", "eastern"), "e"),
    **dict.fromkeys(("غرب", "غربي", "west", "western"), "w"),
    **dict.fromkeys(("وسط", "central"), "c"),
}
_PROCLITICS = ("وب", "فب", "ب", "و", "ف", "ل")


def spelling_keys(name: str) -> list[str]:
    """The keys under which a place's name, in either script, meets the same name in the other: its consonant
    skeleton with its vowel letters (``~fr/uia`` for Uvira and أوفيرا) and, for three consonants or more, the
    skeleton alone (short vowels are often left out in Arabic) — the loosest last
    (:mod:`services.entities.variants`).  Nothing for a name of fewer than two consonants.

    An unknown place carries its loosest key, a known place (inside a country) all of its names' keys; two
    reports meet through them only where they also name a country in common (:meth:`StoryQuery.score`)."""
    if _ARABIC_LETTER.search(name):
        skeleton, vowels = arabic_skeleton(name), arabic_vowels(name)
    else:
        skeleton, vowels = latin_skeleton(name), latin_vowels(name)
    consonants = len(skeleton.replace(" ", ""))
    if consonants < 2:
        return []
    return [f"{SPELLING}{skeleton}/{vowels}", *([f"{SPELLING}{skeleton}"] if consonants >= 3 else [])]


_ARABIC_LETTER = re.compile("[\u0621-\u064a]")


def compass_part(match_text: str, start: int) -> str | None:
    """The part of the world ("n", "s", "e", "w", "c") named by the word right before ``start`` in
    ``match_text`` (a compass word, with a leading "ب"/"و"/"ف"/"ل" in Arabic), or None."""
    before = match_text[max(0, start - 16):start]
    if not before.endswith(" "):
        return None
    words = before.split()
    if not words:
        return None
    word = words[-1]
    part = _COMPASS.get(word)
    if part is None:
        for clitic in _PROCLITICS:
            if word.startswith(clitic) and (part := _COMPASS.get(word[len(clitic):])) is not None:
                break
    return part


def _narrowest(p: StoryProfile) -> set[str]:
    """The article's specific places that contain none of its other places (Nabatieh, not South Lebanon)."""
    return set(p.places).difference(p.regions)


def shared_places(a: StoryProfile, b: StoryProfile) -> set[str]:
    """The place gate: the narrowest places of either article that are places of the other or regions
    containing one (empty: the gate is shut).

    Khan Younis meets an article that names only the Gaza Strip; Khan Younis and Jabalia, both in the Gaza
    Strip and both naming it, do not meet through it: two towns of one region are two places.
    """
    a_all, b_all = {*a.places, *a.regions}, {*b.places, *b.regions}
    shared = (_narrowest(a) & b_all) | (_narrowest(b) & a_all)
    if shared and all(x.startswith(SPELLING) for x in shared) and set(a.countries).isdisjoint(b.countries):
        return set()  # one spelling in two countries: two places
    return shared


def shares_a_place(a: StoryProfile, b: StoryProfile) -> bool:
    """Whether the place gate is open (:func:`shared_places`)."""
    return bool(shared_places(a, b))





def _foreign_place(a: StoryProfile, b: StoryProfile) -> bool:
    """Whether one article names a place (of any level) that the other neither names nor lies in."""
    a_all = {*a.places, *a.regions, *a.countries}
    b_all = {*b.places, *b.regions, *b.countries}
    return bool(a.places and not b_all.issuperset(a.places)) and bool(b.places and not a_all.issuperset(b.places))


# Kinds of escalation that say what happened; deaths and displacement also follow floods and earthquakes.
_NOT_WHAT = frozenset({"casualties", "displacement"})
# Kinds of event whose place is a whole country: a coup seizes a state, wherever in its capital it starts.
_NATIONAL = frozenset({"coup"})


Idf = Callable[[Hashable], float]


class StoryQuery:
    """One article asking which indexed original reports its event: its weighted features are computed once,
    each candidate's only when the candidate passes the cheap set tests (the gates) — a busy stream checks
    a few dozen candidates per article.

    The routes to a story (``docs/dedup.md``), in order:

    1. a shared specific place (:func:`shared_places`), and — where both articles say what happened, or
       neither does — some sign of the same what or who;
    2. no hostilities reported (or both report a national event: a coup), places that do not contradict,
       and two actors in common, or the same rare words and the same what or who, or (across languages,
       where words cannot be compared) one rare actor in common;
    3. the words alone, in one language, when neither names a place the other does not contain.

    Reports of hostilities never join on a country alone: two strikes in one country are two events.  The
    score is the channel weights of :class:`StoryRule` times the cosines of the IDF-weighted feature sets.
    """

    def __init__(self, profile: StoryProfile, idf: Idf, rule: StoryRule) -> None:
        self.profile, self.rule = profile, rule
        self._idf: dict[Hashable, float] = {}
        self._idf_of = idf
        a = profile
        self.words = self._vector(a.words)
        self.places = self._places(a)
        self.actors = self._vector(ACTOR + x for x in a.actors)
        self.categories = self._vector(CATEGORY + c for c in a.categories)
        self.what = set(a.categories) - _NOT_WHAT
        self.all_places = {*a.places, *a.regions}
        self.narrowest = _narrowest(a)

    def idf(self, feature: Hashable) -> float:
        """The IDF of a feature (memoised for this query: candidates share many features)."""
        value = self._idf.get(feature)
        if value is None:
            value = self._idf[feature] = self._idf_of(feature)
        return value

    def _vector(self, features: Iterable[Hashable], weight: float = 1.0) -> tuple[dict[Hashable, float], float]:
        """A weighted feature set and its norm."""
        vector = {f: weight * self.idf(f) for f in features}
        return vector, math.sqrt(sum(w * w for w in vector.values()))

    def _places(self, p: StoryProfile) -> tuple[dict[Hashable, float], float]:
        # One id space for all levels: Khan Younis named by one article meets the Gaza Strip named by the other.
        rule, idf = self.rule, self.idf
        vector: dict[Hashable, float] = {c: rule.country_weight * idf(COUNTRY + c) for c in p.countries}
        vector.update((x, rule.background_weight * idf(BACKGROUND + x)) for x in p.background)
        vector.update((r, rule.region_weight * idf(REGION + r)) for r in p.regions)
        vector.update((x, idf(PLACE + x)) for x in p.places)
        return vector, math.sqrt(sum(w * w for w in vector.values()))

    @staticmethod
    def _cosine(a: tuple[dict[Hashable, float], float], b: tuple[dict[Hashable, float], float]) -> float:
        (va, na), (vb, nb) = a, b
        if not na or not nb:
            return 0.0
        if len(vb) < len(va):
            va, vb = vb, va
        dot = sum(w * vb[f] for f, w in va.items() if f in vb)
        return dot / (na * nb) if dot else 0.0

    def word_cosine(self, b: StoryProfile) -> float:
        """The cosine of the IDF-weighted words (0 across languages or without a shared word)."""
        a = self.profile
        if a.language != b.language or self.words[0].keys().isdisjoint(b.words):
            return 0.0
        return self._cosine(self.words, self._vector(b.words))

    def score(self, b: StoryProfile) -> float:
        """How strongly the article and ``b`` report one event (0 when they may not share a story at all)."""
        a, rule = self.profile, self.rule
        what = not set(a.categories).isdisjoint(b.categories)
        who = len(set(a.actors).intersection(b.actors))
        b_what = set(b.categories) - _NOT_WHAT
        # What happened: two reports of hostilities that share no kind of it (an exodus and a border clash, a
        # build-up and street fighting) are two events, whatever places they share.
        if self.what and b_what and self.what.isdisjoint(b_what):
            return 0.0
        national = bool(_NATIONAL & self.what & b_what)
        words: float | None = None
        shared = (self.narrowest & {*b.places, *b.regions}) | (_narrowest(b) & self.all_places)
        if shared and all(x.startswith(SPELLING) for x in shared) and set(a.countries).isdisjoint(b.countries):
            shared = set()  # one spelling in two countries: two places
        if shared:
            # A place alone is not an event (a capital hosts a book fair and a budget).  When only one article's
            # kind of event is known (the other's words are not in the lexicon), a shared town carries it; a
            # capital does not: "Baku vows…" names a government, not where something happened.
            town = not shared <= capital_ids() and bool(a.categories) != bool(b.categories)
            if not (town or what or who):
                words = self.word_cosine(b)
                if words < rule.words_evidence:
                    return 0.0
        elif (not self.what and not b_what) or national:
            # No place in common and no hostilities (or a national event): the places must not contradict (no
            # place one names that the other does not contain, no two different countries), and who and what
            # must agree: two actors in common, a coup in both, or the same rare words and what or who.
            if _foreign_place(a, b) or (a.countries and b.countries and set(a.countries).isdisjoint(b.countries)):
                return 0.0
            if not (national or who >= 2 or (a.language != b.language and self._rare_actor(b))):
                words = self.word_cosine(b)
                if not (words >= rule.words_evidence and (what or who)):
                    return 0.0
            if not (a.places or a.countries) or not (b.places or b.countries):
                # One article says nothing of where (markets, a summit): the place channel cannot disagree.
                return self._sum(b, words) + rule.places
        else:
            words = self.word_cosine(b)
            if words < rule.words_only or _foreign_place(a, b):
                return 0.0
        return self._sum(b, words)

    def _rare_actor(self, b: StoryProfile) -> bool:
        """Whether the two articles share an actor that few retained originals name (the central bank of one
        country, not the UN): across languages, where words cannot be compared, the sign of the same who."""
        bar = self.rule.rare_actor_idf
        return any(self.idf(ACTOR + x) >= bar for x in set(self.profile.actors).intersection(b.actors))

    def _sum(self, b: StoryProfile, words: float | None) -> float:
        """The weighted sum of the channels' cosines."""
        rule = self.rule
        return (
            rule.places * self._cosine(self.places, self._places(b))
            + rule.words * (self.word_cosine(b) if words is None else words)
            + rule.actors * self._cosine(self.actors, self._vector(ACTOR + x for x in b.actors))
            + rule.categories * self._cosine(self.categories, self._vector(CATEGORY + c for c in b.categories))
        )


def story_score(a: StoryProfile, b: StoryProfile, idf: Idf, rule: StoryRule) -> float:
    """How strongly ``a`` and ``b`` report one event (0 when they may not share a story at all):
    :meth:`StoryQuery.score`.  ``idf`` weighs a feature (a word hash or a tagged string) by its rarity."""
    return StoryQuery(a, idf, rule).score(b)
