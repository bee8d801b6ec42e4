"""Matplotlib figures for the exercise-1 notebook and report."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def _legend_outside(ax):
    """Legend to the right of the axes, so it never covers data (tight_layout makes room for it)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)


def system_bars(table, metrics, title="Metrics per system"):
    """Grouped bars: `table` is a DataFrame indexed by system with one column per metric (0-1 scale)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        ax.bar([x + i * width for x in range(len(table))], table[metric], width, label=metric)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(table))], table.index)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def agreement_scatter(x_by_system, y_by_system, xlabel, ylabel, title="Per-item agreement"):
    """One colour per system: per-item metric x against metric y."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for system in x_by_system:
        ax.scatter(x_by_system[system], y_by_system[system], s=12, alpha=0.7, label=system)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def trend(history, title="Metric over runs"):
    """Line per (model, metric) from an EvalTracker history DataFrame (columns run, model, metric, value)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for (model, metric), rows in history.groupby(["model", "metric"]):
        ax.errorbar(rows["run"], rows["value"], yerr=rows.get("ci_half"), marker="o", capsize=3,
                    label=f"{model} {metric}")
    ax.set_xlabel("run")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def reliability(tables: dict, title="Reliability diagram"):
    """Accuracy against mean confidence per confidence bin, one series per model; the diagonal is perfect
    calibration and each marker's area is the bin's share of the questions. `tables` maps a model's name to
    the rows of `calibration` ({low, high, n, accuracy, confidence})."""
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, rows in tables.items():
        total = sum(r["n"] for r in rows)
        ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], marker=None, linewidth=1.2)
        ax.scatter([r["confidence"] for r in rows], [r["accuracy"] for r in rows],
                   s=[600 * r["n"] / total for r in rows], alpha=0.7, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("mean confidence in the bin")
    ax.set_ylabel("accuracy in the bin")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def judge_intervals(results: dict, scores=("agreement", "kappa", "position_bias", "invalid_rate"),
                    title="Judges: point estimates and 95% bootstrap intervals"):
    """One panel per score, one row per judge: the estimate as a dot, its bootstrap interval as a bar.
    `results` maps a judge's name to its `JudgeResult`."""
    fig, axes = plt.subplots(1, len(scores), figsize=(3.0 * len(scores), 0.55 * len(results) + 1.6), sharey=True)
    names = list(results)
    for ax, key in zip(axes, scores):
        for row, name in enumerate(names):
            r = results[name]
            low, high = r.intervals[key]
            ax.plot([low, high], [row, row], color="tab:blue", linewidth=3, alpha=0.5)
            ax.plot([r.scores[key]], [row], "o", color="tab:blue")
        ax.set_title(key.replace("_", " "), fontsize=10)
        ax.set_xlim(-0.05, 1.05)
        ax.axvline(0, color="grey", linewidth=0.6)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names)
    axes[0].set_ylim(len(names) - 0.5, -0.5)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
