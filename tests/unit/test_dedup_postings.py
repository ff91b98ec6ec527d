"""The dedup index's compact buckets (``services/deduplicator/postings.py``) hold exactly what the former dicts of
lists held, and the index stores its records as dicts or as orjson bytes with the same decisions.

The former structure, kept here as the model: ``dict[key, list[seq]]``, a sequence number appended while the
list is shorter than the cap, the head article removed from its lists by pruning, any article by ``remove``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import orjson
import pytest

from services.deduplicator import postings
from services.deduplicator.core import (
    NEXT_KEY,
    Buckets,
    DedupConfig,
    DedupIndex,
    _band_keys_raw,
    _exact_int,
    _record,
    band_keys,
    verdict_of,
)
from services.deduplicator.postings import Postings, Queue

from .test_deduplicator import SEED_000, SEED_002, article, near_copy_of_002


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Segments of 4 sequence numbers in blocks of 32: a short test freezes, merges and expires many."""
    monkeypatch.setattr(postings, "SEGMENT", 4)
    monkeypatch.setattr(postings, "BLOCK", 32)
    yield


class Model:
    """The former bucket dict: key → list of sequence numbers."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.lists: dict[int, list[int]] = {}

    def add(self, key: int, seq: int) -> None:
        ids = self.lists.setdefault(key, [])
        if len(ids) < self.cap:
            ids.append(seq)

    def remove(self, seq: int, keys: list[int]) -> None:
        for key in keys:
            ids = self.lists.get(key)
            if ids and seq in ids:
                ids.remove(seq)
                if not ids:
                    del self.lists[key]


@pytest.mark.parametrize(("cap", "base"), [(3, 0), (1, 2**63), (2, 2**58)])
def test_postings_keep_what_the_dict_of_lists_kept(small_segments: None, cap: int, base: int) -> None:
    """Random adds (a few keys, so caps fill), pruning from the head and removals out of order: every key's live
    sequence numbers are the model's list, at every step, across freezes, merges and expiries.  Keys from
    ``base`` on: small ones are packed with their offsets, 64-bit ones (exact keys) are not, and keys from 2^58
    on give packed and unpacked segments side by side (5 offset bits: only keys below 2^59 pack)."""
    rng = random.Random(3 + cap)
    model, real = Model(cap), Postings(cap)
    head, dead = 0, set[int]()
    keys_of: dict[int, list[int]] = {}
    for seq in range(400):
        keys = [base + k for k in rng.sample(range(12), rng.randint(1, 4))]
        if base == 2**58 and seq % 40 < 20:  # some segments with every key below 2^59, some not
            keys = [k + 2**58 for k in keys]
        keys_of[seq] = keys
        found = real.live(keys, head, dead)
        for key, ids in zip(keys, found, strict=True):
            assert ids == model.lists.get(key, [])
            if len(ids) < cap:
                real.add(key, seq)
            model.add(key, seq)
        if rng.random() < 0.1 and seq > head:  # a recent article forgotten out of order
            gone = rng.randrange(head, seq + 1)
            if gone not in dead:
                dead.add(gone)
                model.remove(gone, keys_of[gone])
        while seq - head > 40 or (rng.random() < 0.3 and head < seq):  # pruning from the head
            if head not in dead:
                model.remove(head, keys_of[head])
            dead.discard(head)
            head += 1
            real.expire(head)
        assert real.as_dict(head, dead) == {k: v for k, v in model.lists.items() if v}
    assert len(real.frozen) > 1 and real.frozen[0].lo > 0, "segments were frozen and whole ones expired"


def test_a_segment_is_frozen_when_an_article_falls_past_it(small_segments: None) -> None:
    p = Postings(8)
    for seq, key in enumerate([5, 3, 5, 9]):
        p.add(key, seq)
    assert not p.frozen and p.open == {5: [0, 2], 3: [1], 9: [3]}
    p.add(3, 6)  # past [0, 4): the open segment is frozen, the new one starts at 4
    assert p.open_lo == 4 and p.open == {3: [6]}
    (seg,) = p.frozen
    assert (seg.lo, seg.hi) == (0, 4)
    keys, offsets = seg.unpacked()
    assert keys.tolist() == [3, 5, 5, 9] and offsets.tolist() == [1, 0, 2, 3]
    assert seg.offsets is None and seg.keys.tolist() == [3 << 5 | 1, 5 << 5, 5 << 5 | 2, 9 << 5 | 3]  # packed
    assert p.live([3, 5, 9, 4], 0, set()) == [[1, 6], [0, 2], [3], []]
    assert p.live([3, 5], 2, {6}) == [[], [2]]  # before head, or dead: skipped


def test_segments_merge_within_a_block_and_not_across(small_segments: None) -> None:
    p = Postings(8)
    for seq in range(64):
        p.add(seq % 7, seq)
    p.freeze()
    spans = [(s.lo, s.hi) for s in p.frozen]
    assert all(lo // 32 == (hi - 1) // 32 for lo, hi in spans), spans
    assert spans[0] == (0, 32) and len(spans) <= 4
    for seg in p.frozen:  # sorted by (key, sequence number)
        pairs = list(zip(*(a.tolist() for a in seg.unpacked()), strict=True))
        assert pairs == sorted(pairs)
    assert p.live([3], 0, set()) == [list(range(3, 64, 7))]  # (add does not check the cap: its caller does)


def test_expiry_drops_a_whole_segment_only_once_head_is_past_it(small_segments: None) -> None:
    p = Postings(100)
    for seq in range(40):
        p.add(1, seq)
    p.freeze()
    first = p.frozen[0]
    p.expire(first.hi - 1)
    assert p.frozen[0] is first
    p.expire(first.hi)
    assert first not in p.frozen and p.entries == 40 - len(first.keys)
    assert p.live([1], first.hi, set()) == [list(range(first.hi, 40))]


@pytest.mark.parametrize("base", [0, 2**63])
def test_bulk_build_equals_adding_in_order(small_segments: None, base: int) -> None:
    """Small keys are sorted packed with their sequence numbers, 64-bit ones (exact keys) by a two-key sort."""
    rng = random.Random(5)
    cap = 2
    one_by_one = Postings(cap)
    keys, seqs = [], []
    for seq in range(7, 200):
        for key in (base + k for k in rng.sample(range(30), 3)):
            keys.append(key)
            seqs.append(seq)
            if len(one_by_one.live([key], 7, set())[0]) < cap:
                one_by_one.add(key, seq)
    built = Postings.built(cap, np.array(keys, dtype=np.uint64), np.array(seqs, dtype=np.int64), 200)
    assert built.as_dict(7, set()) == one_by_one.as_dict(7, set())
    assert built.entries == one_by_one.entries
    free = next(base + k for k in range(30, 40) if not built.live([base + k], 7, set())[0])
    built.add(free, 200)  # and it goes on from there, in the open segment
    assert built.live([free], 7, set()) == [[200]] and built.open_lo == 200 - 200 % postings.SEGMENT


def test_queue_maps_sequence_numbers_to_ids_from_its_base() -> None:
    q = Queue(10)
    q.put(10, "a")
    q.put(13, "d")
    assert (q.get(10), q.get(11), q.get(13), q.get(9), q.get(99)) == ("a", None, "d", None, None)
    assert q[13] == "d" and len(q) == 2
    with pytest.raises(KeyError):
        q[11]
    q.pop(10)
    q.trim(13, slack=1)
    assert q.base == 13 and q.ids == ["d"]
    with pytest.raises(ValueError, match="before"):
        q.put(12, "c")


@pytest.mark.parametrize(("num_perm", "bands"), [(60, 20), (64, 16), (60, 30), (40, 10)])
def test_band_keys_of_many_signatures_at_once(num_perm: int, bands: int) -> None:
    rng = random.Random(num_perm)
    signatures = [tuple(rng.getrandbits(16) for _ in range(num_perm)) for _ in range(50)]
    config = DedupConfig(num_perm=num_perm, bands=bands)
    values = np.array([v for s in signatures for v in s], dtype=np.uint16)
    matrix = _band_keys_raw(values, len(signatures), config)
    assert matrix.tolist() == [band_keys(s, bands) for s in signatures]
    assert _band_keys_raw(np.zeros(0, dtype=np.uint16), 0, config).shape == (0, bands)


def test_exact_keys_as_ints_are_one_to_one() -> None:
    assert _exact_int("00000000000000ff") == 255
    assert _exact_int("ffffffffffffffff") == 2**64 - 1
    assert 0 <= _exact_int("not a hex key") < 2**64


def _stream(index: DedupIndex) -> list[object]:
    verdicts: list[object] = [index.check(article("s000", SEED_000), now=0)]
    verdicts.append(index.check(article("s002", SEED_002), now=1))
    verdicts.append(index.check(article("copy", near_copy_of_002()), now=2))
    verdicts.append(index.check(article("again", SEED_002), now=3))
    return verdicts


def test_records_as_bytes_decide_as_records_as_dicts() -> None:
    as_dicts, as_bytes = DedupIndex(DedupConfig()), DedupIndex(DedupConfig(), records="bytes")
    assert _stream(as_bytes) == _stream(as_dicts)
    assert isinstance(as_bytes.docs["s002"], bytes) and as_bytes.docs[NEXT_KEY] == b"4"
    assert {k: _record(v) for k, v in as_bytes.docs.items() if k != NEXT_KEY} == {
        k: v for k, v in as_dicts.docs.items() if k != NEXT_KEY
    }
    assert verdict_of("copy", as_bytes.docs["copy"]) == verdict_of("copy", as_dicts.docs["copy"])
    # a replay answers from the stored bytes
    replay = article("copy", near_copy_of_002())
    assert as_bytes.check(replay, now=9) == as_dicts.check(replay, now=9)


def test_a_json_table_read_as_raw_bytes_stays_readable() -> None:
    """Old changelog entries were JSON: a raw-serialised table gives them back as JSON bytes, the counter as its
    digits; an index over them rebuilds the same buckets and decides the same, writing bytes from then on."""
    old = DedupIndex(DedupConfig())
    _stream(old)
    raw = {k: orjson.dumps(v) for k, v in old.docs.items()}
    mixed = {**raw, "s000": old.docs["s000"]}  # a dict value among bytes: read as well
    for docs in (raw, mixed):
        new = DedupIndex(DedupConfig(), docs=docs, records="bytes")
        assert new.sync() is True
        assert new.buckets.band_map() == old.buckets.band_map()
        assert new.buckets.exact_map() == old.buckets.exact_map()
        assert (new.buckets.stories, new.buckets.df, new.buckets.originals) == (
            old.buckets.stories, old.buckets.df, old.buckets.originals)
        late = article("late", near_copy_of_002())
        assert new.check(late, now=5) == DedupIndex(DedupConfig(), docs=dict(old.docs)).check(late, now=5)
        assert isinstance(docs["late"], bytes) and docs[NEXT_KEY] == b"5"


def test_the_bulk_rebuild_equals_adding_each_record_in_order() -> None:
    index = DedupIndex(DedupConfig(), records="bytes")
    _stream(index)
    records = sorted((int(_record(v)["n"]), k, _record(v)) for k, v in index.docs.items() if k != NEXT_KEY)
    one_by_one = Buckets(head=records[0][0], next=len(records))
    for _, article_id, doc in records:
        one_by_one.add(article_id, doc, index.config)
    bulk = Buckets.rebuilt(index.docs, len(records), index.config)
    assert bulk.band_map() == one_by_one.band_map() and bulk.exact_map() == one_by_one.exact_map()
    assert (bulk.stories, bulk.df, bulk.originals) == (one_by_one.stories, one_by_one.df, one_by_one.originals)
    assert bulk.queue.ids == one_by_one.queue.ids


def test_a_decision_looks_its_band_and_exact_keys_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding candidates and indexing the article need the same lookups, nothing changing in between: each is
    made once (a lookup searches every frozen segment: ~40 us each at 1M articles)."""
    index = DedupIndex(DedupConfig())
    index.check(article("s000", SEED_000), now=0)
    calls: list[int] = []
    live = Postings.live

    def counted(self: Postings, keys: list[int], head: int, dead: set[int]) -> list[list[int]]:
        calls.append(len(keys))
        return live(self, keys, head, dead)

    monkeypatch.setattr(Postings, "live", counted)
    index.check(article("s002", SEED_002), now=1)
    assert sorted(calls) == [1, index.config.bands]
    calls.clear()
    index.check(article("again", SEED_002), now=2)  # an exact copy: its exact key only
    assert calls == [1]


def test_the_faust_codecs_of_an_upgrade_and_a_downgrade() -> None:
    """The service's table switched from ``value_serializer="json"`` to ``"raw"``: what Faust's JSON codec wrote is
    read back by the raw codec as bytes the index decodes, and what the index writes as bytes is read back by the
    JSON codec (a downgrade) as the same records."""
    from faust.serializers import codecs

    old = DedupIndex(DedupConfig())
    _stream(old)
    upgraded = {k: codecs.loads("raw", codecs.dumps("json", v)) for k, v in old.docs.items()}
    new = DedupIndex(DedupConfig(), docs=upgraded, records="bytes")
    late = article("late", near_copy_of_002())
    assert new.check(late, now=5) == DedupIndex(DedupConfig(), docs=dict(old.docs)).check(late, now=5)
    downgraded = {k: codecs.loads("json", codecs.dumps("raw", v)) for k, v in upgraded.items()}
    assert downgraded[NEXT_KEY] == 5 and downgraded["late"] == _record(upgraded["late"])
    assert all(isinstance(v, dict) for k, v in downgraded.items() if k != NEXT_KEY)
