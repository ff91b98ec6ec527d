"""The benchmark's stage-cost tools must measure what their names say.

The synthetic stage (``bench.relay.burn``) stands in for a stage of a given CPU cost on the Faust
relay, so the ratio a stage of that cost allows can be read off the sweep: it must spend that CPU,
counted as thread CPU so that other processes on the two cores do not shorten it.  The edge cost
(``edge_us_per_message``) is part of a stage's work and must never exceed the whole.  The relay's contract
edge (``bench.relay.ContractEdge``) pays what a stage pays at its edges with no stage logic — the ratio of
infinitely fast cores — so it must decode exactly what the stage decodes and fail loudly on anything else.
"""

from __future__ import annotations

import time

import pytest

from bench.articles import generate
from bench.cores import stage_inputs, time_stage
from bench.relay import ContractEdge, burn
from rasd.offline import OfflinePipeline
from schemas.codec import DecodeError
from schemas.models import DedupedArticle
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


@pytest.fixture(scope="module")
def hop_messages() -> dict[str, dict[bytes, bytes]]:
    """The pipeline's message per article key on each hop, as the bench hands them to the relays."""
    from bench.run import hop_payloads

    return hop_payloads(generate(40, seed=7))


def test_contract_edge_decodes_the_stage_input_and_encodes_its_output(
        hop_messages: dict[str, dict[bytes, bytes]]) -> None:
    """On the entities hop (unique → enriched) every article pays one decode and one encode, as the stage does."""
    sized = {"t.unique": hop_messages["unique"], "t.enriched": hop_messages["enriched"]}
    edge = ContractEdge.for_hop({"t.unique": "unique", "t.enriched": "enriched"}, "t.unique", "t.enriched", sized)
    assert edge is not None and edge.input_model is DedupedArticle
    originals = hop_messages["enriched"]
    assert originals and all(edge(key, value) == 2 for key, value in hop_messages["unique"].items()
                             if key in originals)


def test_contract_edge_skips_what_the_stage_would_not_decode(hop_messages: dict[str, dict[bytes, bytes]]) -> None:
    """Warm-up articles carry a forwarded raw payload on every hop: decoding them as an enriched article would
    crash the relay, and the alerter never decodes them — nor copies, which the deduplicator stops."""
    sized = {"t.story": hop_messages["enriched"]}
    edge = ContractEdge.for_hop({"t.story": "enriched"}, "t.story", "t.alerts", sized)
    assert edge is not None and edge.output_models == {}  # the alerter's output (alerts) is not a hop payload
    copies = set(hop_messages["unique"]) - set(hop_messages["enriched"])
    assert copies
    assert all(edge(key, hop_messages["unique"][key]) == 0 for key in copies)
    assert edge(b"warm-1", b'{"body": "not an enriched article"}') == 0


def test_contract_edge_decodes_every_raw_article() -> None:
    raw = generate(1, seed=3)[0]
    edge = ContractEdge.for_hop({"t.raw": "raw", "t.norm": "normalized"}, "t.raw", "t.norm", {})
    assert edge is not None and edge.decoded_keys is None
    assert edge(b"any-key", raw) == 1  # decoded; no normalized payload given, so nothing to encode


def test_no_contract_edge_without_roles() -> None:
    assert ContractEdge.for_hop({}, "t.a", "t.b", {}) is None


def test_contract_edge_rejects_a_malformed_message_loudly(hop_messages: dict[str, dict[bytes, bytes]]) -> None:
    """A payload of the wrong type must fail the bench, not be skipped: a silent skip would flatter the ratio."""
    sized = {"t.unique": hop_messages["unique"]}
    edge = ContractEdge.for_hop({"t.unique": "unique"}, "t.unique", "t.out", sized)
    key = next(iter(hop_messages["unique"]))
    assert edge is not None
    with pytest.raises(DecodeError):
        edge(key, b'{"id": "x"}')


@pytest.mark.parametrize("topic", ["raw", "normalized", "unique", "enriched"])
def test_logic_timing_hands_every_decoded_message_to_the_stage(inputs: dict[str, list[Emit]], topic: str) -> None:
    """``time_logic`` times ``Stage.handle`` alone: each round hands it every message already decoded into the
    stage's input model (the codec is outside the timed loop), and what it returns is CPU time spent, so
    positive.  Whether logic is cheaper than the whole message is a measurement, made by ``bench.cores``,
    not asserted here: two timings compared in a unit test flip on a loaded machine."""
    from bench.cores import stage_factory, time_logic

    real = OfflinePipeline().stages[topic]
    make_real = stage_factory(real)
    handled: list[object] = []

    class Counting:
        input_model = real.input_model

        def __init__(self) -> None:
            self.inner = make_real()

        def handle(self, message: object, now: float) -> list[Emit]:
            handled.append(message)
            return list(self.inner.handle(message, now=now))  # type: ignore[arg-type]

    spent = time_logic(Counting, inputs[topic], rounds=2)  # type: ignore[arg-type]
    assert spent > 0
    assert len(handled) == 2 * len(inputs[topic])
    assert all(isinstance(m, real.input_model) for m in handled)


def test_logic_timing_gives_the_deduplicator_an_empty_index_each_round(inputs: dict[str, list[Emit]]) -> None:
    """Otherwise its second round would find every article already indexed and time exact-copy lookups only."""
    from bench.cores import time_logic
    from services.deduplicator.stage import DeduplicatorStage

    made: list[DeduplicatorStage] = []

    def make_stage() -> DeduplicatorStage:
        made.append(OfflinePipeline().stages["normalized"])  # type: ignore[arg-type]
        return made[-1]

    time_logic(make_stage, inputs["normalized"], rounds=2)
    assert len({id(s) for s in made}) == len(made) == 3  # one for the input model, then one per round
    # each round indexed every article anew (copies too: a later copy may match either); the first stage unused
    assert [s.index.indexed for s in made] == [0, len(inputs["normalized"]), len(inputs["normalized"])]
