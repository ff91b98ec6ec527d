"""The packaged gazetteer, loaded once per process for every stage that reads it.

The deduplicator (story profiles) and the alerter (places contained in places) use the entities
service's gazetteer read-only; loading it takes ~0.3 s and tens of MB, so a worker process holds one.
"""

from __future__ import annotations

from functools import cache

from .core import Gazetteer


@cache
def default_gazetteer() -> Gazetteer:
    """The gazetteer of the packaged data files (``services/entities/data``)."""
    return Gazetteer.load()
