"""Fault injection for ``test_uncommitted_partitions``: a worker whose table recovery ends slowly.

Put on ``PYTHONPATH`` of a worker process with ``RASD_TEST_SLOW_RECOVERY=<seconds>``, this delays
:meth:`faust.tables.recovery.Recovery.on_recovery_completed`.  That is the moment, after the changelogs
are read and before the stream partitions are resumed and sought to their committed offsets, when Faust
has *no* active partition; a fetch that returns then is drained for every partition (aiokafka reads an
empty partition set as "all") and Faust drops the records it does not consider active.  A loaded machine
opens that window for a few milliseconds by chance (the dedup scale test lost a copy about one run in
six); the delay holds it open so the loss, if the worker does not guard against it, happens every time.
Nothing else is changed.
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
