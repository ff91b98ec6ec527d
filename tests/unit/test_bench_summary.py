"""The headline figures of ``latest.json`` must be computed from the runs as the docs define them.

``summarise`` turns the chains' measurements into the keys the issue asks for (``ratio``,
``framework_tax``, ``ratio_range``...) and the per-article CPU split; a slip there would misreport every run
without any run failing, so it is checked here on a small hand-made result.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.run import summarise


def chain(per_s_runs: list[float], cpu_s: dict[str, float]) -> dict[str, Any]:
    return {"per_s": sorted(per_s_runs)[len(per_s_runs) // 2], "per_s_runs": per_s_runs, "cpu_s": cpu_s}


def result(paced: bool) -> dict[str, Any]:
    pipeline = chain([200.0, 250.0, 240.0], {"normalizer": 3.0, "deduplicator": 5.0, "entities": 4.0, "alerter": 4.0})
    pipeline |= {"per_s_first": 200.0, "metrics_per_s": 204.0, "metrics_vs_bench": 1.02, "peak_rss_mb": {},
                 "counts": {"bench": {"unique": 900}},
                 "stage_cpu_us_per_message": {"normalizer": 400.0, "deduplicator": 700.0, "entities": 700.0,
                                              "alerter": 600.0},
                 "latency": [{"share": 0.2, "last_record_ms": {"p50": 20.0}, "alert_ms": {"p50": 40.0}}]}
    out: dict[str, Any] = {
        "n": 1000, "pipeline": pipeline,
        "faust_relay": chain([400.0, 500.0, 480.0], {"a": 1.0, "b": 1.5}),
        "bare_relay": chain([1500.0, 1600.0, 1400.0], {"a": 0.5}),
    }
    if paced:
        out["faust_relay_at_pipeline_rate"] = {"cpu_s": {"a": 6.0, "b": 6.0}}
    return out


def test_headline_ratios_are_medians_over_medians() -> None:
    r = result(paced=True)
    summarise(r, 240.0)
    assert r["pipeline_articles_per_s"] == 240.0
    assert r["ratio"] == pytest.approx(240.0 / 480.0, abs=1e-3)
    assert r["framework_tax"] == pytest.approx(480.0 / 1500.0, abs=1e-3)
    # slowest pipeline over the fastest relay, fastest over the slowest
    assert r["ratio_range"] == [pytest.approx(200 / 500, abs=1e-3), pytest.approx(250 / 400, abs=1e-3)]
    assert r["latency_ms"] == {"20%": {"p50": 20.0}}
    assert r["metrics_vs_bench"]["within_5_percent"] is True


def test_cpu_split_per_article() -> None:
    """16 CPU s over 1,000 articles; the stages: normalizer and deduplicator see all 1,000, entities and the
    alerter only the 900 originals."""
    r = result(paced=True)
    summarise(r, 240.0)
    cpu = r["worker_cpu_ms_per_article"]
    assert cpu["pipeline"] == 16.0
    assert cpu["faust_relay"] == 2.5
    assert cpu["faust_relay_at_pipeline_rate"] == 12.0
    assert cpu["pipeline_stages"] == pytest.approx((400 + 700) * 1000 / 1000 / 1000 + (700 + 600) * 900 / 1000 / 1000)
    assert r["cpu_ratio_at_pipeline_rate"] == pytest.approx(12.0 / 16.0, abs=1e-3)


def test_no_equal_rate_ratio_without_the_paced_relay() -> None:
    """``--quick`` skips the relay offered the pipeline's rate: the key is absent rather than made up."""
    r = result(paced=False)
    summarise(r, 240.0)
    assert "faust_relay_at_pipeline_rate" not in r["worker_cpu_ms_per_article"]
    assert "cpu_ratio_at_pipeline_rate" not in r


def test_cpu_figures_are_medians_over_the_backlogs_with_their_spread() -> None:
    """Why (issue 18, item 4): one backlog's CPU moves by 10-20 % on this machine, so each figure is the median of
    the backlogs with [min, max] beside it, and the issue's two CPU targets get a range too."""
    r = result(paced=True)
    r["pipeline"]["cpu_s_runs"] = [r["pipeline"]["cpu_s"], {"a": 14.0}, {"a": 20.0}]  # 16, 14, 20 ms per article
    r["bare_relay"]["cpu_s_runs"] = [{"a": 0.5}, {"a": 0.4}, {"a": 0.6}]
    summarise(r, 240.0)
    cpu, spread = r["worker_cpu_ms_per_article"], r["worker_cpu_ms_per_article_range"]
    assert cpu["pipeline"] == 16.0 and spread["pipeline"] == [14.0, 20.0]
    assert cpu["bare_relay"] == 0.5 and spread["bare_relay"] == [0.4, 0.6]
    assert spread["faust_relay"] == [2.5, 2.5], "a chain measured once has no spread"
    stages = cpu["pipeline_stages"]
    assert r["framework_tax_cpu"]["median"] == pytest.approx((16.0 - stages) / 0.5, abs=0.01)
    assert r["framework_tax_cpu"]["range"] == [pytest.approx((14.0 - stages) / 0.6, abs=0.01),
                                                pytest.approx((20.0 - stages) / 0.4, abs=0.01)]
    assert r["cpu_vs_relay_at_pipeline_rate"] == {"median": pytest.approx(16.0 / 12.0, abs=0.01),
                                                  "range": [pytest.approx(14.0 / 12.0, abs=0.01),
                                                            pytest.approx(20.0 / 12.0, abs=0.01)]}
