"""What the stream may count when partitions are read in another order than the articles were published.

The offline run (:func:`bench.articles.expected`) sees the articles in publish order.  The stream does not, at
two places: the normalizer reads ``articles.raw`` from all its partitions into the one ordered partition of
``articles.normalized`` the deduplicator decides from (of an original and its near-copy, either may come first and
be kept; a story may be opened by another of its articles), and the alerter reads ``articles.enriched`` from all
its partitions (a story keeps one alert and sends an update only when severity rises, so the order decides which
article alerts).
Kafka keeps the order *within* a partition only; :func:`interleave` makes one of the orders a consumer can see,
and :func:`outcomes` replays the four cores with both reads interleaved, to give the range of counts a correct
stream can report next to the offline one.

``python -m bench.reorder [N] [TRIALS]`` prints the offline counts and the (originals, alerts) seen per trial.
"""

from __future__ import annotations

import random
import sys
import zlib
from collections import Counter
from collections.abc import Sequence

from rasd.offline import OfflinePipeline
from services.alerter.core import Lexicon
from services.alerter.stage import AlerterStage
from services.common.stage import Emit, Stage, process_message

from .articles import expected, generate

PARTITIONS = 4
NOW = 1_790_000_000.0


def interleave(messages: Sequence[Emit], rnd: random.Random, batch: int, partitions: int = PARTITIONS) -> list[Emit]:
    """One order a consumer of ``partitions`` partitions may read ``messages`` in: each partition (by key) keeps its
    order, and the reader takes 1..``batch`` messages at a time from a partition picked at random (a fetch)."""
    queues: list[list[Emit]] = [[] for _ in range(partitions)]
    for message in messages:
        queues[zlib.crc32(message.key) % partitions].append(message)
    order: list[Emit] = []
    heads = [0] * partitions
    while True:
        open_ = [i for i in range(partitions) if heads[i] < len(queues[i])]
        if not open_:
            return order
        i = rnd.choice(open_)
        take = rnd.randint(1, batch)
        order += queues[i][heads[i]:heads[i] + take]
        heads[i] += take


def _through(stage: Stage, messages: Sequence[Emit]) -> list[Emit]:
    out: list[Emit] = []
    for message in messages:
        out += process_message(stage, message.value, now=NOW, topic=stage.source, key=message.key)
    return out


def outcomes(raws: Sequence[bytes], trials: int, seed: int = 0) -> Counter[tuple[int, int]]:
    """(originals, alerts sent) for ``trials`` random interleavings of the deduplicator's and the alerter's reads."""
    normalized = _through(OfflinePipeline().stages["raw"], [Emit("raw", b"", raw) for raw in raws])
    lexicon = Lexicon.load()
    seen: Counter[tuple[int, int]] = Counter()
    for trial in range(trials):
        rnd = random.Random(seed + trial)
        batch = rnd.choice([1, 10, 50, 200])
        pipeline = OfflinePipeline()  # a fresh deduplicator index and gazetteer per trial
        originals = [e for e in _through(pipeline.stages["normalized"], interleave(normalized, rnd, batch))
                     if e.topic == "unique"]
        enriched = _through(pipeline.stages["unique"], originals)
        alerter = AlerterStage(lexicon, stories={})  # one alert per story, as in the stream
        alerts = [e for e in _through(alerter, interleave(enriched, rnd, batch)) if e.topic == "alerts"]
        seen[(len(originals), len(alerts))] += 1
    return seen


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    articles = generate(n)
    print(f"offline: {expected(articles)}".split(", alert_ids")[0] + ")")
    for (originals, alerts), count in sorted(outcomes(articles, trials).items()):
        print(f"{count} trial(s): {originals} originals, {alerts} alerts")
