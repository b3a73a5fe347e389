"""The confusion matrix as a grid of square markers (not a heatmap: Streamlit returns no selection for heatmaps).

Each cell is a marker with its count written on it and the row rate on hover (colour is never the only cue);
clicking a cell picks it, and a (true, predicted) picker beside the chart does the same from the keyboard.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st

from components.safe_text import plot_text
from core.front.evaluation import NO_ANSWER, LanguageScores, MatrixCell, matrix_cells

CELL_PX = 56  # one cell, in pixels (markers are sized in pixels, so the figure's size follows the matrix)
CHAR_PX = 7.5  # rough width of a character of the tick labels
_RIGHT, _BOTTOM = 16, 40
DIAGONAL_RGB = (33, 102, 172)  # blue: right
ERROR_RGB = (178, 24, 43)  # red: wrong
EMPTY = "#f1f4f8"


def cell_colour(cell: MatrixCell) -> str:
    """Blue on the diagonal, red off it, darker with a higher row rate; an empty cell is pale grey."""
    if cell.count == 0:
        return EMPTY
    base = DIAGONAL_RGB if cell.correct else ERROR_RGB
    strength = 0.15 + 0.85 * max(0.0, min(1.0, cell.rate))
    r, g, b = (round(255 - (255 - c) * strength) for c in base)
    return f"rgb({r},{g},{b})"


def ink(cell: MatrixCell) -> str:
    """The colour of the number: white on dark cells, muted on empty ones."""
    if cell.count == 0:
        return "#9aa5b1"
    return "#ffffff" if cell.rate > 0.5 else "#1f2933"


def matrix_columns(cells: Sequence[MatrixCell]) -> list[str]:
    """The predicted labels, in column order (the last one may be NO_ANSWER)."""
    return [name for _, name in sorted({(c.column, c.predicted) for c in cells})]


def cell_text(cell: MatrixCell, show: str = "counts") -> str:
    return f"{cell.rate:.0%}" if show == "rates" else cell.text


def confusion_figure(
    scores: LanguageScores, *, picked: tuple[str, str] | None = None, title: str = "", show: str = "counts"
) -> go.Figure:
    """Rows = true labels, columns = predicted labels; one square marker per cell (in `matrix_cells` order) with its
    count (or its row rate, `show="rates"`) written on it as an annotation, "true X → predicted Y: n of m (r%)" on
    hover, and its (true, predicted) pair as customdata for a click; the picked cell has a frame."""
    cells = matrix_cells(scores)
    rows = list(scores.labels)
    columns = matrix_columns(cells)
    longest_row = max(len(label) for label in [*rows, "true"])
    longest_column = max(len(label) for label in [*columns, "predicted"])
    tilted = CHAR_PX * longest_column  # column names are tilted by 30 degrees: sin 30 = 0.5, cos 30 ~ 0.87
    left = int(36 + CHAR_PX * longest_row)
    top = int(44 + 0.5 * tilted) + (28 if title else 0)
    right = int(max(_RIGHT, 0.87 * tilted - CELL_PX / 2 + 8))
    width = left + CELL_PX * len(columns) + right
    height = top + CELL_PX * len(rows) + _BOTTOM
    frame = [(c.true, c.predicted) == picked for c in cells]
    figure = go.Figure(
        go.Scatter(
            x=[c.column for c in cells],
            y=[c.row for c in cells],
            mode="markers",
            marker={
                "symbol": "square",
                "size": CELL_PX - 4,
                "color": [cell_colour(c) for c in cells],
                "line": {
                    "width": [4 if f else 1 for f in frame],
                    "color": ["#111827" if f else "#d9e2ec" for f in frame],
                },
            },
            hovertext=[plot_text(c.hover) for c in cells],
            hovertemplate="%{hovertext}<extra></extra>",
            customdata=[[c.true, c.predicted] for c in cells],
            selected={"marker": {"opacity": 1.0}},
            unselected={"marker": {"opacity": 1.0}},
            showlegend=False,
        )
    )
    axis = {
        "showgrid": False,
        "zeroline": False,
        "fixedrange": True,
        "showline": False,
        "ticks": "",
        "ticklabeloverflow": "allow",
        "tickfont": {"size": 13, "color": "#1f2933"},
    }
    figure.update_layout(
        title={"text": plot_text(title), "x": 0, "xanchor": "left", "font": {"size": 15}} if title else None,
        width=width,
        height=height,
        margin={"l": left, "r": right, "t": top, "b": _BOTTOM, "autoexpand": False},
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        clickmode="event+select",
        dragmode=False,
        # the numbers are annotations, not the trace's text: plotly fades the text of unselected points after a click
        annotations=[
            {
                "x": c.column,
                "y": c.row,
                "text": cell_text(c, show),
                "showarrow": False,
                "font": {"size": 14, "color": ink(c)},
            }
            for c in cells
        ],
        hoverlabel={"bgcolor": "#ffffff", "font": {"size": 13}},
        xaxis={
            **axis,
            "side": "top",
            "tickmode": "array",
            "tickvals": list(range(len(columns))),
            "ticktext": [plot_text(c) for c in columns],
            "tickangle": -30,
            "range": [-0.5, len(columns) - 0.5],
            "title": {"text": "predicted", "standoff": 6},
        },
        yaxis={
            **axis,
            "tickmode": "array",
            "tickvals": list(range(len(rows))),
            "ticktext": [plot_text(r) for r in rows],
            "range": [len(rows) - 0.5, -0.5],
            "title": {"text": "true", "standoff": 6},
        },
    )
    return figure


def _pick_from_chart(chart_key: str, true_key: str, predicted_key: str) -> None:
    """on_select: a clicked marker carries its (true, predicted) pair; put it into the picker."""
    state = st.session_state.get(chart_key) or {}
    points = (state.get("selection") or {}).get("points") or []
    for point in points:
        custom = point.get("customdata")
        if custom and len(custom) == 2:
            st.session_state[true_key], st.session_state[predicted_key] = str(custom[0]), str(custom[1])
            return


def confusion_matrix(
    scores: LanguageScores, *, key: str, default: tuple[str, str] | None = None, title: str = ""
) -> tuple[str, str]:
    """Draw the matrix with its cell picker; return the picked (true label, predicted label or NO_ANSWER)."""
    cells = matrix_cells(scores)
    rows, columns = list(scores.labels), matrix_columns(cells)
    true_key, predicted_key = f"{key}_true", f"{key}_predicted"
    first = default or (rows[0], rows[0])
    if st.session_state.get(true_key) not in rows:
        st.session_state[true_key] = first[0] if first[0] in rows else rows[0]
    if st.session_state.get(predicted_key) not in columns:
        st.session_state[predicted_key] = first[1] if first[1] in columns else columns[0]
    chart, side = st.columns([3, 2], gap="large")
    with side:
        st.markdown("**Pick a cell** — click it in the matrix, or choose here:")
        true = st.selectbox("True label", rows, key=true_key)
        predicted = st.selectbox(
            "Predicted as",
            columns,
            key=predicted_key,
            format_func=lambda c: f"{c} (right)" if c == true else c,
            help=(
                f"'{NO_ANSWER}': no label of the project (an LLM's answer that named none or several, or a predicted "
                "label the project does not have)."
            )
            if NO_ANSWER in columns
            else None,
        )
        show = st.segmented_control(
            "The cells show",
            ["counts", "rates"],
            default="counts",
            key=f"{key}_show",
            format_func=lambda s: "test samples" if s == "counts" else "% of the true label",
        )
        st.caption("Rows: the true label · columns: what the model said · hover a cell for its rate.")
    # a new chart per picked cell: plotly's own selection (which fades every other cell) never outlives the rerun
    chart_key = f"{key}_chart_{rows.index(true)}_{columns.index(predicted)}"
    with chart:
        st.plotly_chart(
            confusion_figure(scores, picked=(true, predicted), title=title, show=show or "counts"),
            key=chart_key,
            on_select=lambda: _pick_from_chart(chart_key, true_key, predicted_key),
            selection_mode="points",
            width="content",
            config={"displayModeBar": False},
        )
    return true, predicted
