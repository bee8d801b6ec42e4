"""Plots for exercise 2 (model serving): batch timeline, latency vs throughput, A/B split."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import LogFormatter

REASON_COLORS = {"full": "tab:green", "deadline": "tab:orange", "drain": "tab:red"}


def _legend_outside(ax):
    """Legend to the right of the axes, so it never covers data (tight_layout makes room for it)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)


def batch_timeline(arrivals_ms, records, batches, max_wait_ms: float, ax=None):
    """Arrivals as ticks on the top row; each batch as a bar from its oldest arrival to its firing, coloured
    and labelled by why it fired. A label goes right of its bar, or left of it where it would leave the axes."""
    ax = ax or plt.subplots(figsize=(9, 3.2))[1]
    ax.scatter(arrivals_ms, [0] * len(arrivals_ms), marker="|", s=300, color="black")
    ax.set_yticks(range(len(records) + 1), ["arrivals"] + [f"batch {i}" for i in range(1, len(records) + 1)])
    ax.invert_yaxis()
    spans = []
    for row, (rec, items) in enumerate(zip(records, batches), start=1):
        first, fired = arrivals_ms[items[0]], 1000 * rec.fired_at
        ax.plot([first, fired], [row, row], color=REASON_COLORS.get(rec.reason, "gray"), lw=6, solid_capstyle="butt")
        ax.scatter([arrivals_ms[i] for i in items], [row] * len(items), color="black", s=12, zorder=3)
        spans.append((first, fired, row, f"{rec.reason} ({rec.size})"))
    ax.set_xlabel("virtual time (ms)")
    ax.set_title(f"Dynamic batching: fire when full or when the oldest has waited {max_wait_ms:g} ms")
    ax.get_xlim()  # settle the autoscaled limits before measuring the labels against them
    right = ax.get_window_extent().x1 - 4
    for first, fired, row, text in spans:
        label = ax.annotate(text, (fired, row), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
        if label.get_window_extent().x1 > right:
            label.xy, label.xyann = (first, row), (-4, 0)
            label.set_ha("right")
    return ax


def latency_throughput(rows, ax=None):
    """rows: dicts with setting, clients, throughput_rps, p95_ms; one line per setting."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    for setting in dict.fromkeys(r["setting"] for r in rows):
        pts = [r for r in rows if r["setting"] == setting]
        ax.plot([p["throughput_rps"] for p in pts], [p["p95_ms"] for p in pts], marker="o", label=setting)
        for p in pts:
            ax.annotate(str(p["clients"]), (p["throughput_rps"], p["p95_ms"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xlabel("throughput (requests/s)")
    ax.set_ylabel("p95 latency (ms)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(LogFormatter())  # plain 2, 10, 20 rather than 2x10^0
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4)))
    ax.margins(x=0.08, y=0.12)  # room for the client-count labels beside the outermost points
    ax.set_title("Latency vs throughput (labels: concurrent clients)")
    _legend_outside(ax)
    return ax


def ab_split(fractions: dict, title: str, ax=None):
    """fractions: {label: {version: fraction}} as grouped bars."""
    ax = ax or plt.subplots(figsize=(6.5, 3))[1]
    labels = list(fractions)
    versions = sorted({v for f in fractions.values() for v in f})
    width = 0.8 / len(versions)
    for k, v in enumerate(versions):
        ax.bar([i + k * width for i in range(len(labels))], [fractions[l].get(v, 0) for l in labels], width,
               label=f"v{v}")
    ax.set_xticks([i + width * (len(versions) - 1) / 2 for i in range(len(labels))], labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of users")
    ax.set_title(title)
    _legend_outside(ax)
    return ax


def generation_timeline(runs: dict, title="Each request's generation, step by step"):
    """One panel per scheduler, one row per request: waiting (light) from its arrival to its admission, then
    generating (dark) until the step it finished in. `runs` maps a name to (sequences, step records)."""
    fig, axes = plt.subplots(len(runs), 1, figsize=(9, 1.4 + 0.19 * max(len(s) for s, _ in runs.values()) * len(runs)),
                             sharex=True)
    for ax, (name, (seqs, records)) in zip(axes, runs.items()):
        for row, s in enumerate(seqs):
            ax.barh(row, s.admitted_step - s.arrived_step, left=s.arrived_step, color="tab:blue", alpha=0.2, height=0.8)
            ax.barh(row, s.finished_step + 1 - s.admitted_step, left=s.admitted_step, color="tab:blue", height=0.8)
        ax.set_title(f"{name}: {len(records)} steps, {sum(len(s.output) for s in seqs) / len(records):.2f} tokens "
                     "per step (light: waiting, dark: generating)", fontsize=10)
        ax.set_ylabel("request")
        ax.set_ylim(len(seqs) - 0.5, -0.5)
    axes[-1].set_xlabel("decode step (the virtual clock)")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
