"""Plotly figures of the curation page, built from core figures (tests check what they show)."""

from __future__ import annotations

import plotly.graph_objects as go

from components.safe_text import plot_text
from core.front.curation import CountMatrix, SimilarityProfile
from core.language_names import language_name


def similarity_histogram(profile: SimilarityProfile, threshold: float) -> go.Figure:
    """How similar each sample is to its nearest neighbour, with the threshold as a line: bars right of it would
    be flagged."""
    similarities = profile.similarities
    figure = go.Figure(
        go.Histogram(
            x=similarities,
            xbins={"start": min([*similarities, threshold]) - 0.0025, "end": 1.0025, "size": 0.005},
            marker_color="#4c78a8",
            hovertemplate="similarity %{x}<br>%{y} samples<extra></extra>",
        )
    )
    share = profile.share_at_or_above(threshold)
    figure.add_vline(
        x=threshold,
        line_color="#e45756",
        line_width=2,
        annotation_text=f"threshold {threshold:.3f}: {share:.0%} at or above",
        annotation_position="top left",
    )
    figure.update_layout(
        xaxis_title="similarity to the nearest neighbour",
        yaxis_title="samples",
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        bargap=0.05,
    )
    return figure


def count_heatmap(matrix: CountMatrix, title: str = "") -> go.Figure:
    """Languages x labels with the number written in every cell (colour alone is not enough)."""
    languages = [plot_text(f"{language_name(code)} ({code})") for code in matrix.languages]
    figure = go.Figure(
        go.Heatmap(
            z=matrix.counts,
            x=[plot_text(label) for label in matrix.labels],
            y=languages,
            text=[[str(n) for n in row] for row in matrix.counts],
            texttemplate="%{text}",
            textfont={"size": 14},
            colorscale="Blues",
            zmin=0,
            hovertemplate="%{y} · %{x}: %{z} samples<extra></extra>",
            showscale=False,
        )
    )
    figure.update_layout(
        title=plot_text(title) if title else None,
        height=80 + 40 * len(languages),
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        yaxis={"autorange": "reversed"},
        xaxis={"side": "top"},
    )
    return figure
