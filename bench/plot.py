"""The PNG of a bench run: throughput of the pipeline and its ceilings, and latency over offered load."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.5))
    bars = [("bare aiokafka\nrelay", result["bare_relay_per_s"]), ("faust\nrelay", result["faust_relay_per_s"]),
            ("pipeline\n1 worker/svc", result["pipeline_articles_per_s"])]
    if result.get("scaleout"):
        bars.append(("pipeline\n2 workers/svc", result["scaleout"]["per_s"]))
    ax1.bar([b[0] for b in bars], [b[1] for b in bars], color=["#888", "#4a7", "#37b", "#37b"][: len(bars)])
    for i, (_, v) in enumerate(bars):
        ax1.text(i, v, f"{v:.0f}", ha="center", va="bottom")
    ax1.set_ylabel("messages (articles) / s, sustained")
    ax1.set_title(f"Throughput, 6 hops, {result['n']} × {result['articles']['mean_bytes'] / 1000:.1f} KB")

    series = result["pipeline"].get("throughput_series") or []
    if series:
        ax2.plot([t for t, _ in series], [r for _, r in series], color="#37b")
        ax2.axhline(result["pipeline_articles_per_s"], ls="--", color="#37b", lw=0.8)
    ax2.set_xlabel("s since the first article came out")
    ax2.set_ylabel("articles completed / s (0.5 s bins)")
    ax2.set_title("Pipeline under a backlog (saturation)")

    lat = result["pipeline"].get("latency") or []
    if lat:
        x = [r["offered_per_s"] for r in lat]
        for q, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
            ax3.plot(x, [r["last_record_ms"][q] for r in lat], style, label=f"{q} publish→last record")
        ax3.set_xticks(x, [f"{r['offered_per_s']:.0f}/s\n({round(100 * r['share'])} %)" for r in lat])
        ax3.legend()
    ax3.set_xlabel("offered load (share of saturation)")
    ax3.set_ylabel("end-to-end latency, ms")
    ax3.set_title("Latency over load")
    load = result["machine"].get("loadavg_before")
    fig.suptitle(f"Rasd bench {result['when']} — {result['machine']['nproc']} cores, load before {load}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
