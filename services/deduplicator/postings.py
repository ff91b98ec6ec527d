"""Compact in-memory structures of the dedup index's buckets (``core.Buckets``): numpy arrays, not Python objects.

:class:`Postings` maps a 64-bit key (an LSH band key, an exact key) to the sequence numbers of the articles that
have it, at most ``cap`` *live* ones per key: a sequence number is added to a key only while fewer than ``cap``
live ones are there, and a live one is a sequence number at or past the retention queue's ``head`` that was not
removed.  This is exactly what the former ``dict[int, list[int]]`` held (append while the list is shorter than
the cap; pruning removes the head article from its lists; a removed article from its lists), without one Python
list per key:

* entries are kept per **segment** of sequence numbers.  The *open* segment, the ``SEGMENT`` sequence numbers
  the next article falls in, is a dict of lists; when an article falls past it, it is **frozen** into a sorted
  numpy array looked up with ``searchsorted``: ``key << 18 | offset`` (the sequence number's offset from the
  segment's start), 8 bytes an entry, when the keys fit in 46 bits (LSH band keys: 37 bits), else the keys
  (uint64) and the offsets (uint32) apart (exact keys: 64 bits), sorted by (key, sequence number);
* frozen segments of one ``BLOCK`` of sequence numbers are merged (a stable sort of two sorted runs: linear),
  the last into the one before while that one is at most twice its size, so a block holds a few segments of
  geometrically decreasing size and a lookup searches a handful of arrays per block;
* pruning does not touch them: entries before ``head`` are skipped at lookup, and a segment wholly before
  ``head`` is dropped as a whole (:meth:`Postings.expire`); a removal out of order (rare: a caller forgetting
  a recent article) is a tombstone set the caller passes in.

One difference from the dict of lists, outside the stream's paths: an entry whose record had disappeared from
``docs`` when the head reached it (removed behind the index's back) used to stay in its lists until the next
rebuild; here it is skipped like every entry before ``head``.

:class:`Queue` maps a sequence number to its article id (the retention queue) as a list from a base.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

SEGMENT = 2048  # sequence numbers of the open (dict) segment
BLOCK = 1 << 18  # sequence numbers a frozen segment may span (offsets fit uint32; merges stay within a block)
TRIM_SPAN = 1 << 13  # a merge into a segment at least this long hands the C heap's free pages back

Keys = npt.NDArray[np.uint64]
Offsets = npt.NDArray[np.uint32]


@dataclass
class Segment:
    """Frozen entries of the sequence numbers ``[lo, hi)``, sorted by (key, sequence number).

    Either *packed*: ``keys`` holds ``key << shift | (seq - lo)`` (``shift`` bits of offset: a block's), 8 bytes
    an entry, when every key fits in the other ``64 - shift`` bits (LSH band keys: 37 bits); or ``keys`` and
    ``offsets`` (``seq - lo``) apart, 12 bytes an entry (exact keys: 64 bits), ``shift`` 0.
    """

    lo: int
    hi: int
    keys: Keys
    offsets: Offsets | None = None
    shift: int = 0

    @classmethod
    def of(cls, lo: int, hi: int, keys: Keys, offsets: Offsets) -> Segment:
        """A segment of entries sorted by (key, offset), packed when the keys allow."""
        shift = (BLOCK - 1).bit_length()
        if len(keys) and int(keys[-1]) < 1 << (64 - shift):  # sorted: the last key is the largest
            return cls(lo, hi, (keys << np.uint64(shift)) | offsets.astype(np.uint64), None, shift)
        return cls(lo, hi, keys, offsets)

    def unpacked(self) -> tuple[Keys, Offsets]:
        """The keys and offsets apart."""
        if self.offsets is not None:
            return self.keys, self.offsets
        shift = np.uint64(self.shift)
        return self.keys >> shift, (self.keys & ((np.uint64(1) << shift) - np.uint64(1))).astype(np.uint32)

    def find(self, query: Keys, out: list[list[int]]) -> None:
        """Append each queried key's sequence numbers in this unpacked segment to its list in ``out``."""
        assert self.offsets is not None
        keys = self.keys
        lo = keys.searchsorted(query, "left")
        hi = keys.searchsorted(query, "right")
        for i in np.flatnonzero(hi > lo).tolist():
            out[i].extend((self.offsets[lo[i] : hi[i]].astype(np.int64) + self.lo).tolist())

    def find_packed(self, bounds: tuple[Keys, Keys], out: list[list[int]]) -> None:
        """:meth:`find` in a packed segment, the queries given as :func:`packed_bounds` of its ``shift``."""
        keys = self.keys
        lo = keys.searchsorted(bounds[0], "left")
        hi = keys.searchsorted(bounds[1], "left")
        mask = (1 << self.shift) - 1
        for i in np.flatnonzero(hi > lo).tolist():
            out[i].extend((x & mask) + self.lo for x in keys[lo[i] : hi[i]].tolist())

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + (0 if self.offsets is None else self.offsets.nbytes))


def packed_bounds(query: Keys, shift: int) -> tuple[Keys, Keys]:
    """Where each queried key's entries start and end in a packed segment: ``key << shift`` and ``(key + 1) <<
    shift``; a key too large to be packed gets an empty range (0, 0)."""
    fits = query < np.uint64(1 << (64 - shift))
    query = np.where(fits, query, np.uint64(0))
    start = query << np.uint64(shift)
    return start, np.where(fits, (query + np.uint64(1)) << np.uint64(shift), start)


def _merged(a: Segment, b: Segment) -> Segment:
    """``a`` and ``b`` (``a`` before ``b``, in one block) as one segment: a stable sort of the two sorted runs (a
    linear merge) keeps ``a``'s entries, the earlier sequence numbers, first within a key."""
    gap = b.lo - a.lo
    if a.offsets is None and b.offsets is None and a.shift == b.shift:
        packed = np.concatenate((a.keys, b.keys + np.uint64(gap)))  # the offsets are the low bits
        return Segment(a.lo, b.hi, np.sort(packed, kind="stable"), None, a.shift)
    (ak, ao), (bk, bo) = a.unpacked(), b.unpacked()
    keys = np.concatenate((ak, bk))
    offsets = np.concatenate((ao, bo + np.uint32(gap)))
    order = np.argsort(keys, kind="stable")
    return Segment.of(a.lo, b.hi, keys[order], offsets[order])


class Postings:
    """Key → live sequence numbers (at most ``cap`` per key), in segments (see the module docstring)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.frozen: list[Segment] = []
        self.open: dict[int, list[int]] = {}
        self.open_lo = 0  # the first sequence number of the open segment
        self.entries = 0  # entries stored (frozen and open), live or not

    # ------------------------------------------------------------------------------------------- lookup

    def live(self, keys: Sequence[int], head: int, dead: set[int]) -> list[list[int]]:
        """Each key's live sequence numbers, ascending."""
        out: list[list[int]] = [[] for _ in keys]
        if self.frozen:
            query = np.array(keys, dtype=np.uint64)
            bounds: tuple[Keys, Keys] | None = None
            shift = -1
            for seg in self.frozen:
                if seg.hi <= head:
                    continue
                if seg.offsets is not None:
                    seg.find(query, out)
                    continue
                if seg.shift != shift:  # the same for every packed segment: computed once
                    shift, bounds = seg.shift, packed_bounds(query, seg.shift)
                assert bounds is not None
                seg.find_packed(bounds, out)
        opened = self.open
        if opened:
            for ids, key in zip(out, keys, strict=True):
                got = opened.get(key)
                if got:
                    ids.extend(got)
        if head > self.oldest() or dead:
            out = [[s for s in ids if s >= head and s not in dead] if ids else ids for ids in out]
        return out

    def oldest(self) -> int:
        """The first sequence number any entry may have."""
        return self.frozen[0].lo if self.frozen else self.open_lo

    # ------------------------------------------------------------------------------------------- changes

    def add(self, key: int, seq: int) -> None:
        """Store an entry (sequence numbers arrive in ascending order; the caller checked the cap)."""
        if seq >= self.open_lo + SEGMENT:
            self.freeze()
            self.open_lo = seq - seq % SEGMENT
        ids = self.open.get(key)
        if ids is None:
            self.open[key] = [seq]
        else:
            ids.append(seq)
        self.entries += 1

    def freeze(self) -> None:
        """The open segment into sorted arrays, merged into the segment before it while that one is in the same
        block and at most twice its size."""
        if not self.open:
            return
        keys = sorted(self.open)
        counts = [len(self.open[k]) for k in keys]
        seg = Segment.of(
            self.open_lo, self.open_lo + SEGMENT,
            np.repeat(np.array(keys, dtype=np.uint64), counts),
            (np.fromiter((s for k in keys for s in self.open[k]), dtype=np.int64, count=sum(counts))
             - self.open_lo).astype(np.uint32),
        )
        self.open = {}
        self._push(seg)

    def _push(self, seg: Segment) -> None:
        frozen = self.frozen
        frozen.append(seg)
        merged = 0
        while len(frozen) > 1:
            a, b = frozen[-2], frozen[-1]
            if a.lo // BLOCK != (b.hi - 1) // BLOCK or a.hi - a.lo > 2 * (b.hi - b.lo):
                break
            frozen[-2:] = [_merged(a, b)]
            merged = max(merged, b.hi - a.lo)
        if merged >= TRIM_SPAN:
            release_free_memory()

    def expire(self, head: int) -> None:
        """Drop the frozen segments wholly before ``head`` (every sequence number in them pruned)."""
        while self.frozen and self.frozen[0].hi <= head:
            self.entries -= len(self.frozen.pop(0).keys)

    # ------------------------------------------------------------------------------------------- bulk

    @classmethod
    def built(cls, cap: int, keys: Keys, seqs: npt.NDArray[np.int64], next_seq: int) -> Postings:
        """The postings that adding the entries in ascending sequence order from empty gives (each key keeps
        its first ``cap`` sequence numbers): the rebuild, vectorised.  ``next_seq``: the next sequence number
        (the open segment is the one it falls in)."""
        out = cls(cap)
        out.open_lo = next_seq - next_seq % SEGMENT
        if not len(keys):
            return out
        base = int(seqs.min())
        seq_bits = (int(seqs.max()) - base).bit_length()
        if int(keys.max()).bit_length() + seq_bits <= 64:  # band keys (37 bits): one sort of key << bits | seq
            both = np.sort((keys << np.uint64(seq_bits)) | (seqs - base).astype(np.uint64))
            keys = both >> np.uint64(seq_bits)
            seqs = (both & np.uint64((1 << seq_bits) - 1)).astype(np.int64) + base
            del both
        else:
            order = np.lexsort((seqs, keys))
            keys, seqs = keys[order], seqs[order]
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        sizes = np.diff(np.append(starts, len(keys)))
        rank = np.arange(len(keys)) - np.repeat(starts, sizes)
        keep = rank < cap
        keys, seqs = keys[keep], seqs[keep]
        out.entries = len(keys)
        opened = seqs >= out.open_lo
        # the frozen part, one segment per block, in the (key, seq) order already sorted
        fk, fs = keys[~opened], seqs[~opened]
        if len(fs):
            blocks = fs // BLOCK
            for block in np.unique(blocks).tolist():
                mask = blocks == block
                lo = max(int(block) * BLOCK, int(fs[mask].min()) - int(fs[mask].min()) % SEGMENT)
                hi = min((int(block) + 1) * BLOCK, out.open_lo)
                out.frozen.append(Segment.of(lo, hi, fk[mask], (fs[mask] - lo).astype(np.uint32)))
        for key, seq in zip(keys[opened].tolist(), seqs[opened].tolist(), strict=True):
            ids = out.open.get(key)
            if ids is None:
                out.open[key] = [seq]
            else:
                ids.append(seq)
        return out

    # ------------------------------------------------------------------------------------------- views

    @property
    def nbytes(self) -> int:
        """Bytes of the frozen arrays (the open dict is Python objects: measure it apart)."""
        return sum(seg.nbytes for seg in self.frozen)

    def as_dict(self, head: int, dead: set[int]) -> dict[int, list[int]]:
        """Every key with live entries → its live sequence numbers (tests, the bench: slow)."""
        keys: set[int] = set(self.open)
        for seg in self.frozen:
            keys.update(np.unique(seg.unpacked()[0]).tolist())
        ordered = sorted(keys)
        return {k: ids for k, ids in zip(ordered, self.live(ordered, head, dead), strict=True) if ids}


class Queue:
    """Sequence number → article id, for the sequence numbers from ``base`` on (a list, ``None`` for a gap)."""

    def __init__(self, base: int = 0, ids: Iterable[str | None] = ()) -> None:
        self.base = base
        self.ids: list[str | None] = list(ids)

    def get(self, seq: int) -> str | None:
        i = seq - self.base
        return self.ids[i] if 0 <= i < len(self.ids) else None

    def __getitem__(self, seq: int) -> str:
        found = self.get(seq)
        if found is None:
            raise KeyError(seq)
        return found

    def put(self, seq: int, article_id: str) -> None:
        i = seq - self.base
        if i < 0:
            raise ValueError(f"sequence number {seq} before the queue's base {self.base}")
        ids = self.ids
        if i >= len(ids):
            ids.extend([None] * (i - len(ids) + 1))
        ids[i] = article_id

    def pop(self, seq: int) -> None:
        i = seq - self.base
        if 0 <= i < len(self.ids):
            self.ids[i] = None

    def trim(self, head: int, slack: int = SEGMENT) -> None:
        """Forget the slots before ``head`` once there are more than ``slack`` of them."""
        cut = min(head - self.base, len(self.ids))
        if cut > slack:
            del self.ids[:cut]
            self.base += cut

    def __len__(self) -> int:
        """How many sequence numbers have an article (slow: tests)."""
        return sum(i is not None for i in self.ids)


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the operating system (glibc's ``malloc_trim``; elsewhere nothing).

    A merge or a rebuild sorts arrays of millions of entries; glibc serves such blocks from the heap once a
    freed one raised its mmap threshold, and keeps the pages when they are freed: after a rebuild at 100k
    articles the process held ~2.6 KB per article more than its structures, ~0.1 KB after a trim.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim
