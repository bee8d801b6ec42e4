"""`make interview-report EX=N`: the log of a mock interview (interview.py) as one self-contained HTML page.

The page shows a timeline (every check as a dot per requirement, coloured by its status; a star where a
requirement first passed; the budget as a dashed line), the final scoreboard, the parts still failing
with their first assertion, and the exercise's interview follow-up questions with model answers (the
block of EXERCISES.md between `<!-- interview-answers exercise=N -->` and `<!-- /interview-answers -->`).
`timeline` and `page` are pure; `write` is the shell.
"""
from __future__ import annotations

import base64
import html
import io
import re
import time
from pathlib import Path

from . import generate, interview

COLOURS = {"passed": "#2e7d32", "FAILED": "#c62828", "partial": "#ef6c00", "blocked": "#f9a825",
           "not attempted": "#9e9e9e"}


def first_passes(entries: list[dict]) -> dict[str, float]:
    """requirement -> the minute of the first check at which it passed."""
    found: dict[str, float] = {}
    for e in entries:
        for r, part in e["parts"].items():
            if part["status"] == "passed":
                found.setdefault(r, e["elapsed_s"] / 60)
    return found


def timeline(entries: list[dict], budget_minutes: float) -> bytes:
    """A PNG: one row per requirement, one dot per check at its minute, a star at the first pass."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    requirements = sorted({r for e in entries for r in e["parts"]}, key=lambda r: [int(x) for x in r.split(".")])
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(requirements) + 1.6), dpi=110)
    rows = {r: i for i, r in enumerate(reversed(requirements))}
    for e in entries:
        for r, part in e["parts"].items():
            ax.scatter(e["elapsed_s"] / 60, rows[r], s=36, color=COLOURS.get(part["status"], "#555"), zorder=3)
    for r, minute in first_passes(entries).items():
        ax.scatter(minute, rows[r], s=220, marker="*", color=COLOURS["passed"], edgecolor="black", zorder=4)
    ax.axvline(budget_minutes, color="black", linestyle="--", linewidth=1)
    ax.text(budget_minutes, len(requirements) - 0.45, f"{budget_minutes:.0f}-minute budget ", ha="right", va="top",
            fontsize=9)
    last = max((e["elapsed_s"] / 60 for e in entries), default=0)
    ax.set_xlim(-1, max(budget_minutes, last) * 1.05)
    ax.set_ylim(-0.6, len(requirements) - 0.2)
    ax.set_yticks(list(rows.values()), list(rows))
    ax.set_xlabel("minutes since the start")
    ax.grid(axis="x", alpha=0.3)
    for status, colour in COLOURS.items():
        ax.scatter([], [], color=colour, label=status)
    ax.scatter([], [], marker="*", s=120, color=COLOURS["passed"], edgecolor="black", label="first pass")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(requirements) < 6 else -0.12), ncol=6,
              fontsize=8, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def answers(exercise: int, text: str) -> str:
    """The model-answer block of EXERCISES.md for this exercise (markdown), or ""."""
    m = re.search(rf"<!-- interview-answers exercise={exercise} -->(.*?)<!-- /interview-answers -->", text, re.S)
    return m[1].strip() if m else ""


def markdown_html(text: str) -> str:
    """The little markdown the answers use: paragraphs, **bold**, `code`, <details> wrappers dropped."""
    text = re.sub(r"</?details>|<summary>.*?</summary>", "", text)
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        p = html.escape(" ".join(para.split()))
        p = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", p)
        p = re.sub(r"`(.+?)`", r"<code>\1</code>", p)
        out.append(f"<p>{p}</p>")
    return "\n".join(out)


def page(exercise: int, entries: list[dict], budget_minutes: float, png: bytes, answer_md: str) -> str:
    final = entries[-1]["parts"] if entries else {}
    passed = [r for r, p in final.items() if p["status"] == "passed"]
    first_pass = first_passes(entries)
    rows = "\n".join(
        f"<tr><td>{r}</td><td style='color:{COLOURS.get(p['status'], '#000')}'><b>{html.escape(p['status'])}</b></td>"
        f"<td>{f'{first_pass[r]:.0f} min' if r in first_pass else '-'}</td></tr>" for r, p in final.items())
    failing = "\n".join(f"<li><b>{r}</b>: <code>{html.escape(p['detail'])}</code></li>"
                        for r, p in final.items() if p["status"] == "FAILED")
    last = entries[-1]["elapsed_s"] / 60 if entries else 0
    follow = markdown_html(answer_md) if answer_md else \
        "<p>The follow-up questions are in the notebook, at the end of each section.</p>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Mock interview, exercise {exercise}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .7rem;text-align:left}}
code{{background:#f3f3f3;padding:0 .2rem}}h2{{margin-top:2rem}}</style></head><body>
<h1>Mock interview, exercise {exercise}</h1>
<p>{len(entries)} checks over {last:.0f} minutes of a {budget_minutes:.0f}-minute budget;
{len(passed)} of {len(final)} parts pass at the last check.</p>
<img alt="timeline of the checks" style="max-width:100%" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<h2>Final scoreboard</h2><table><tr><th>part</th><th>status</th><th>first passed</th></tr>
{rows}</table>
<h2>Still failing</h2>{f"<ul>{failing}</ul>" if failing else "<p>Nothing.</p>"}
<h2>Follow-up questions</h2>{follow}
</body></html>"""


def write(exercise: int, root: Path = interview.STATE) -> Path | None:
    entries = interview.read_log(exercise, root)
    if not entries:
        print(f"no checks logged for exercise {exercise}: start with `make interview EX={exercise}`, "
              f"then `make check EX={exercise}`")
        return None
    running = interview.session(exercise, root) or {}
    budget = running.get("budget_minutes", interview.BUDGET_MINUTES)
    answer_md = answers(exercise, (generate.ROOT / "EXERCISES.md").read_text())
    html_text = page(exercise, entries, budget, timeline(entries, budget), answer_md)
    out = root / f"ex{exercise}-report.html"
    out.write_text(html_text)
    print(f"wrote {out.relative_to(generate.ROOT)} ({time.strftime('%H:%M')})")
    return out
