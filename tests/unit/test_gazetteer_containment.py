"""Place containment in the gazetteer: the data's ``"in"`` field and :meth:`Gazetteer.containers`.

Why: story grouping and subscriber filters ask "is this place inside that one?" (Khan Younis is in the Gaza
Strip, which is in Palestine).  A wrong or dangling ``in`` would silently group unrelated stories or drop alerts
a desk asked for, so the loader refuses broken containment and the packaged data is checked as a whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.entities.core import DATA_DIR, Gazetteer, GazetteerEntry, GazetteerError


def _rows(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def _place(ent_id: str, name: str, alias: str, within: str | None = None, etype: str = "LOC") -> dict[str, object]:
    row: dict[str, object] = {"id": ent_id, "type": etype, "name": name, "en": [alias]}
    if within is not None:
        row["in"] = within
    return row


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


# --- the loader ------------------------------------------------------------------------------------

def test_loader_reads_in_and_follows_the_chain(tmp_path: Path) -> None:
    """A town in a region in a country: the entry keeps its direct container, containers() the whole chain."""
    path = _write(tmp_path / "g.jsonl", [
        _place("c", "Country", "Countryland"),
        _place("r", "Region", "Regionshire", "c"),
        _place("t", "Town", "Townville", "r"),
    ])
    gaz = Gazetteer.load([path])
    assert [e.container for e in gaz.entries] == [None, "c", "r"]
    assert gaz.containers("t") == ("r", "c")
    assert gaz.containers("r") == ("c",)
    assert gaz.containers("c") == ()
    assert gaz.containers("no-such-id") == ()


def test_loader_rejects_an_unknown_in_id(tmp_path: Path) -> None:
    """A typo in "in" must fail at load, naming file, line and the missing id, not silently match nothing."""
    path = _write(tmp_path / "g.jsonl", [_place("t", "Town", "Townville", "rasd:loc:nowhere")])
    with pytest.raises(GazetteerError, match=r"g\.jsonl:1: t: 'in' names 'rasd:loc:nowhere', which is no entry"):
        Gazetteer.load([path])


def test_loader_rejects_an_in_that_is_not_a_place(tmp_path: Path) -> None:
    """Only places contain places: a town "in" an organisation is a data error."""
    path = _write(tmp_path / "g.jsonl", [
        _place("o", "Some Agency", "Some Agency", etype="ORG"),
        _place("t", "Town", "Townville", "o"),
    ])
    with pytest.raises(GazetteerError, match=r"names .o. \(ORG\), not a place"):
        Gazetteer.load([path])


def test_loader_rejects_in_on_an_entry_that_is_not_a_place(tmp_path: Path) -> None:
    """Containment is between places; an "in" on a person or organisation has no meaning here."""
    path = _write(tmp_path / "g.jsonl", [
        _place("c", "Country", "Countryland"),
        _place("p", "Some Person", "Some Person", "c", etype="PERSON"),
    ])
    with pytest.raises(GazetteerError, match="only for places"):
        Gazetteer.load([path])


@pytest.mark.parametrize("rows", [
    pytest.param([_place("a", "A", "Aland", "a")], id="itself"),
    pytest.param([_place("a", "A", "Aland", "b"), _place("b", "B", "Bland", "a")], id="two"),
    pytest.param([_place("t", "T", "Tland", "a"), _place("a", "A", "Aland", "b"), _place("b", "B", "Bland", "a")],
                 id="chain-into-a-cycle"),
])
def test_loader_rejects_a_cycle(tmp_path: Path, rows: list[dict[str, object]]) -> None:
    """A cycle would make containers() endless (or every place inside every other): refused, showing the loop."""
    with pytest.raises(GazetteerError, match=r"cycle: .* -> "):
        Gazetteer.load([_write(tmp_path / "g.jsonl", rows)])


def test_from_entries_checks_containment_too() -> None:
    """Gazetteers built in code (tests, tools) get the same checks as files, without file:line."""
    entries = [GazetteerEntry(id="a", type="LOC", name="A", en=("Aland",), container="b"),
               GazetteerEntry(id="b", type="LOC", name="B", en=("Bland",), container="a")]
    with pytest.raises(GazetteerError, match=r"^a: 'in' makes a cycle: a -> b -> a$"):
        Gazetteer.from_entries(entries)


@pytest.mark.parametrize("value", ["", "  ", 7, ["c"], None])
def test_loader_rejects_an_in_that_is_not_a_non_empty_string(tmp_path: Path, value: object) -> None:
    """"in" holds one id; an empty string, a number, a list or null is a malformed line."""
    row = {**_place("c", "Country", "Countryland"), "in": value}
    with pytest.raises(GazetteerError, match="'in' must be a non-empty string"):
        Gazetteer.load([_write(tmp_path / "g.jsonl", [row])])


# --- the packaged data ---------------------------------------------------------------------------

@pytest.mark.parametrize(("place", "expected"), [
    ("rasd:loc:khan-younis", ("Q39760", "Q219060")),  # Gaza Strip, Palestine
    ("rasd:loc:jenin", ("Q36678", "Q219060")),  # West Bank, Palestine
    ("Q39760", ("Q219060",)),
    ("rasd:loc:south-lebanon", ("Q822",)),
    ("rasd:loc:tyre", ("rasd:loc:south-lebanon", "Q822")),
    ("rasd:loc:kharkiv", ("rasd:loc:kharkiv-oblast", "Q212")),
    ("rasd:loc:el-fasher", ("rasd:loc:north-darfur", "rasd:loc:darfur", "Q1049")),
    ("rasd:loc:goma", ("rasd:loc:north-kivu", "Q974")),
    ("Q84", ("Q21", "Q145")),  # London: England, United Kingdom
    ("rasd:loc:bamako", ("Q912",)),
])
def test_containers_of_real_places(gazetteer: Gazetteer, place: str, expected: tuple[str, ...]) -> None:
    """Nearest container first, up to the country."""
    assert gazetteer.containers(place) == expected


@pytest.mark.parametrize("entity_id", [
    "Q219060", "Q822",  # countries contain nothing here and are in nothing
    "rasd:loc:red-sea", "rasd:loc:nile", "rasd:loc:middle-east", "rasd:loc:sahel",  # span several countries
    "Q1218", "rasd:loc:kashmir", "rasd:loc:western-sahara", "rasd:loc:shebaa-farms",  # sovereignty unsettled
    "Q311440", "Q1065", "unknown",  # António Guterres, the United Nations, an unknown id,
])
def test_no_containers(gazetteer: Gazetteer, entity_id: str) -> None:
    """Places left out on purpose (docs/entities.md says why), countries, non-places and unknown ids: empty."""
    assert gazetteer.containers(entity_id) == ()


def test_every_contained_place_reaches_a_country() -> None:
    """Every place with an "in" ends, through places of places.jsonl, at a country of countries.jsonl.

    A chain that stopped at a region would leave a country's subscribers without that place; one through a
    country would say a country is inside another.
    """
    countries = {str(r["id"]) for r in _rows("countries.jsonl")}
    places = _rows("places.jsonl")
    direct = {str(r["id"]): str(r["in"]) for r in places if "in" in r}
    assert len(direct) >= 500, "the packaged places lost their containment"
    for place, container in direct.items():
        chain = [container]
        while chain[-1] not in countries:
            assert chain[-1] in direct, f"{place}: chain {chain} stops at a place outside any country"
            assert len(chain) < 10, f"{place}: chain {chain} does not end"
            chain.append(direct[chain[-1]])


def test_countries_are_in_nothing() -> None:
    """countries.jsonl lists states (UN members and observers, Kosovo, Taiwan, the Soviet Union): none is
    unambiguously inside another, so none carries "in"."""
    assert not [r["id"] for r in _rows("countries.jsonl") if "in" in r]


def test_containers_match_the_data(gazetteer: Gazetteer) -> None:
    """containers() starts with the entry's own "in" for every place, and is empty exactly when "in" is absent."""
    for entry in gazetteer.entries:
        chain = gazetteer.containers(entry.id)
        assert (chain[0] if chain else None) == entry.container
