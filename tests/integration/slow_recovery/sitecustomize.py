"""Fault injection for ``test_uncommitted_partitions``: a worker whose table recovery ends slowly.

Put on ``PYTHONPATH`` of a worker process with ``RASD_TEST_SLOW_RECOVERY=<seconds>``, this delays
:meth:`faust.tables.recovery.Recovery.on_recovery_completed`.  That is the moment, after the changelogs
are read and before the stream partitions are resumed and sought to their committed offsets, when Faust
has *no* active partition; a fetch that returns then is drained for every partition (aiokafka reads an
empty partition set as "all") and Faust drops the records it does not consider active.  A loaded machine
opens that window for a few milliseconds by chance (the dedup scale test lost a copy about one run in
six); the delay holds it open so the loss, if the worker does not guard against it, happens every time.

``RASD_TEST_SLOW_SEEK=<seconds>`` delays each committed-offset lookup of aiokafka's
:meth:`~aiokafka.AIOKafkaConsumer.committed`.  ``seek_to_committed`` makes one per partition and seeks that
partition before asking for the next, while Faust's fetcher keeps delivering records (the stream partitions
are resumed *before* the seek): a batch fetched from a partition's old position, then records read again
from its new one, arrive while the seek is under way.  A loaded machine stretches that window by chance
(the uncommitted-partitions test lost articles in 2 of 6 runs next to four busy loops); the delay holds it
open.  Nothing else is changed.
"""

from __future__ import annotations

import os

_DELAY = float(os.environ.get("RASD_TEST_SLOW_RECOVERY", "0") or 0)

if _DELAY > 0:
    import asyncio
    from typing import Any

    from faust.tables.recovery import Recovery

    _completed = Recovery.on_recovery_completed

    async def _slow_completed(self: Recovery, *args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(_DELAY)
        await _completed(self, *args, **kwargs)

    Recovery.on_recovery_completed = _slow_completed  # type: ignore[method-assign]

_SEEK_DELAY = float(os.environ.get("RASD_TEST_SLOW_SEEK", "0") or 0)

if _SEEK_DELAY > 0:
    import asyncio
    from typing import Any

    from aiokafka import AIOKafkaConsumer

    _committed = AIOKafkaConsumer.committed

    async def _slow_committed(self: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(_SEEK_DELAY)
        return await _committed(self, *args, **kwargs)

    AIOKafkaConsumer.committed = _slow_committed  # type: ignore[method-assign]
