"""The gazetteer (services/entities/gazetteer.py): loading and validating the data, the alias index, the forms of a
token that start an alias, and the token classes that say where each pass may open (with the one-token shortcut
of the gazetteer pass, ``Gazetteer._singles``, pinned to its plain definition)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.entities.document import _split
from services.entities.gazetteer import (
    _F_CTX,
    _F_GAZ,
    _F_ORG,
    _F_PERSON,
    Gazetteer,
    GazetteerEntry,
    GazetteerError,
    _key,
    _nisba_forms,
)
from services.entities.lexicon import _EN_FACILITY_TAILS, _FACILITY_HEADS
from services.normalizer.textforms import display_form, matching_form
from tests.unit.entities_texts import extract, match_texts, texts

# Places named inside a facility's name (a head before, an English tail after).
_FACILITY_TEXTS = [
    "قصفت القوات محطة دنيبرو الكهرومائية، وقال مسؤول في جامعة طرابلس إن سد مأرب بخير.",
    "Russian forces shelled the Zaporizhzhia Power Plant and the Kakhovka Dam near Kherson.",
]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def test_facility_flag_says_whether_a_token_is_a_facility_word(gazetteer: Gazetteer) -> None:
    """``positions`` says "no facility word" only when no token is a facility head or English tail: the one fact
    the gazetteer pass's shortcut relies on (checked on every real article and on texts that have some)."""
    seen = set()
    for match in [*match_texts(), *(matching_form(display_form(t)) for t in _FACILITY_TEXTS)]:
        toks = _split(match)[1::2]
        expected = any(t in _FACILITY_HEADS or t in _EN_FACILITY_TAILS for t in toks)
        assert gazetteer.positions(toks)[4] == expected
        seen.add(expected)
    assert seen == {True, False}


def test_singles_are_the_tokens_whose_starters_are_one_plain_single(gazetteer: Gazetteer) -> None:
    """Each token the gazetteer pass claims by the one-token shortcut has exactly one form, that starts no longer
    alias and is a plain one-token alias, with the proclitic length its starters give; and every such token of the
    real articles is recorded (so the shortcut does run)."""
    gaz = Gazetteer.from_entries(gazetteer.entries)  # fresh caches
    for _, match in texts():
        for tok in _split(match)[1::2]:
            starters = gaz.starters(tok)
            one = len(starters) == 1 and starters[0][2] == 1 and starters[0][3] is not None and starters[0][3].plain
            assert (tok in gaz._singles) == one
            if one:
                assert gaz._singles[tok] == (starters[0][3], starters[0][1])
    assert len(gaz._singles) > 20


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_packaged_gazetteer_is_large_and_valid(gazetteer: Gazetteer) -> None:
    """The packaged data loads without errors and covers several hundred entities."""
    assert len(gazetteer) >= 400
    assert {e.type for e in gazetteer.entries} == {"PERSON", "ORG", "LOC"}


def test_loader_rejects_duplicate_ids(tmp_path: Path) -> None:
    """Two lines with one id are a data error, even across files."""
    a = _write(tmp_path / "a.jsonl", [{"id": "Q1", "type": "LOC", "name": "A", "ar": ["ألف"]}])
    b = _write(tmp_path / "b.jsonl", [{"id": "Q1", "type": "LOC", "name": "B", "ar": ["باء"]}])
    with pytest.raises(GazetteerError, match="duplicate id"):
        Gazetteer.load([a, b])


@pytest.mark.parametrize("row", [
    {"id": "Q1", "type": "PLACE", "name": "A", "ar": ["ألف"]},
    {"id": "Q1", "type": "LOC", "name": "A"},
    {"id": "", "type": "LOC", "name": "A", "ar": ["ألف"]},
    {"id": "Q1", "type": "LOC", "name": "A", "ar": "ألف"},
    {"id": "Q1", "type": "LOC", "name": "A", "ar": ["ألف"], "colour": "red"},
])
def test_loader_rejects_malformed_entries(tmp_path: Path, row: dict[str, object]) -> None:
    """Unknown types, missing aliases, empty ids, wrong field shapes and unknown fields fail loudly."""
    with pytest.raises(GazetteerError):
        Gazetteer.load([_write(tmp_path / "bad.jsonl", [row])])


def test_loader_rejects_alias_claimed_by_two_entities(tmp_path: Path) -> None:
    """One alias (after normalisation: أ = ا) cannot name two different entities."""
    path = _write(tmp_path / "c.jsonl", [
        {"id": "Q1", "type": "LOC", "name": "A", "ar": ["أرض"]},
        {"id": "Q2", "type": "ORG", "name": "B", "ar": ["ارض"]},
    ])
    with pytest.raises(GazetteerError, match="claimed by both"):
        Gazetteer.load([path])


def test_loader_accepts_custom_files(tmp_path: Path) -> None:
    """A small custom gazetteer works end to end."""
    path = _write(tmp_path / "g.jsonl", [{"id": "rasd:loc:x", "type": "LOC", "name": "Xville",
                                          "ar": ["إكسفيل"], "en": ["Xville"]}])
    gaz = Gazetteer.load([path])
    ents = extract("وصل الوفد إلى إكسفيل", gaz)
    assert [(e.text, e.name) for e in ents] == [("إكسفيل", "Xville")]


def test_keys_and_nisba_forms() -> None:
    """An alias's key is the tokens of its matching form; a nisba stem gives its four forms."""
    assert _key("الأمم المتحدة") == ("الامم", "المتحده")
    assert _key("U.S.") == ("u", "s")
    assert _nisba_forms("أرميني") == ("أرميني", "أرمينية", "الأرميني", "الأرمينية")


def test_from_entries_indexes_aliases_and_starters() -> None:
    """Aliases are indexed by key with their entity's type, id and confidence; a proclitic form of a token starts
    the alias its stem starts."""
    gaz = Gazetteer.from_entries([
        GazetteerEntry("Q1", "LOC", "Gaza Strip", ar=("قطاع غزة", "غزة")),
        GazetteerEntry("Q2", "LOC", "Armenia", ar=("أرمينيا",), adj_ar=("أرميني",)),
    ])
    assert gaz.index[("قطاع", "غزه")].canonical == "Q1" and gaz.index[("قطاع", "غزه")].conf == 0.95
    assert gaz.index[("غزه",)].conf == 0.85 and gaz.max_len["قطاع"] == 2
    assert gaz.nisba[matching_form("الأرمينية")] == 1
    assert [(stem, cut) for stem, cut, *_ in gaz.starters("وبغزه")] == [("غزه", 2)]
    assert gaz.starters("رفح") == ()
    gaz_at, org_at, ctx_at, person_at, facilities = gaz.positions(["في", "قطاع", "غزه", "وزير"])
    assert gaz_at == [1, 2] and ctx_at == [3] and org_at == [] and person_at == [] and not facilities
    assert gaz._flags["وزير"] & _F_CTX and not gaz._flags["في"] & (_F_GAZ | _F_ORG | _F_PERSON)


def test_an_alias_without_word_characters_is_an_error() -> None:
    with pytest.raises(GazetteerError, match="no word characters"):
        Gazetteer.from_entries([GazetteerEntry("Q1", "LOC", "X", ar=("…",))])
