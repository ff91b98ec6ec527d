"""``rasd top``: the pure parts — parse real metrics pages, sum replicas, rates, quantiles, the screen.

Why: the terminal view is what people without Grafana tune by; its numbers must be the services' own
counters, read the way Prometheus reads them.
"""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from rasd.cli import build_parser, top_endpoints
from rasd.top import bucket_delta, figures, quantile, rate, render, snapshot
from services.common.settings import DEFAULT_METRICS_PORTS, SERVICES

from .metered import MeteredRun, corpus


@pytest.fixture(scope="module")
def run() -> MeteredRun:
    return MeteredRun(corpus())


@pytest.mark.parametrize("service", SERVICES)
def test_figures_are_the_services_counters(run: MeteredRun, service: str) -> None:
    """Consumed, produced per topic and dead letters read from a page equal what the stage did."""
    fig = figures(service, [run.page(service)])
    emitted = run.by_service[service]
    assert fig.up == fig.endpoints == 1
    labels = {"service": service, "topic": run.sources[service]}
    assert fig.consumed == run.registries[service].get_sample_value("rasd_messages_consumed_total", labels)
    for topic in {e.topic for e in emitted}:
        assert fig.produced[topic] == sum(1 for e in emitted if e.topic == topic)
    assert fig.dead_letters == sum(1 for e in emitted if e.topic == "dlq")
    assert fig.processing[math.inf] == fig.consumed


def test_replicas_are_summed_and_a_silent_one_is_counted_down(run: MeteredRun) -> None:
    """Two replicas' pages add up; an endpoint that does not answer shows in the up column."""
    page = run.page("deduplicator")
    one = figures("deduplicator", [page])
    two = figures("deduplicator", [page, page, None])
    assert (two.up, two.endpoints) == (2, 3)
    assert two.consumed == 2 * one.consumed
    assert two.duplicates == {k: 2 * v for k, v in one.duplicates.items()}


def test_stage_counters_reach_the_screen(run: MeteredRun) -> None:
    """Duplicates by kind, alerts by severity and mentions by type from the pages appear in the view."""
    current = snapshot({s: [s] for s in SERVICES}, get=run.page)
    screen = render(current, None, 0.0)
    dedup = next(f for f in current if f.service == "deduplicator")
    assert dedup.duplicates["near"] >= 1 and dedup.duplicates["exact"] >= 1
    assert f"near={dedup.duplicates['near']:.0f}" in screen
    alerts = next(f for f in current if f.service == "alerter").alerts
    assert f"high={alerts['high']:.0f}" in screen
    for service in SERVICES:
        assert any(line.startswith(service) for line in screen.splitlines())


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_quantile_matches_prometheus_interpolation(q: float) -> None:
    """Against an independent computation: observations spread evenly in known buckets interpolate to the
    value Prometheus's histogram_quantile gives (linear within the bucket)."""
    registry = CollectorRegistry()
    hist = Histogram("x_seconds", "x", buckets=(0.1, 0.2, 0.4, 0.8), registry=registry)
    values = [0.05] * 10 + [0.15] * 30 + [0.3] * 40 + [0.6] * 20
    for v in values:
        hist.observe(v)
    buckets = figures("s", [generate_latest(registry).decode().replace("x_seconds", "rasd_processing_seconds")])
    cumulative = buckets.processing
    rank = q * len(values)
    bounds = [0.0, 0.1, 0.2, 0.4, 0.8]
    counts = [0, 10, 40, 80, 100]
    i = next(i for i in range(1, len(bounds)) if counts[i] >= rank)
    expected = bounds[i - 1] + (bounds[i] - bounds[i - 1]) * (rank - counts[i - 1]) / (counts[i] - counts[i - 1])
    assert quantile(q, cumulative) == pytest.approx(expected)


def test_quantile_edges() -> None:
    """No observations: no number; everything above the last bound: the last finite bound."""
    assert quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert quantile(0.5, {}) is None
    assert quantile(0.99, {0.1: 0.0, 1.0: 0.0, math.inf: 5.0}) == 1.0


def test_windowed_buckets_and_rates_survive_a_restart() -> None:
    """Between two reads, only new observations count; after a restart (counts went down) all of them."""
    before = {0.1: 5.0, math.inf: 10.0}
    assert bucket_delta({0.1: 6.0, math.inf: 14.0}, before) == {0.1: 1.0, math.inf: 4.0}
    assert bucket_delta({0.1: 1.0, math.inf: 2.0}, before) == {0.1: 1.0, math.inf: 2.0}
    assert rate(30.0, 10.0, 4.0) == 5.0
    assert rate(3.0, 10.0, 1.0) == 3.0
    assert rate(3.0, None, 1.0) is None


def test_endpoints_default_to_the_configured_ports() -> None:
    """Without --endpoint, top reads each pipeline service at its settings port; with it, replicas group."""
    defaults = top_endpoints([])
    assert list(defaults) == list(SERVICES)
    for service, [url] in defaults.items():
        assert url == f"http://127.0.0.1:{DEFAULT_METRICS_PORTS[service]}/metrics"
    specs = ["entities=http://a:9103/metrics", "entities=http://b:9103/metrics"]
    assert top_endpoints(specs) == {"entities": ["http://a:9103/metrics", "http://b:9103/metrics"]}
    with pytest.raises(SystemExit):
        top_endpoints(["entities"])


def test_top_subcommand_is_wired() -> None:
    args = build_parser().parse_args(["top", "--once", "--interval", "0.5", "--endpoint", "alerter=http://x/metrics"])
    assert args.once and args.interval == 0.5 and args.endpoint == ["alerter=http://x/metrics"]
