"""The reorder replay must make only orders Kafka can deliver, or the alert range it gives would excuse a bug.

A consumer of several partitions sees each partition's messages in order and the partitions interleaved in
any way; :func:`bench.reorder.interleave` must keep every message, once, with that order, and nothing more.
"""

from __future__ import annotations

import random
import zlib

import pytest

from bench.articles import generate
from bench.reorder import interleave, outcomes
from services.common.stage import Emit


def messages(n: int) -> list[Emit]:
    return [Emit("t", f"article-{i}".encode(), str(i).encode()) for i in range(n)]


@pytest.mark.parametrize("batch", [1, 10, 200])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_interleave_keeps_every_message_once_and_each_partitions_order(batch: int, seed: int) -> None:
    sent = messages(500)
    got = interleave(sent, random.Random(seed), batch)
    assert sorted(got, key=lambda m: int(m.value)) == sent
    for partition in range(4):
        mine = [int(m.value) for m in got if zlib.crc32(m.key) % 4 == partition]
        assert mine == sorted(mine)


def test_interleave_does_reorder_across_partitions() -> None:
    """Otherwise the replay would only ever reproduce the offline order."""
    sent = messages(200)
    assert interleave(sent, random.Random(3), 10) != sent


def test_replay_keeps_the_originals_and_sends_alerts() -> None:
    """Which copy is kept may change with the order; how many originals there are may not."""
    from bench.articles import expected

    raws = generate(150, seed=11)
    offline = expected(raws)
    seen = outcomes(raws, trials=2)
    assert sum(seen.values()) == 2
    assert {originals for originals, _ in seen} == {offline.unique}
    assert all(alerts > 0 for _, alerts in seen)
