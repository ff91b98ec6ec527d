"""The gazetteer: known people, organisations and places, loaded once from JSONL data files (one entity a line, see
``services/entities/data`` and its ``kb/``) into an index over the *matching forms* of their aliases.

Besides the alias index it holds what the passes read per token, cached across articles: the forms of a token that
start an alias (:meth:`Gazetteer.starters`) and the passes a token may open (:meth:`Gazetteer.positions`, one byte of
flags per token); and the places' containment ("in": Khan Younis -> Gaza Strip -> Palestine) and coordinates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Final, cast

from schemas.models import EntityType
from services.common.datafiles import read_jsonl
from services.entities.document import (
    _ADJ,
    _ARABIC,
    _CTX,
    _NAME,
    _TOKEN,
    CONF_CONTEXT_ALIAS,
    CONF_MULTI,
    CONF_NISBA,
    CONF_SINGLE,
    _candidates,
    _indices,
    _lookup_all,
    _strip,
)
from services.entities.lexicon import _EN_FACILITY_TAILS, _FACILITY_HEADS, _ORG_TRIGGERS, _PERSON_TRIGGERS, _TRIGGERS
from services.entities.variants import Variants
from services.normalizer.textforms import display_form, matching_form

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
KB_DIR: Final = DATA_DIR / "kb"
ENTITY_TYPES: Final[frozenset[str]] = frozenset({"PERSON", "ORG", "LOC"})


class GazetteerError(ValueError):
    """The gazetteer data is invalid (duplicate id, unknown type, conflicting alias...)."""


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    """One entity of the gazetteer."""

    id: str
    type: EntityType
    name: str
    ar: tuple[str, ...] = ()
    en: tuple[str, ...] = ()
    adj_ar: tuple[str, ...] = ()
    adj_en: tuple[str, ...] = ()
    ctx: tuple[str, ...] = ()
    # The id of the place that directly contains this one (the data's "in": Khan Younis -> Gaza Strip), or None.
    container: str | None = None
    # A place's coordinates (WGS84 degrees), when known; both or neither.
    lat: float | None = None
    lon: float | None = None


_KIND_CONF: Final = {_CTX: CONF_CONTEXT_ALIAS, _ADJ: CONF_NISBA}

# What a token may open (Gazetteer.positions): a gazetteer alias, a title/ministry, an organisation.
_F_GAZ: Final = 1
_F_CTX: Final = 2
_F_ORG: Final = 4
_F_PERSON: Final = 8
_F_FACILITY: Final = 16  # a facility head or English tail ("محطة", "dam"): opens no pass, says a facility may be named
# The passes in the order they run (see :meth:`Gazetteer.positions`).
_PASS_FLAGS: Final = (_F_GAZ, _F_ORG, _F_CTX, _F_PERSON)
_PASS_TABLES: Final = tuple(bytes(b & flag for b in range(256)) for flag in _PASS_FLAGS)
_FACILITY_TABLE: Final = bytes(b & _F_FACILITY for b in range(256))


@dataclass(frozen=True, slots=True)
class _Alias:
    entry: int  # index into Gazetteer.entries
    kind: int
    latin: bool  # Latin-script alias: needs capitalised display tokens
    acronym: bool  # all-capitals alias ("US", "UN"): the display must be all capitals too
    plain: bool  # neither a nisba adjective nor Latin: acceptable wherever it matches (see _accepts)
    # What a match claims (the entry's type, id and name; the confidence for this alias's kind and length).
    etype: EntityType
    canonical: str
    name: str
    conf: float


# A form of a token that starts an alias: (stem, proclitic length, longest alias in tokens, one-token alias,
# the tokens that may follow the stem in a longer alias, whether it is the token's only such form).
_Starter = tuple[str, int, int, _Alias | None, frozenset[str] | set[str], bool]
_NOTHING: Final[frozenset[str]] = frozenset()


@dataclass(slots=True)
class Gazetteer:
    """An index over the matching forms of the aliases of known entities."""

    entries: list[GazetteerEntry] = field(repr=False)
    index: dict[tuple[str, ...], _Alias] = field(default_factory=dict, repr=False)
    # Longest alias (in tokens) starting with a given first token.
    max_len: dict[str, int] = field(default_factory=dict, repr=False)
    # Nisba adjective (matching form, any gender/article) -> entry index of the country.
    nisba: dict[str, int] = field(default_factory=dict, repr=False)
    # The same, counting nisba adjectives too.
    max_len_adj: dict[str, int] = field(default_factory=dict, repr=False)
    _starters: dict[str, tuple[_Starter, ...]] = field(default_factory=dict, repr=False)
    _starters_adj: dict[str, tuple[_Starter, ...]] = field(default_factory=dict, repr=False)
    # The tokens (among those in _starters) whose only form is a plain one-token alias that no longer alias
    # extends: (alias, proclitic length).  The gazetteer pass claims them without reading their starters.
    _singles: dict[str, tuple[_Alias, int]] = field(default_factory=dict, repr=False)
    _singles_adj: dict[str, tuple[_Alias, int]] = field(default_factory=dict, repr=False)
    _flags: dict[str, int] = field(default_factory=dict, repr=False)
    _flags_adj: dict[str, int] = field(default_factory=dict, repr=False)
    # Every prefix of 2 tokens or more of an alias key (the key itself included): a match is extended
    # only while the tokens read so far start some alias.
    _prefixes: set[tuple[str, ...]] = field(default_factory=set, repr=False)
    # First token -> the second tokens of the aliases of two tokens or more that start with it.
    _seconds: dict[str, set[str]] = field(default_factory=dict, repr=False)
    # Place id -> the ids of the places containing it, nearest first (only places with an "in").
    _containers: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # Place id -> (lat, lon), for the places whose coordinates are known.
    coords: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    # Spelling variants of the aliases (:meth:`variants`), built on the first miss that needs them.
    _variants: Variants | None = field(default=None, repr=False)

    @classmethod
    def load(cls, paths: Iterable[Path] | None = None) -> Gazetteer:
        """Load and validate JSONL data files (default: every ``*.jsonl`` in the packaged data, then in its ``kb/``,
        the place knowledge base built from GeoNames by ``make kb``)."""
        files = sorted(DATA_DIR.glob("*.jsonl")) + sorted(KB_DIR.glob("*.jsonl")) if paths is None \
            else [Path(p) for p in paths]
        entries: list[GazetteerEntry] = []
        seen: dict[str, str] = {}
        for path in files:
            for where, obj in read_jsonl(path, GazetteerError):
                entry = _parse_entry(obj, where)
                if entry.id in seen:
                    raise GazetteerError(f"{where}: duplicate id {entry.id!r} (first at {seen[entry.id]})")
                seen[entry.id] = where
                entries.append(entry)
        return cls.from_entries(entries, origins=seen)

    @classmethod
    def from_entries(cls, entries: Sequence[GazetteerEntry], origins: Mapping[str, str] | None = None) -> Gazetteer:
        """Build the index; raise :class:`GazetteerError` when two entities claim one alias or the places'
        containment ("in") is broken.  ``origins`` (id -> "file:line") only makes the messages point at the data."""
        gaz = cls(entries=list(entries))
        gaz._containers = _containment(gaz.entries, origins or {})
        gaz.coords = {e.id: (e.lat, e.lon) for e in gaz.entries if e.lat is not None and e.lon is not None}
        for i, entry in enumerate(gaz.entries):
            ctx = {_key(a) for a in entry.ctx}
            for alias in (*entry.ar, *entry.en):
                key = _key(alias)
                kind = _CTX if key in ctx else _NAME
                gaz._add(key, alias, i, kind)
            for stem in entry.adj_ar:
                for form in _nisba_forms(stem):
                    key = _key(form)
                    gaz._add(key, form, i, _ADJ)
                    gaz.nisba.setdefault(key[0], i)
            for adj in entry.adj_en:
                gaz._add(_key(adj), adj, i, _ADJ)
        return gaz

    def _add(self, key: tuple[str, ...], alias: str, entry: int, kind: int) -> None:
        if not key:
            raise GazetteerError(f"{self.entries[entry].id}: alias {alias!r} has no word characters")
        old = self.index.get(key)
        if old is not None:
            if old.entry != entry:
                raise GazetteerError(
                    f"alias {alias!r} is claimed by both {self.entries[old.entry].id!r} "
                    f"and {self.entries[entry].id!r}")
            if old.kind <= kind:
                return
        latin = not _ARABIC.search(alias)
        letters = [c for c in alias if c.isalpha()]
        acronym = latin and len(key) <= 2 and all(c.isupper() for c in letters) and len(letters) <= 5
        conf = (CONF_MULTI if len(key) > 1 else CONF_SINGLE) if kind == _NAME else _KIND_CONF[kind]
        known = self.entries[entry]
        self.index[key] = _Alias(entry, kind, latin, acronym, kind != _ADJ and not latin, known.type, known.id,
                                 known.name, conf)
        self._prefixes.update(key[:length] for length in range(2, len(key) + 1))
        if len(key) > 1:
            self._seconds.setdefault(key[0], set()).add(key[1])
        lengths = [self.max_len_adj] if kind == _ADJ else [self.max_len, self.max_len_adj]
        for table in lengths:
            if table.get(key[0], 0) < len(key):
                table[key[0]] = len(key)

    def __len__(self) -> int:
        return len(self.entries)

    def containers(self, entity_id: str) -> tuple[str, ...]:
        """The ids of the places that contain ``entity_id``, nearest first, transitively ("rasd:loc:khan-younis" ->
        Gaza Strip, Palestine); empty for an unknown id and for a place with no "in".  A dict lookup: the chains
        are followed once, at load."""
        return self._containers.get(entity_id, ())

    def variants(self) -> Variants:
        """The variant keys and consonant skeletons of the aliases (:mod:`services.entities.variants`), built once on
        first use (~2 s with the knowledge base): spans that match no alias exactly may link through them."""
        if self._variants is None:
            self._variants = Variants.build(((e.id, e.name, e.en, e.ar, e.type) for e in self.entries),
                                            self.containers)
        return self._variants

    def _learn(self, toks: set[str], nisba: bool) -> None:
        """Classify tokens not seen before (``toks``: none of them in the cache) and record their passes."""
        cache = self._flags_adj if nisba else self._flags
        if len(cache) + len(toks) > 200_000:
            cache.clear()
        for tok in toks:
            stems = _strip(tok)
            cache[tok] = ((_F_GAZ if self.starters(tok, nisba) else 0)
                          | (0 if stems.isdisjoint(_TRIGGERS) else _F_CTX)
                          | (0 if stems.isdisjoint(_ORG_TRIGGERS) else _F_ORG)
                          | (0 if stems.isdisjoint(_PERSON_TRIGGERS) else _F_PERSON)
                          | (_F_FACILITY if tok in _FACILITY_HEADS or tok in _EN_FACILITY_TAILS else 0))

    def positions(self, toks: list[str], nisba: bool = False) -> tuple[list[int], list[int], list[int], list[int],
                                                                         bool]:
        """For each pass of _PASS_FLAGS, the positions of the tokens that may open it; and whether any token is a
        facility head or tail (when none is, no place can be inside a facility's name)."""
        cache = self._flags_adj if nisba else self._flags
        # All in C loops: the flags of every token (one byte each), the positions with any flag, then one
        # filter per pass (bytes.translate keeps the pass's bit of each byte).
        try:
            flags = _lookup_all(cache, toks)
        except KeyError:  # words not seen before: classify them first
            self._learn(set(toks).difference(cache), nisba)
            flags = _lookup_all(cache, toks)
        flagged = list(compress(_indices(len(toks)), flags))
        present = flags.translate(None, b"\0")  # the non-zero flags, in order
        gaz, org, ctx, person = (list(compress(flagged, present.translate(table))) for table in _PASS_TABLES)
        return gaz, org, ctx, person, present.translate(_FACILITY_TABLE).count(_F_FACILITY) > 0

    def starters(self, tok: str, nisba: bool = False) -> tuple[_Starter, ...]:
        """(stem, proclitic length, longest alias in tokens, the one-token alias or None, the tokens that may
        come next in a longer alias, the only form?) for each form of ``tok`` that starts an alias."""
        cache = self._starters_adj if nisba else self._starters
        hit = cache.get(tok)
        if hit is None:
            singles = self._singles_adj if nisba else self._singles
            if len(cache) > 200_000:
                cache.clear()
                singles.clear()
            lengths = self.max_len_adj if nisba else self.max_len
            forms = [(stem, cut) for stem, cut in _candidates(tok) if stem in lengths]
            hit = tuple((stem, cut, lengths[stem], self.index.get((stem,)), self._seconds.get(stem, _NOTHING),
                         len(forms) == 1) for stem, cut in forms)
            cache[tok] = hit
            if len(hit) == 1 and hit[0][2] == 1 and hit[0][3] is not None and hit[0][3].plain:
                singles[tok] = (hit[0][3], hit[0][1])
        return hit


def _containment(entries: Sequence[GazetteerEntry], origins: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Place id -> its containers, nearest first, from each entry's ``container``.

    Raises :class:`GazetteerError` when an "in" names no entry, names an entry that is not a place, is set on an
    entry that is not a place, or when following the chain comes back to a place already on it (a cycle).
    """
    by_id = {e.id: e for e in entries}

    def at(ent_id: str) -> str:
        return f"{origins[ent_id]}: " if ent_id in origins else ""

    direct: dict[str, str] = {}
    for entry in entries:
        if entry.container is None:
            continue
        if entry.type != "LOC":
            raise GazetteerError(f"{at(entry.id)}{entry.id}: 'in' is only for places (LOC), not {entry.type}")
        target = by_id.get(entry.container)
        if target is None:
            raise GazetteerError(f"{at(entry.id)}{entry.id}: 'in' names {entry.container!r}, which is no entry")
        if target.type != "LOC":
            raise GazetteerError(f"{at(entry.id)}{entry.id}: 'in' names {entry.container!r} ({target.type}), "
                                 "not a place (LOC)")
        direct[entry.id] = entry.container
    chains: dict[str, tuple[str, ...]] = {}
    for start in direct:
        chain: list[str] = []
        node = start
        while node in direct:
            node = direct[node]
            if node == start or node in chain:
                raise GazetteerError(f"{at(start)}{start}: 'in' makes a cycle: "
                                     + " -> ".join((start, *chain, node)))
            chain.append(node)
        chains[start] = tuple(chain)
    return chains


def _parse_entry(obj: dict[str, object], where: str) -> GazetteerEntry:
    known = {"id", "type", "name", "in", "ar", "en", "adj_ar", "adj_en", "ctx", "lat", "lon"}
    unknown = set(obj) - known
    if unknown:
        raise GazetteerError(f"{where}: unknown field(s) {sorted(unknown)}")
    ent_id, etype, name = obj.get("id"), obj.get("type"), obj.get("name")
    if not isinstance(ent_id, str) or not ent_id.strip():
        raise GazetteerError(f"{where}: missing or empty 'id'")
    if etype not in ENTITY_TYPES:
        raise GazetteerError(f"{where}: {ent_id}: unknown type {etype!r} (expected one of {sorted(ENTITY_TYPES)})")
    if not isinstance(name, str) or not name.strip():
        raise GazetteerError(f"{where}: {ent_id}: missing or empty 'name'")

    def strings(field_name: str) -> tuple[str, ...]:
        value = obj.get(field_name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise GazetteerError(f"{where}: {ent_id}: {field_name!r} must be a list of non-empty strings")
        return tuple(cast(list[str], value))

    ar, en = strings("ar"), strings("en")
    if not ar and not en:
        raise GazetteerError(f"{where}: {ent_id}: no aliases")
    ctx = strings("ctx")
    if ctx and not {_key(c) for c in ctx} <= {_key(a) for a in (*ar, *en)}:
        raise GazetteerError(f"{where}: {ent_id}: every 'ctx' alias must also be listed in 'ar' or 'en'")
    container = obj.get("in")
    if "in" in obj and (not isinstance(container, str) or not container.strip()):
        raise GazetteerError(f"{where}: {ent_id}: 'in' must be a non-empty string (the id of the containing place)")
    lat, lon = _coordinate(obj, "lat", 90.0, where, ent_id), _coordinate(obj, "lon", 180.0, where, ent_id)
    if (lat is None) != (lon is None):
        raise GazetteerError(f"{where}: {ent_id}: 'lat' and 'lon' go together (both or neither)")
    if lat is not None and etype != "LOC":
        raise GazetteerError(f"{where}: {ent_id}: 'lat'/'lon' are only for places (LOC), not {etype}")
    return GazetteerEntry(id=ent_id, type=cast(EntityType, etype), name=name, ar=ar, en=en,
                          adj_ar=strings("adj_ar"), adj_en=strings("adj_en"), ctx=ctx,
                          container=cast(str | None, container), lat=lat, lon=lon)


def _coordinate(obj: dict[str, object], name: str, limit: float, where: str, ent_id: str) -> float | None:
    """The entry's ``lat`` or ``lon``: a number (not a bool) within +-``limit`` degrees, or None when absent."""
    if name not in obj:
        return None
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -limit <= value <= limit:
        raise GazetteerError(f"{where}: {ent_id}: {name!r} must be a number of degrees in [-{limit:g}, {limit:g}]")
    return float(value)


def _key(alias: str) -> tuple[str, ...]:
    return tuple(m.group() for m in _TOKEN.finditer(matching_form(display_form(alias))))


def _nisba_forms(stem: str) -> tuple[str, ...]:
    """"أرميني" -> أرميني، أرمينية، الأرميني، الأرمينية."""
    return (stem, stem + "ة", "ال" + stem, "ال" + stem + "ة")
