"""Matplotlib figures for notebook 04 (real-time feature pipeline). Each returns the Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import LogFormatter


def _legend_outside(ax, **kwargs):
    """Legend to the right of the axes, so it never covers data (tight_layout makes room for it)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False, **kwargs)


def disorder(event_s, watermark_s, late_mask, title="Event time vs processing order"):
    """Event time of each record in arrival order, the watermark, and the late records."""
    event_s, watermark_s, late_mask = map(np.asarray, (event_s, watermark_s, late_mask))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    order = np.arange(len(event_s))
    ax.scatter(order[~late_mask], event_s[~late_mask], s=4, alpha=0.5, label="event time of record")
    ax.scatter(order[late_mask], event_s[late_mask], s=18, color="crimson", label="late\n(behind the watermark)")
    ax.plot(order, watermark_s, color="black", lw=1.2, label="watermark =\nmax event time - bound")
    ax.set_xlabel("arrival order (processing time)")
    ax.set_ylabel("event time (s since start)")
    ax.set_title(title)
    _legend_outside(ax, markerscale=2)
    fig.tight_layout()
    return fig


def window_diagram(ts_s, rows, title="Which windows hold the event"):
    """rows: list of (label, [(start_s, end_s), ...]); draws each window as a bar and the event as a line.
    Each bar's label sits at the end farther from the event line; the line is labelled above the axes."""
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.45 * sum(len(w) for _, w in rows)))
    y = 0
    ticks, labels = [], []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, windows) in enumerate(rows):
        for start, end in windows:
            ax.barh(y, end - start, left=start, height=0.6, color=colors[i % len(colors)], alpha=0.6)
            at_start = ts_s - start >= end - ts_s
            ax.annotate(f"[{start:g}, {end:g})", (start if at_start else end, y), xytext=(3 if at_start else -3, 0),
                        textcoords="offset points", ha="left" if at_start else "right", va="center", fontsize=8)
            ticks.append(y)
            labels.append(label)
            y += 1
    ax.axvline(ts_s, color="crimson", lw=2)
    ax.annotate(f"event at t={ts_s:g} s", (ts_s, 1), xycoords=ax.get_xaxis_transform(), xytext=(0, 2),
                textcoords="offset points", ha="center", va="bottom", color="crimson", fontsize=8)
    lo, hi = min(s for _, w in rows for s, _ in w), max(e for _, w in rows for _, e in w)
    ax.set_xlim(lo - 0.03 * (hi - lo), hi + 0.03 * (hi - lo))  # bars' ends are sticky: pad by hand
    ax.set_yticks(ticks, labels)
    ax.invert_yaxis()
    ax.set_xlabel("event time (s)")
    ax.set_title(title, pad=14)
    fig.tight_layout()
    return fig


def feature_vs_oracle(t_min, series: dict, oracle: dict, title="One user's features vs the pandas oracle"):
    """series/oracle: name -> values at times t_min; one panel per feature, ours as dots, oracle as a line."""
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.1 * len(series)), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, series):
        ax.step(t_min, oracle[name], where="post", color="gray", lw=1.5, label="pandas rolling\n(oracle)")
        ax.plot(t_min, series[name], ".", ms=4, color="C1", label="pipeline,\nper event")
        ax.set_ylabel(name)
    _legend_outside(axes[0])
    axes[0].set_title(title)
    axes[-1].set_xlabel("event time (min)")
    fig.tight_layout()
    return fig


def point_in_time(feature_t, feature_v, label_t, pit_v, naive_v, ttl=None, title="Point-in-time join"):
    """Feature history as a step line; for each label time the point-in-time value and the naive (leaky) one."""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.step(feature_t, feature_v, where="post", color="gray", label="feature value over time")
    ax.plot(feature_t, feature_v, "o", ms=3, color="gray")
    ax.plot(label_t, pit_v, "s", color="C2", ms=8, label="point-in-time value\n(as of the label time)")
    ax.plot(label_t, naive_v, "x", color="crimson", ms=9, mew=2, label="naive join: latest\nvalue (leaks the future)")
    for i, t in enumerate(label_t):
        ax.axvline(t, color="C0", lw=0.6, ls=":", label=None if i else "label time")
    ax.set_xlabel("event time (min)")
    ax.set_ylabel("feature value")
    ax.set_title(title + (f" (ttl {ttl})" if ttl else ""))
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def latency_histogram(latencies_us: dict, title="Online lookup latency"):
    """latencies_us: store name -> array of per-lookup latencies in microseconds (log-x histogram)."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    all_values = np.concatenate([np.asarray(v, dtype=float) for v in latencies_us.values()])
    bins = np.logspace(np.log10(max(all_values.min(), 0.1)), np.log10(all_values.max() + 1), 60)
    for name, values in latencies_us.items():
        ax.hist(values, bins=bins, alpha=0.6, label=name)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(LogFormatter())  # plain 10, 100 rather than 10^1, 10^2
    ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4)))
    ax.set_xlabel("lookup latency (microseconds, log scale)")
    ax.set_ylabel("lookups")
    ax.set_title(title)
    _legend_outside(ax)
    fig.tight_layout()
    return fig
