# Starter code generated from solutions/llm_eval/report.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""A self-contained evaluation report: HTML (figures embedded as PNG) and Markdown.

Contents: the metrics table with 95% intervals and the difference to the baseline, the
pairwise significance matrix per metric, the trend of each metric over logged runs, the
worst-k items per metric and system, and every warning gathered along the way.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from .compare import Comparison
from .evaluator import EvalResult


def worst_items(result: EvalResult, key: str, k: int) -> list[tuple[int, float]]:
    """(item index, per-item value) of the k worst items for one metric (stable order on ties)."""
    values = result.item_values.get(key, [])
    sign = 1 if result.metrics[key].higher_is_better else -1
    return sorted(enumerate(values), key=lambda iv: (sign * iv[1], iv[0]))[:k]


def _figure_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def _metrics_table(comparison: Comparison) -> pd.DataFrame:
    t = comparison.table
    return pd.DataFrame({
        "metric": t["metric"], "system": t["system"],
        "value [95% CI]": [f"{v:.4g} [{lo:.4g}, {hi:.4g}]" for v, lo, hi in zip(t["value"], t["ci_low"], t["ci_high"])],
        f"delta vs {comparison.baseline} [95% CI]": [
            "-" if s == comparison.baseline else f"{d:+.4g} [{lo:+.4g}, {hi:+.4g}]"
            for s, d, lo, hi in zip(t["system"], t["delta"], t["delta_ci_low"], t["delta_ci_high"])],
        "p": ["-" if s == comparison.baseline else f"{p:.4f}" for s, p in zip(t["system"], t["p_value"])],
        "win/tie/loss": [f"{w}/{ti}/{lo}" for w, ti, lo in zip(t["wins"], t["ties"], t["losses"])],
    })


def collect_warnings(results: dict[str, EvalResult]) -> list[str]:
    notes = [f"{name}: {w}" for name, r in results.items() for w in r.warnings]
    signatures: dict[str, set] = {}
    for r in results.values():
        for key, m in r.results.items():
            signatures.setdefault(key, set()).add(m.signature)
    notes += [f"{key}: mismatched signatures {sorted(s)}" for key, s in signatures.items() if len(s) > 1]
    return notes


def generate_report(comparison: Comparison, results: dict[str, EvalResult], path: str | Path, *,
                    history: pd.DataFrame | None = None, worst_k: int = 3,
                    title: str = "Evaluation report") -> tuple[Path, Path]:
    """Write `path`.html and `path`.md; returns both paths."""
    path = Path(path)
    html_path, md_path = path.with_suffix(".html"), path.with_suffix(".md")
    table = _metrics_table(comparison)
    warnings = collect_warnings(results)
    any_result = next(iter(results.values()))

    md = [f"# {title}", "", f"{any_result.n} items; paired bootstrap with {comparison.n_samples} resamples "
          f"(seed {comparison.seed}); baseline `{comparison.baseline}`.", "", "## Metrics", "",
          table.to_markdown(index=False), "",
          "## Signatures", ""]
    md += [f"- `{key}`: `{m.signature}`" for key, m in any_result.results.items()]
    md += ["", "## Significance (pairwise p-values)", ""]
    for key, matrix in comparison.p_matrix.items():
        md += [f"### {key}", "", "```", matrix.round(4).to_string(), "```", ""]
    md += ["## Worst items", ""]
    body_worst = []
    for key in any_result.results:
        for name, r in results.items():
            for i, value in worst_items(r, key, worst_k):
                ref = r.references[i] if isinstance(r.references[i], str) else " | ".join(r.references[i])
                row = (key, name, i, f"{value:.4g}", str(r.predictions[i]), ref)
                body_worst.append(row)
                md.append(f"- **{key}** `{name}` item {i} ({value:.4g}): {row[4]!r} vs {row[5]!r}")
    md += ["", "## Warnings", ""] + ([f"- {w}" for w in warnings] or ["- none"])

    figure = ""
    if history is not None and len(history):
        from mlpractice.plots.llm_eval import trend  # plotting helper shared with the notebook

        fig = trend(history, "Metric over logged runs")
        figure = f'<h2>Trend</h2><img alt="trend" src="data:image/png;base64,{_figure_png(fig)}"/>'
        import matplotlib.pyplot as plt

        plt.close(fig)
        md += ["", "## Trend", "", "See the HTML report for the figure."]

    esc = html.escape
    worst_html = "".join(f"<tr>{''.join(f'<td>{esc(str(c))}</td>' for c in row)}</tr>" for row in body_worst)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:90%}}</style></head><body>
<h1>{esc(title)}</h1><p>{any_result.n} items; paired bootstrap with {comparison.n_samples} resamples
(seed {comparison.seed}); baseline <code>{esc(comparison.baseline)}</code>.</p>
<h2>Metrics</h2>{table.to_html(index=False)}
<h2>Signatures</h2><ul>{''.join(f'<li><code>{esc(k)}</code>: <code>{esc(m.signature)}</code></li>'
                              for k, m in any_result.results.items())}</ul>
<h2>Significance (pairwise p-values)</h2>{''.join(f'<h3>{esc(k)}</h3>' + m.round(4).to_html()
                                                  for k, m in comparison.p_matrix.items())}
{figure}
<h2>Worst items</h2><table><tr><th>metric</th><th>system</th><th>item</th><th>value</th><th>prediction</th>
<th>reference</th></tr>{worst_html}</table>
<h2>Warnings</h2><ul>{''.join(f'<li>{esc(w)}</li>' for w in warnings) or '<li>none</li>'}</ul>
</body></html>"""
    html_path.write_text(page, encoding="utf-8")
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return html_path, md_path

