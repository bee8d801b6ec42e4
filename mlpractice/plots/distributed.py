"""Figures for notebook 3 (distributed training). Each function draws one figure and returns it."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def _legend_outside(ax):
    """Legend to the right of the axes, so it never covers data (tight_layout makes room for it)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)


def ring_steps(logs: list, world_size: int, chunk_bytes: list):
    """Grid of ring all-reduce steps: one row per step, one column per rank, 'sends chunk c' in each cell."""
    steps = len(logs[0])
    fig, ax = plt.subplots(figsize=(2.2 * world_size + 1.5, 0.6 * steps + 1.2))
    colors = plt.cm.tab10.colors
    for rank, log in enumerate(logs):
        for row, (phase, step, sent, received, nbytes) in enumerate(log):
            ax.add_patch(plt.Rectangle((rank, steps - row - 1), 0.95, 0.9, color=colors[sent % 10],
                                       alpha=0.35 if phase == "reduce-scatter" else 0.7))
            ax.text(rank + 0.47, steps - row - 0.55, f"send c{sent} -> r{(rank + 1) % world_size}\n{nbytes} B",
                    ha="center", va="center", fontsize=8)
    ax.set_xlim(0, world_size)
    ax.set_ylim(0, steps)
    ax.set_xticks([r + 0.47 for r in range(world_size)], [f"rank {r}" for r in range(world_size)])
    ax.set_yticks([steps - i - 0.55 for i in range(steps)],
                  [f"{'RS' if p == 'reduce-scatter' else 'AG'} step {s}" for p, s, *_ in logs[0]])
    ax.set_title(f"ring all-reduce, {world_size} ranks, chunks of {chunk_bytes} bytes "
                 "(light: reduce-scatter adds, dark: all-gather copies)", fontsize=9)
    ax.tick_params(length=0)
    fig.tight_layout()
    return fig


def loss_curves(curves: dict, title: str = "training loss per optimizer step"):
    fig, ax = plt.subplots(figsize=(8.5, 3.5))
    for i, (label, losses) in enumerate(curves.items()):
        ax.plot(range(1, len(losses) + 1), losses, label=label, lw=1.5, ls=["-", "--", ":", "-."][i % 4])
    ax.set_xlabel("step (updates applied)")
    ax.set_ylabel("MSE loss")
    ax.set_title(title)
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def failure_timeline(timeline, title: str = "crash and recovery"):
    """Events of a TrainResult on a time axis, one row per kind of event, with the restart gap shaded;
    checkpoints and restarts are labelled with their optimizer step."""
    style = {"start": ("tab:green", "o"), "checkpoint": ("tab:blue", "|"), "failure detected": ("tab:red", "X"),
             "restart": ("tab:orange", "o"), "done": ("black", "s")}
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(style) + 1.2))
    for row, (kind, (color, marker)) in enumerate(style.items()):
        events = [e for e in timeline if e.kind == kind]
        ax.scatter([e.time for e in events], [row] * len(events), color=color, marker=marker, s=80, zorder=3)
        for i, e in enumerate(events):
            if kind in ("checkpoint", "restart") and e.step is not None:
                # above and below the marker by turns: checkpoints come close together on this axis
                up = i % 2 == 0
                ax.annotate(f"{e.step}", (e.time, row), textcoords="offset points", xytext=(0, 6 if up else -6),
                            ha="center", va="bottom" if up else "top", fontsize=7)
    fail = [e.time for e in timeline if e.kind == "failure detected"]
    restart = [e.time for e in timeline if e.kind == "restart"]
    for f, r in zip(fail, restart):
        ax.axvspan(f, r, color="tab:red", alpha=0.15)
    ax.set_yticks(range(len(style)), list(style))
    ax.set_ylim(len(style) - 0.5, -0.5)
    ax.set_xlabel("seconds since start (numbers: optimizer step)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def pipeline_gantt(slots, stages: int, title: str, ax=None):
    """Gantt chart of pipeline slots (stage rows, F light / B dark, micro-batch number inside)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.5 * stages + 1))
    colors = plt.cm.tab10.colors
    for s in slots:
        ax.barh(stages - 1 - s.stage, s.end - s.start, left=s.start, color=colors[s.micro_batch % 10],
                alpha=0.45 if s.op == "F" else 0.9, edgecolor="black", lw=0.5)
        ax.text((s.start + s.end) / 2, stages - 1 - s.stage, f"{s.op}{s.micro_batch}", ha="center",
                va="center", fontsize=7)
    ax.set_yticks(range(stages), [f"stage {stages - 1 - i}" for i in range(stages)])
    ax.set_xlabel("time (F = 1 unit, B = 2 units)")
    ax.set_title(title, fontsize=9)
    return ax


def staleness_histogram(staleness: dict):
    """staleness: label -> staleness of every applied push; one bar per label side by side at each value."""
    fig, ax = plt.subplots(figsize=(7, 2.8))
    top = max(max(v) for v in staleness.values()) + 1
    ax.hist(list(staleness.values()), bins=range(top + 1), label=list(staleness), align="left", rwidth=0.85)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("staleness of an applied gradient (updates since its pull)")
    ax.set_ylabel("pushes")
    _legend_outside(ax)
    fig.tight_layout()
    return fig
