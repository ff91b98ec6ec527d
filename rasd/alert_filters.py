"""What a ``rasd alerts`` subscriber wants to see: pure filtering of alerts (no Kafka, no I/O).

``--entity`` and ``--place`` take a canonical id (``Q227``), an English name (``Azerbaijan``) or an
Arabic one (``أذربيجان``), compared case-insensitively in the matching form (أ/إ/آ, ى, ة and
tashkeel ignored).  A name is resolved through the gazetteer's aliases when one is given (so
``اذربيجان`` finds ``Q227`` even if the article wrote it otherwise) and also compared with the
alert entity's own name and mentions (so people found by context, not in the gazetteer, match too).
A Latin name also matches the spelling variants of itself (``--entity Zelensky`` finds an alert entity
"Zelenskiy" that the gazetteer did not link: :func:`services.entities.variants.latin_key`, 5 letters or more).
A place also matches the places that contain it, given the gazetteer's containment
(:meth:`services.entities.core.Gazetteer.containers`): an alert about Khan Younis passes
``--place "Gaza Strip"`` and ``--place Palestine`` (and ``--entity Palestine``).
Values of one flag are alternatives (any of them); different flags must all hold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from schemas.models import Alert, AlertEntity
from services.alerter.core import SEVERITY_RANK
from services.entities.variants import latin_key
from services.normalizer.textforms import display_form, matching_form


def normalise(name: str) -> str:
    """The form names are compared in: matching form, case-folded, single spaces."""
    return " ".join(matching_form(display_form(name)).casefold().split())


def alias_index(entries: Iterable[tuple[str, Iterable[str]]]) -> dict[str, frozenset[str]]:
    """``(canonical id, names)`` pairs → normalised name → canonical ids bearing it."""
    index: dict[str, set[str]] = defaultdict(set)
    for canonical, names in entries:
        for name in (canonical, *names):
            index[normalise(name)].add(canonical)
    return {name: frozenset(ids) for name, ids in index.items()}


@dataclass(frozen=True)
class AlertFilter:
    """A subscriber's filters; the defaults let every alert through."""

    min_severity: str = "low"
    entities: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.min_severity!r}")


Containers = Callable[[str], Iterable[str]]
"""Canonical id -> the ids of the places containing it (``Gazetteer.containers``); none for other ids."""


def _no_containers(entity_id: str) -> tuple[str, ...]:
    return ()


def _entity_matches(query: str, entity: AlertEntity, aliases: Mapping[str, frozenset[str]],
                    containers: Containers) -> bool:
    wanted = normalise(query)
    named = aliases.get(wanted, frozenset())
    if entity.canonical in named:
        return True
    if wanted in {normalise(n) for n in (entity.canonical, entity.name, *entity.mentions)}:
        return True
    if _variant_of(query, entity):
        return True
    # A place inside the one asked for: the query names (or is the id of) one of its containers.
    return any(c in named or normalise(c) == wanted for c in containers(entity.canonical))


def _variant_of(query: str, entity: AlertEntity) -> bool:
    """Is the Latin ``query`` a spelling variant of the entity's name or of one of its mentions?"""
    key = latin_key(query)
    return len(key.replace(" ", "")) >= 5 and any(latin_key(n) == key for n in (entity.name, *entity.mentions))


def _any_entity(queries: tuple[str, ...], entities: Iterable[AlertEntity],
                aliases: Mapping[str, frozenset[str]], containers: Containers) -> bool:
    return any(_entity_matches(q, e, aliases, containers) for q in queries for e in entities)


def passes(alert: Alert, flt: AlertFilter, aliases: Mapping[str, frozenset[str]] | None = None,
           containers: Containers | None = None) -> bool:
    """Whether ``alert`` is one the subscriber asked for.

    ``aliases`` (from :func:`alias_index`) resolves names to canonical ids; ``containers`` (``Gazetteer.containers``)
    lets ``--place``/``--entity`` naming a place match the alert's places inside it.  Without them only the alert's
    own ids, names and mentions match.
    """
    names = aliases or {}
    inside = containers or _no_containers
    if SEVERITY_RANK[alert.severity] < SEVERITY_RANK[flt.min_severity]:
        return False
    if flt.languages and alert.language.casefold() not in {lang.casefold() for lang in flt.languages}:
        return False
    if flt.entities and not _any_entity(flt.entities, alert.entities, names, inside):
        return False
    places = [e for e in alert.entities if e.type == "LOC"]
    return not flt.places or _any_entity(flt.places, places, names, inside)


def unknown(queries: Iterable[str], aliases: Mapping[str, frozenset[str]],
            among: Callable[[str], bool] | None = None) -> list[str]:
    """The ``queries`` that name nothing the gazetteer knows (with ``among``: none of the ids it accepts, e.g.
    only places for ``--place``), in order: what ``rasd alerts`` warns about, since such a filter can only match
    an alert entity's own name or id (a person found by context), and usually means a typo."""
    accept = among or (lambda entity_id: True)
    return [q for q in queries if not any(accept(i) for i in aliases.get(normalise(q), ()))]
