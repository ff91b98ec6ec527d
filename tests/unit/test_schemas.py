"""Message contracts: the committed JSON Schemas and the orjson codec.

The JSON Schema files are what teams outside Python validate against; the codec is the one
place where bytes become models. Both are the pipeline's public contract, so a silent drift
in either breaks consumers we never see.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from pydantic import BaseModel, Field, computed_field, field_serializer

from schemas.codec import DecodeError, _dumps_its_fields, article_id_of, decode, encode
from schemas.export import SCHEMA_DIR, export_schemas, render_schemas, schema_filename, stale_files
from schemas.models import (
    TOPIC_MODELS,
    Alert,
    AlertEntity,
    AlertMatch,
    DeadLetter,
    DedupedArticle,
    DedupVerdict,
    EnrichedArticle,
    Entity,
    NormalizedArticle,
    RawArticle,
)

REEXPORT_HINT = "run `python -m schemas.export` and commit schemas/json/"

# --------------------------------------------------------------------------- JSON Schema export


def test_committed_schemas_match_the_models() -> None:
    """A model change without a re-export would hand consumers a stale contract: fail loudly."""
    expected = render_schemas()
    problems: list[str] = []
    for name, text in expected.items():
        path = SCHEMA_DIR / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from the models")
    orphans = sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json") if p.name not in expected)
    problems.extend(f"{name}: no topic in TOPIC_MODELS has this schema" for name in orphans)
    assert not problems, "JSON schemas are stale (" + REEXPORT_HINT + "):\n  " + "\n  ".join(problems)


def test_one_schema_file_per_topic() -> None:
    """Every topic in TOPIC_MODELS gets exactly one file named after its key."""
    assert sorted(render_schemas()) == sorted(schema_filename(k) for k in TOPIC_MODELS)
    assert all(schema_filename(k) == f"{k}.schema.json" for k in TOPIC_MODELS)


def test_export_is_deterministic_and_well_formed(tmp_path: Path) -> None:
    """Re-exporting must rewrite identical bytes, or every run would produce a spurious diff."""
    first = {p.name: p.read_bytes() for p in export_schemas(tmp_path)}
    second = {p.name: p.read_bytes() for p in export_schemas(tmp_path)}
    assert first == second
    for name, raw in first.items():
        text = raw.decode("utf-8")
        assert text.endswith("}\n") and not text.endswith("\n\n"), name
        schema = json.loads(text)
        # Pretty, sorted keys: the canonical rendering round-trips exactly.
        assert json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text, name
        assert schema["type"] == "object"
        assert schema["$schema"].startswith("https://json-schema.org/")
        key = name.removesuffix(".schema.json")
        assert schema["title"] == TOPIC_MODELS[key].__name__
    assert stale_files(tmp_path) == []


def test_check_reports_stale_and_orphan_files(tmp_path: Path) -> None:
    """``--check`` is what CI runs: it must notice an edited file and a file of a removed topic."""
    export_schemas(tmp_path)
    (tmp_path / "raw.schema.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "gone.schema.json").write_text("{}\n", encoding="utf-8")
    stale = {p.name for p in stale_files(tmp_path)}
    assert stale == {"raw.schema.json", "gone.schema.json"}
    export_schemas(tmp_path)
    assert stale_files(tmp_path) == []
    assert not (tmp_path / "gone.schema.json").exists()


def test_check_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI exits 1 and names the stale files, telling the user which command fixes them."""
    from schemas.export import main

    assert main(["--check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "python -m schemas.export" in err and "raw.schema.json" in err
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0


def test_strict_models_forbid_extra_fields_in_schema() -> None:
    """Downstream models are closed (extra="forbid"); only the raw feed is open to new fields."""
    for key, text in render_schemas().items():
        schema = json.loads(text)
        if key == "raw.schema.json":
            assert schema.get("additionalProperties") is not False
            assert schema["required"] == ["body"]
        else:
            assert schema["additionalProperties"] is False, key


# --------------------------------------------------------------------------- codec round trips


def _normalized() -> NormalizedArticle:
    text = "Headline\nBody text about Gaza."
    return NormalizedArticle(
        id="a1",
        url="https://example.org/a1",
        source="example",
        title="Headline",
        language="en",
        published_at="2024-05-01T10:00:00Z",
        dateline=None,
        text=text,
        match_text=text.lower(),
        ingested_at=1714557600.5,
    )


def _deduped() -> DedupedArticle:
    verdict = DedupVerdict(status="duplicate", duplicate_of="a0", similarity=0.82, kind="near")
    return DedupedArticle(**_normalized().model_dump(), dedup=verdict)


def _enriched() -> EnrichedArticle:
    entity = Entity(text="Gaza", type="LOC", canonical="Q39760", name="Gaza", start=24, end=28, confidence=0.93)
    unique = DedupVerdict(status="unique", similarity=0.0)
    base = _normalized().model_dump()
    return EnrichedArticle(**base, dedup=unique, entities=[entity])


SAMPLES: dict[str, BaseModel] = {
    "raw": RawArticle(id="a1", title="عنوان", body="نص الخبر", language="ar"),
    "normalized": _normalized(),
    "unique": DedupedArticle(**_normalized().model_dump(), dedup=DedupVerdict(status="unique", similarity=0.1)),
    "duplicates": _deduped(),
    "enriched": _enriched(),
    "alerts": Alert(
        alert_id="al1",
        article_id="a1",
        severity="high",
        score=4.5,
        matches=[AlertMatch(term="airstrike", category="violence", weight=2.0, start=3, end=12)],
        entities=[AlertEntity(canonical="Q39760", name="Gaza", type="LOC")],
        title="Headline",
        snippet="… airstrike …",
        language="en",
        detected_at=1714557601.0,
    ),
    "dlq": DeadLetter(
        stage="normalizer",
        topic="articles.raw",
        partition=0,
        offset=7,
        key=None,
        error="not valid JSON",
        original_b64="/w==",
        original_text="\ufffd",
        timestamp=1714557602.0,
    ),
}


def test_every_topic_has_a_sample() -> None:
    """A new topic must come with a round-trip sample below."""
    assert set(SAMPLES) == set(TOPIC_MODELS)


@pytest.mark.parametrize("key", sorted(TOPIC_MODELS))
def test_round_trip(key: str) -> None:
    """encode → decode gives back an equal model, for bytes and for str input."""
    model_cls = TOPIC_MODELS[key]
    sample = SAMPLES[key]
    assert isinstance(sample, model_cls)
    data = encode(sample)
    assert isinstance(data, bytes)
    assert decode(data, model_cls) == sample
    assert decode(data.decode("utf-8"), model_cls) == sample


def test_encode_keeps_none_fields_and_utf8() -> None:
    """None fields stay explicit in the wire format; Arabic text is sent as UTF-8, not escaped."""
    data = encode(SAMPLES["raw"])
    obj = orjson.loads(data)
    assert obj["url"] is None and "published_at" in obj
    assert "نص الخبر".encode() in data


def test_enriched_round_trip_keeps_nested_models() -> None:
    """Nested verdicts and entities survive the trip as models, not dicts."""
    back = decode(encode(SAMPLES["enriched"]), EnrichedArticle)
    assert isinstance(back.dedup, DedupVerdict)
    assert isinstance(back.entities[0], Entity)
    assert back.entities[0].canonical == "Q39760"


# --------------------------------------------------------------------------- codec errors


def test_decode_rejects_non_json() -> None:
    """Garbage bytes must become a DecodeError (→ dead-letter topic), not crash the worker."""
    with pytest.raises(DecodeError, match="not valid JSON"):
        decode(b"\xff not json", RawArticle)


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"body"', b"42", b"null"])
def test_decode_rejects_non_object(payload: bytes) -> None:
    """A JSON value that is not an object is named in the error message."""
    with pytest.raises(DecodeError, match="expected a JSON object"):
        decode(payload, RawArticle)


def test_decode_rejects_missing_value() -> None:
    """A tombstone (no value) is a clear error, not a TypeError deep in orjson."""
    with pytest.raises(DecodeError, match="empty message"):
        decode(None, RawArticle)


def test_decode_rejects_missing_body() -> None:
    """A raw article without body (or text) names the missing field."""
    with pytest.raises(DecodeError, match=r"invalid RawArticle: body: Field required"):
        decode(b'{"id": "a1", "title": "t"}', RawArticle)


def test_decode_rejects_blank_body() -> None:
    """A whitespace-only body is as useless as none."""
    with pytest.raises(DecodeError, match="body is empty"):
        decode(b'{"body": "   "}', RawArticle)


def test_text_is_an_alias_of_body() -> None:
    """Feeds that send ``text`` instead of ``body`` are accepted; ``body`` wins when both exist."""
    assert decode(b'{"text": "hello"}', RawArticle).body == "hello"
    assert decode(b'{"text": "t", "body": "b"}', RawArticle).body == "b"


def test_raw_article_ignores_unknown_fields() -> None:
    """Annotated corpora carry ``gold`` labels; the pipeline must not reject them."""
    art = decode(b'{"body": "x", "gold": {"entities": []}, "extra": 1}', RawArticle)
    assert art.body == "x"
    assert "gold" not in art.model_dump()


def test_downstream_models_reject_unknown_fields() -> None:
    """Internal topics are closed: an unknown field means a producer bug, surface it."""
    obj = orjson.loads(encode(SAMPLES["normalized"]))
    obj["gold"] = 1
    with pytest.raises(DecodeError, match="gold"):
        decode(orjson.dumps(obj), NormalizedArticle)


def test_normalized_rejects_misaligned_match_text() -> None:
    """Offsets found in match_text index text: different lengths would corrupt every span."""
    obj = orjson.loads(encode(SAMPLES["normalized"]))
    obj["match_text"] = obj["match_text"] + "x"
    with pytest.raises(DecodeError, match="match_text must have the same length as text"):
        decode(orjson.dumps(obj), NormalizedArticle)


def test_decode_error_is_a_value_error() -> None:
    """Callers that catch ValueError (generic stage code) also catch decode failures."""
    assert issubclass(DecodeError, ValueError)


# --------------------------------------------------------------------------- encode's fast path


@pytest.mark.parametrize("key", sorted(TOPIC_MODELS))
def test_encode_writes_the_same_bytes_as_model_dump(key: str) -> None:
    """Every topic's model is written from its field values directly; the bytes must be exactly those of
    ``model_dump(mode="json")``, or consumers (and the byte-compared benches) would see a different wire format."""
    model_cls = TOPIC_MODELS[key]
    assert _dumps_its_fields(model_cls), f"{model_cls.__name__} would take the slow path"
    sample = SAMPLES[key]
    assert encode(sample) == orjson.dumps(sample.model_dump(mode="json"))


class _Stamped(BaseModel):
    when: datetime
    tags: set[str]


class _Serialized(BaseModel):
    value: float

    @field_serializer("value")
    def _rounded(self, value: float) -> float:
        return round(value)


class _Computed(BaseModel):
    first: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def shout(self) -> str:
        return self.first.upper()


class _Hidden(BaseModel):
    shown: str
    hidden: str = Field(exclude=True)


class _Nested(BaseModel):
    inner: _Serialized


@pytest.mark.parametrize("model", [
    _Stamped(when=datetime(2024, 5, 1, tzinfo=UTC), tags={"a"}),
    _Serialized(value=2.4),
    _Computed(first="x"),
    _Hidden(shown="a", hidden="b"),
    _Nested(inner=_Serialized(value=2.6)),
], ids=lambda m: type(m).__name__)
def test_encode_dumps_models_whose_fields_are_not_their_dump(model: BaseModel) -> None:
    """A model whose dump is not its raw field values (datetimes and sets, serializers, computed or excluded
    fields, such a model nested) takes ``model_dump``: what it writes stays pydantic's JSON."""
    assert not _dumps_its_fields(type(model))
    assert encode(model) == orjson.dumps(model.model_dump(mode="json"))


@pytest.mark.parametrize(("data", "expected"), [
    pytest.param(b'{"id":"a-1","title":"T"}', "a-1", id="encoder-layout"),
    pytest.param(b'{"title":"T","id":"a-2"}', "a-2", id="id-not-first"),
    pytest.param(b'{"id":"a\\"3","x":1}', 'a"3', id="escaped-quote"),
    pytest.param(b'{"id":7}', None, id="id-not-a-string"),
    pytest.param(b"\xff not json", None, id="not-json"),
    pytest.param(b"[1]", None, id="not-an-object"),
    pytest.param(b"", None, id="empty"),
    pytest.param(None, None, id="none"),
])
def test_article_id_of_reads_the_id_of_an_encoded_article(data: bytes | None, expected: str | None) -> None:
    """Followers of ``articles.unique``/``articles.enriched`` (keyed by story) know articles by this id."""
    assert article_id_of(data) == expected


def test_article_id_of_agrees_with_decoding_on_what_the_encoder_writes() -> None:
    article = RawArticle(id="بي بي سي-42", title="عنوان", body="نص")
    assert article_id_of(encode(article)) == decode(encode(article), RawArticle).id == "بي بي سي-42"
