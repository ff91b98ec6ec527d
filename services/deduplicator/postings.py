"""Compact in-memory structures of the dedup index's buckets (``core.Buckets``): numpy arrays, not Python objects.

:class:`Postings` maps a 64-bit key (an LSH band key, an exact key) to the sequence numbers of the articles that
have it, at most ``cap`` *live* ones per key: a sequence number is added to a key only while fewer than ``cap``
live ones are there, and a live one is a sequence number at or past the retention queue's ``head`` that was not
removed.  This is exactly what the former ``dict[int, list[int]]`` held (append while the list is shorter than
the cap; pruning removes the head article from its lists; a removed article from its lists), without one Python
list per key:

* entries are kept per **segment** of sequence numbers.  The *open* segment, the ``SEGMENT`` sequence numbers
  the next article falls in, is a dict of lists; when an article falls past it, it is **frozen** into two
  sorted numpy arrays, ``keys`` (uint64) and the sequence numbers as uint32 offsets from the segment's start,
  sorted by (key, sequence number), looked up with ``searchsorted``;
* frozen segments of one ``BLOCK`` of sequence numbers are merged (a stable sort of two sorted runs: linear),
  the last into the one before while that one is at most twice its size, so a block holds a few segments of
  geometrically decreasing size and a lookup searches a handful of arrays per block;
* pruning does not touch them: entries before ``head`` are skipped at lookup, and a segment wholly before
  ``head`` is dropped as a whole (:meth:`Postings.expire`); a removal out of order (rare: a caller forgetting
  a recent article) is a tombstone set the caller passes in.

:class:`Queue` maps a sequence number to its article id (the retention queue) as a list from a base.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SEGMENT = 2048  # sequence numbers of the open (dict) segment
BLOCK = 1 << 18  # sequence numbers a frozen segment may span (offsets fit uint32; merges stay within a block)

Keys = npt.NDArray[np.uint64]
Offsets = npt.NDArray[np.uint32]


@dataclass
class Segment:
    """Frozen entries of the sequence numbers ``[lo, hi)``: ``keys`` sorted, ``offsets`` (``seq - lo``) sorted
    within each key."""

    lo: int
    hi: int
    keys: Keys
    offsets: Offsets

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.offsets.nbytes)


def _merged(a: Segment, b: Segment) -> Segment:
    """``a`` and ``b`` (``a`` before ``b``) as one segment: a stable sort of the keys keeps ``a``'s entries (the
    earlier sequence numbers) first within a key, each run already sorted."""
    keys = np.concatenate((a.keys, b.keys))
    offsets = np.concatenate((a.offsets, b.offsets + np.uint32(b.lo - a.lo)))
    order = np.argsort(keys, kind="stable")
    return Segment(a.lo, b.hi, keys[order], offsets[order])


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
            for seg in self.frozen:
                if seg.hi <= head:
                    continue
                lo = seg.keys.searchsorted(query, "left")
                hi = seg.keys.searchsorted(query, "right")
                for i in np.flatnonzero(hi > lo).tolist():
                    out[i].extend((seg.offsets[lo[i] : hi[i]].astype(np.int64) + seg.lo).tolist())
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
        seg = Segment(
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
        while len(frozen) > 1:
            a, b = frozen[-2], frozen[-1]
            if a.lo // BLOCK != (b.hi - 1) // BLOCK or a.hi - a.lo > 2 * (b.hi - b.lo):
                break
            frozen[-2:] = [_merged(a, b)]

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
                out.frozen.append(Segment(lo, hi, fk[mask], (fs[mask] - lo).astype(np.uint32)))
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
            keys.update(np.unique(seg.keys).tolist())
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
