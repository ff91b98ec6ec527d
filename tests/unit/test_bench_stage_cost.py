"""The benchmark's stage-cost tools must measure what their names say.

The synthetic stage (``bench.relay.burn``) stands in for a stage of a given CPU cost on the Faust
relay, so the ratio a stage of that cost allows can be read off the sweep: it must spend that CPU,
counted as thread CPU so that other processes on the two cores do not shorten it.  The edge cost
(``edge_us_per_message``) is part of a stage's work and must never exceed the whole.
"""

from __future__ import annotations

import time

import pytest

from bench.articles import generate
from bench.cores import stage_inputs, time_stage
from bench.relay import burn
from rasd.offline import OfflinePipeline
from services.common.stage import Emit


@pytest.mark.parametrize("microseconds", [200.0, 2000.0])
def test_burn_spends_at_least_the_asked_thread_cpu(microseconds: float) -> None:
    before = time.thread_time()
    burn(microseconds)
    spent = (time.thread_time() - before) * 1e6
    assert microseconds <= spent < microseconds + 5000  # a busy loop, not a sleep, and it stops


def test_burn_of_nothing_returns_at_once() -> None:
    before = time.thread_time()
    burn(0)
    assert time.thread_time() - before < 0.001


@pytest.fixture(scope="module")
def inputs() -> dict[str, list[Emit]]:
    return stage_inputs(generate(60, seed=5))


@pytest.mark.parametrize("topic", ["raw", "unique", "enriched"])
def test_edge_cost_is_a_positive_part_of_the_stage_cost(inputs: dict[str, list[Emit]], topic: str) -> None:
    stage = OfflinePipeline().stages[topic]
    timing = time_stage(stage, inputs[topic])
    assert timing["messages"] == len(inputs[topic]) > 0
    assert 0 < timing["edge_us_per_message"] < timing["us_per_message"]
