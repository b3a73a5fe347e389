"""An evaluation report to share after a demo: ONE self-contained HTML file (inline CSS and SVG, no script, nothing
fetched from the network) with the per-language table, per-label scores, confusion matrices with counts in the
cells (rates in each cell's tooltip) and, when given, the comparison with its bootstrap intervals."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from core.evaluation.comparison import Comparison, display_name, group_title
from core.evaluation.error_cells import matrix_cells
from core.evaluation.metrics import OVERALL
from core.language_names import language_name
from core.store.evaluations import Evaluation

CELL = 46
# even if a text slipped through unescaped, the browser would load nothing and run nothing
CONTENT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"
CHAR = 7  # rough width of a character at the report's font size, for laying out labels

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2933;
padding:0 1rem}h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #d9e2ec;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{border:1px solid #d9e2ec;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f0f4f8}.muted{color:#627d98;font-size:.9rem}
.matrices{display:flex;flex-wrap:wrap;gap:1.5rem}.matrix{margin:.5rem 0}.better{color:#1b7f3b}.worse{color:#b42318}
details{margin:.4rem 0}
"""


def _f(value: float) -> str:
    return f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _colour(rate: float, correct: bool) -> str:
    """Blue for the diagonal, red for errors, darker with a higher rate (the number is always written too)."""
    if rate <= 0:
        return "#f8fafc"
    strength = max(0.0, min(1.0, rate))
    base = (33, 102, 172) if correct else (178, 24, 43)
    mixed = [round(255 - (255 - c) * (0.12 + 0.88 * strength)) for c in base]
    return f"rgb({mixed[0]},{mixed[1]},{mixed[2]})"


def matrix_svg(group: dict[str, Any], title: str) -> str:
    """A confusion matrix as inline SVG: rows = true, columns = predicted, counts in the cells, rates on hover."""
    cells = matrix_cells(group)
    labels = list(group["labels"])
    columns = sorted({(c.column, c.predicted) for c in cells})
    longest = max([len(name) for _, name in columns] + [4])
    left = 12 + CHAR * max([len(label) for label in labels] + [4])
    top = 20 + int(0.65 * CHAR * longest)  # column names are written at 40 degrees
    width, height = left + CELL * len(columns) + int(0.77 * CHAR * longest), top + CELL * len(labels) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" font-size="12">',
        f'<text x="{left}" y="{height - 8}" fill="#627d98">columns: predicted · rows: true</text>',
    ]
    for i, label in enumerate(labels):
        y = top + CELL * i + CELL / 2 + 4
        parts.append(f'<text x="{left - 6}" y="{y}" text-anchor="end">{escape(label)}</text>')
    for j, name in columns:
        x = left + CELL * j + CELL / 2
        parts.append(f'<text x="{x}" y="{top - 6}" transform="rotate(-40 {x} {top - 6})">{escape(name)}</text>')
    for cell in cells:
        x, y = left + CELL * cell.column, top + CELL * cell.row
        ink = "#ffffff" if cell.rate > 0.55 else "#1f2933"
        parts.append(
            f'<g><title>{escape(cell.hover)}</title><rect x="{x}" y="{y}" width="{CELL - 2}" height="{CELL - 2}" '
            f'fill="{_colour(cell.rate, cell.correct)}"/><text x="{x + CELL / 2 - 1}" y="{y + CELL / 2 + 4}" '
            f'text-anchor="middle" fill="{ink}">{cell.count}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def comparison_svg(comparison: Comparison) -> str:
    """Dots with interval whiskers: one row per language (and the mean), one colour per evaluation."""
    palette = ["#2166ac", "#d6604d", "#1b7837", "#762a83", "#b35806", "#35978f"]
    names, groups = comparison.names, comparison.groups
    left, plot, row_h = 200, 560, 14 * len(names) + 16
    height = 40 + row_h * len(groups) + 20 * len(names)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + plot + 40}" height="{height}" font-size="12">']
    for tick in range(0, 11, 2):
        x = left + plot * tick / 10
        parts.append(f'<line x1="{x}" y1="20" x2="{x}" y2="{20 + row_h * len(groups)}" stroke="#e4e7eb"/>')
        parts.append(f'<text x="{x}" y="14" text-anchor="middle" fill="#627d98">{tick / 10:.1f}</text>')
    scores = comparison.result.scores
    for g, group in enumerate(groups):
        y0 = 20 + row_h * g
        parts.append(
            f'<text x="{left - 8}" y="{y0 + row_h / 2 + 4}" text-anchor="end">{escape(group_title(group))}</text>'
        )
        for n, name in enumerate(names):
            s = scores[name][group]
            y = y0 + 10 + 14 * n
            colour = palette[n % len(palette)]
            x_low, x_high, x_mid = (left + plot * max(0.0, min(1.0, v)) for v in (s.low, s.high, s.estimate))
            tip = f"{name} · {group_title(group)}: {_f(s.estimate)} [{_f(s.low)}, {_f(s.high)}]"
            parts.append(
                f'<g><title>{escape(tip)}</title><line x1="{x_low}" y1="{y}" x2="{x_high}" y2="{y}" '
                f'stroke="{colour}" stroke-width="2"/><circle cx="{x_mid}" cy="{y}" r="4" fill="{colour}"/></g>'
            )
    legend_y = 30 + row_h * len(groups)
    for n, name in enumerate(names):
        y = legend_y + 20 * n
        colour = palette[n % len(palette)]
        parts.append(f'<circle cx="{left + 6}" cy="{y}" r="5" fill="{colour}"/>')
        parts.append(f'<text x="{left + 16}" y="{y + 4}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _comparison_section(comparison: Comparison) -> str:
    result = comparison.result
    header = ["language", *comparison.names]
    rows = [[row["language"], *(row[name] for name in comparison.names)] for row in comparison.table()]
    diffs = [
        [
            d["language"],
            f"{d['evaluation']} − {d['reference']}",
            f"{d['difference']:+.3f}",
            f"[{d['low']:+.3f}, {d['high']:+.3f}]",
            f"{d['share_better']:.0%}",
            d["verdict"],
        ]
        for d in comparison.difference_rows()
    ]
    return (
        "<h2>Comparison</h2>"
        f'<p class="muted">Macro-F1 with {result.confidence:.0%} paired bootstrap intervals ({result.resamples:,} '
        f"resamples of the same test samples, seed {result.seed}). A difference whose interval contains 0 is not "
        "clear: do not read much into it.</p>"
        + comparison_svg(comparison)
        + _table(header, rows)
        + _table(["language", "compared", "difference in macro-F1", "interval", "resamples better", "verdict"], diffs)
    )


def _per_label(group: dict[str, Any]) -> str:
    rows = [
        [label, _f(s["precision"]), _f(s["recall"]), _f(s["f1"]), s["support"]]
        for label, s in group["per_label"].items()
    ]
    return _table(["label", "precision", "recall", "F1", "support"], rows)


def _evaluation_section(evaluation: Evaluation) -> str:
    metrics = evaluation.metrics
    overall = metrics[OVERALL]
    rows = [
        [
            f"{language_name(code)} ({code})",
            metrics[code]["n"],
            _f(metrics[code]["accuracy"]),
            _f(metrics[code]["macro_f1"]),
            metrics[code]["unparsed"],
        ]
        for code in evaluation.languages
    ]
    rows.append(
        ["all languages (pooled)", overall["n"], _f(overall["accuracy"]), _f(overall["macro_f1"]), overall["unparsed"]]
    )
    parts = [
        f"<h2>{escape(evaluation.title)}</h2>",
        f'<p class="muted">{evaluation.test_size:,} human test samples · test set {escape(evaluation.test_hash[:12])} '
        f"· evaluated {evaluation.created_at:%Y-%m-%d %H:%M} by {escape(evaluation.created_by)} · mean macro-F1 over "
        f"languages <b>{_f(evaluation.mean_macro_f1)}</b></p>",
        _table(["language", "test samples", "accuracy", "macro-F1", "without a usable label"], rows),
        '<div class="matrices">',
    ]
    for code in evaluation.languages:
        title = f"{language_name(code)} ({code})"
        parts.append(f'<div class="matrix"><h3>{escape(title)}</h3>{matrix_svg(metrics[code], title)}')
        parts.append(f"<details><summary>per label</summary>{_per_label(metrics[code])}</details></div>")
    parts.append("</div>")
    return "".join(parts)


def render_report(
    project_name: str,
    evaluations: Sequence[Evaluation],
    comparison: Comparison | None = None,
    *,
    generated_by: str = "",
    generated_at: datetime | None = None,
) -> str:
    """The whole report as one HTML string."""
    when = (generated_at or datetime.now()).strftime("%Y-%m-%d %H:%M")
    listed = ", ".join(display_name(e) for e in evaluations) or "nothing"
    body = [
        f"<h1>Evaluation report · {escape(project_name)}</h1>",
        f'<p class="muted">Made with Distill Studio on {when}{" by " + escape(generated_by) if generated_by else ""}.'
        f" Evaluations: {escape(listed)}. Scores are on the human test split; macro-F1 is the unweighted mean of the "
        "labels' F1, and the mean over languages counts each language once.</p>",
    ]
    if comparison is not None:
        body.append(_comparison_section(comparison))
    body += [_evaluation_section(e) for e in evaluations]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_POLICY}">'
        f"<title>Evaluation report · {escape(project_name)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def write_report(html: str, out: Path) -> Path:
    """Write atomically (a hidden file beside it, then renamed)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    partial.write_text(html, encoding="utf-8")
    partial.replace(out)
    return out


def report_file_name(project_name: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in project_name).strip("_") or "project"
    return f"evaluation-{stem}.html"
