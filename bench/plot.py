"""The PNG of a bench run: throughput of the pipeline and its ceilings, and latency over offered load."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = result.get("stage_cost_sweep") or []
    fig, axes = plt.subplots(1, 4 if sweep else 3, figsize=(20 if sweep else 15, 4.5))
    ax1, ax2, ax3 = axes[:3]
    bars = [("bare aiokafka\nrelay", result["bare_relay_per_s"]), ("faust\nrelay", result["faust_relay_per_s"]),
            ("pipeline\n1 worker/svc", result["pipeline_articles_per_s"])]
    if result.get("scaleout"):
        bars.append(("pipeline\n2 workers/svc", result["scaleout"]["per_s"]))
    ax1.bar([b[0] for b in bars], [b[1] for b in bars], color=["#888", "#4a7", "#37b", "#37b"][: len(bars)])
    for i, (_, v) in enumerate(bars):
        ax1.text(i, v, f"{v:.0f}", ha="center", va="bottom")
    ax1.set_ylabel("messages (articles) / s, sustained")
    kb = result["articles"]["mean_bytes"] / 1000
    ax1.set_title(f"Throughput, {result.get('hops', 6)} hops, {result['n']} × {kb:.1f} KB")

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
    if sweep:
        stage_cost_panel(axes[3], result, sweep)
    load = result["machine"].get("loadavg_before")
    fig.suptitle(f"Rasd bench {result['when']} — {result['machine']['nproc']} cores, load before {load}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def stage_cost_panel(ax: Any, result: dict[str, Any], sweep: list[dict[str, Any]]) -> None:
    """The ratio a stage of each CPU cost allows (the Faust relay with a synthetic stage), and the pipeline on it."""
    x = [0.0] + [s["stage_us"] for s in sweep]
    ax.plot(x, [1.0] + [s["ratio_vs_relay"] for s in sweep], "o-", color="#4a7", label="relay + synthetic stage")
    ax.axhline(0.8, ls="--", color="#c33", lw=0.8, label="target 0.8")
    stages_ms = result.get("worker_cpu_ms_per_article", {}).get("pipeline_stages")
    if stages_ms:  # the pipeline's stages' CPU inside the workers, per article and stage
        ax.plot([stages_ms * 1000 / 4], [result["ratio"]], "D", color="#37b", label="pipeline (its stages' mean)")
    edge = result.get("contract_edge_relay")
    edges_us = [c["edge_us_per_message"] for c in result.get("cores_per_s", {}).values() if "edge_us_per_message" in c]
    if edge and edges_us:  # decode + encode of the contracts alone (measured without Kafka), no stage logic
        ax.plot([sum(edges_us) / len(edges_us)], [edge["ratio_vs_relay"]], "s", color="#e80",
                label="contract edge only (cores → 0)")
    ax.set_xlabel("stage CPU per message on each of the 4 stage hops, µs")
    ax.set_ylabel("throughput / Faust relay")
    ax.set_title("The ratio a stage of a given cost allows")
    ax.legend()
