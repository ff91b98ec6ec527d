"""``rasd top``: a live terminal view of the pipeline, read from the services' Prometheus endpoints.

For people without Grafana.  It shows the figures of the dashboard (deploy/grafana/dashboards/rasd.json):
throughput per stage, backlog (consumer lag), dead letters, processing and end-to-end latency quantiles,
duplicates by kind, alerts by severity and entity mentions by type.  Everything but :func:`run` is pure:
parse a metrics page, sum replicas, difference two snapshots, estimate quantiles, render text.
"""

from __future__ import annotations

import math
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]


@dataclass
class Figures:
    """What one service's endpoints (all its replicas) report, summed."""

    service: str
    up: int = 0
    endpoints: int = 0
    consumed: float = 0.0
    produced: dict[str, float] = field(default_factory=dict)
    dead_letters: float = 0.0
    lag: float = 0.0
    processing: dict[float, float] = field(default_factory=dict)  # cumulative bucket counts by upper bound
    end_to_end: dict[float, float] = field(default_factory=dict)
    duplicates: dict[str, float] = field(default_factory=dict)
    alerts: dict[str, float] = field(default_factory=dict)
    entity_mentions: dict[str, float] = field(default_factory=dict)


def parse_page(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(sample name, labels, value) for every sample of a Prometheus text page."""
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def _add(target: dict[str, float], key: str, value: float) -> None:
    target[key] = target.get(key, 0.0) + value


def _add_bucket(target: dict[float, float], le: str, value: float) -> None:
    bound = math.inf if le == "+Inf" else float(le)
    target[bound] = target.get(bound, 0.0) + value


def figures(service: str, pages: Iterable[str | None]) -> Figures:
    """Sum the pages of one service's replicas (``None``: an endpoint that did not answer)."""
    fig = Figures(service)
    for page in pages:
        fig.endpoints += 1
        if page is None:
            continue
        fig.up += 1
        for name, labels, value in parse_page(page):
            if name == "rasd_messages_consumed_total":
                fig.consumed += value
            elif name == "rasd_messages_produced_total":
                _add(fig.produced, labels["topic"], value)
            elif name == "rasd_dead_letters_total":
                fig.dead_letters += value
            elif name == "rasd_consumer_lag":
                fig.lag += value
            elif name == "rasd_processing_seconds_bucket":
                _add_bucket(fig.processing, labels["le"], value)
            elif name == "rasd_end_to_end_seconds_bucket":
                _add_bucket(fig.end_to_end, labels["le"], value)
            elif name == "rasd_duplicates_total":
                _add(fig.duplicates, labels["kind"], value)
            elif name == "rasd_alerts_total":
                _add(fig.alerts, labels["severity"], value)
            elif name == "rasd_entity_mentions_total":
                _add(fig.entity_mentions, labels["type"], value)
    return fig


def bucket_delta(current: Mapping[float, float], previous: Mapping[float, float] | None) -> dict[float, float]:
    """The observations between two snapshots of a cumulative histogram (all of them without a previous one,
    or after a restart reset the counts)."""
    if not previous:
        return dict(current)
    delta = {le: count - previous.get(le, 0.0) for le, count in current.items()}
    return dict(current) if any(v < 0 for v in delta.values()) else delta


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Estimate a quantile from cumulative buckets as Prometheus's ``histogram_quantile`` does: find the
    bucket holding the rank and interpolate linearly inside it (the lowest bucket starts at 0; a rank in
    the ``+Inf`` bucket returns the highest finite bound).  ``None`` when there are no observations."""
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != math.inf:
        return None
    total = buckets[math.inf]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == math.inf:
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def rate(current: float, previous: float | None, seconds: float) -> float | None:
    """Per-second increase of a counter between two snapshots (``None`` without a previous one;
    a counter that went down was reset by a restart and counts from zero)."""
    if previous is None or seconds <= 0:
        return None
    increase = current - previous if current >= previous else current
    return increase / seconds


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms" if seconds < 10 else f"{seconds:.0f}s"


def _per_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _counts(values: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:.0f}" for k, v in values.items()) or "-"


def render(current: list[Figures], previous: list[Figures] | None, seconds: float) -> str:
    """The screen: one line per stage, then what the news looked like (totals since the services started)."""
    before = {f.service: f for f in previous or []}
    header = (
        f"{'stage':<13}{'up':>5}{'in/s':>8}{'out/s':>8}{'in':>9}{'lag':>7}{'dlq':>6}"
        f"{'p50':>8}{'p95':>8}{'p99':>8}{'e2e p95':>9}"
    )
    lines = [header, "-" * len(header)]
    for fig in current:
        prev = before.get(fig.service) if fig.up else None  # no rate for a service that did not answer
        produced = sum(fig.produced.values())
        window = bucket_delta(fig.processing, prev.processing if prev else None)
        e2e = bucket_delta(fig.end_to_end, prev.end_to_end if prev else None)
        lines.append(
            f"{fig.service:<13}{f'{fig.up}/{fig.endpoints}':>5}"
            f"{_per_s(rate(fig.consumed, prev.consumed if prev else None, seconds)):>8}"
            f"{_per_s(rate(produced, sum(prev.produced.values()) if prev else None, seconds)):>8}"
            f"{fig.consumed:>9.0f}{fig.lag:>7.0f}{fig.dead_letters:>6.0f}"
            f"{_ms(quantile(0.5, window)):>8}{_ms(quantile(0.95, window)):>8}{_ms(quantile(0.99, window)):>8}"
            f"{_ms(quantile(0.95, e2e)):>9}"
        )
    duplicates: dict[str, float] = defaultdict(float)
    alerts: dict[str, float] = defaultdict(float)
    mentions: dict[str, float] = defaultdict(float)
    decided = 0.0
    for fig in current:
        for k, v in fig.duplicates.items():
            duplicates[k] += v
        for k, v in fig.alerts.items():
            alerts[k] += v
        for k, v in fig.entity_mentions.items():
            mentions[k] += v
        if fig.service == "deduplicator":
            decided += fig.produced.get("unique", 0.0) + fig.produced.get("duplicates", 0.0)
    ratio = f"{sum(duplicates.values()) / decided:.1%}" if decided else "-"
    lines += [
        "",
        f"duplicates   {_counts(duplicates)}   ratio {ratio}",
        f"alerts       {_counts(alerts)}",
        f"entities     {_counts(dict(sorted(mentions.items(), key=lambda kv: -kv[1])))}",
    ]
    return "\n".join(lines)


def fetch(url: str, timeout: float = 2.0) -> str | None:
    """One metrics page, or ``None`` if the endpoint does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body: bytes = resp.read()
            return body.decode("utf-8", "replace")
    except OSError:
        return None


def snapshot(endpoints: Mapping[str, list[str]], get: Callable[[str], str | None] = fetch) -> list[Figures]:
    """Read every endpoint now; one :class:`Figures` per service, in pipeline order."""
    return [figures(service, [get(url) for url in urls]) for service, urls in endpoints.items()]


def run(endpoints: Mapping[str, list[str]], *, interval: float, once: bool, out: Callable[[str], None]) -> None:
    """Redraw every ``interval`` seconds until interrupted (``once``: two reads ``interval`` apart, printed)."""
    previous: list[Figures] | None = None
    last = time.monotonic()
    while True:
        current = snapshot(endpoints)
        now = time.monotonic()
        screen = render(current, previous, now - last)
        if previous is not None or not once:
            out(screen if once else "\x1b[H\x1b[2J" + time.strftime("rasd top  %H:%M:%S\n\n") + screen)
            if once:
                return
        previous, last = current, now
        time.sleep(interval)
