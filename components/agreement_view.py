"""Agreement between a project's annotators (the Team page, for leads and owners): Krippendorff's alpha over all with
its bootstrap interval and the number of items behind it, Cohen's kappa for each pair of annotators as a heatmap and
a table, the same per language and per label, each annotator's agreement with what the review decided, their
throughput and, when the project has gold checks, their accuracy on them. The figures are core's
(`core.front.review.agreement`: sklearn and the krippendorff package); this only draws them."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.people import namer
from components.safe_text import plot_text, say
from core.front.actor import Actor
from core.front.projects import Project
from core.front.review import AgreementReport, Figure, GroupAgreement, agreement, get_review_settings
from core.language_names import language_name

DIGITS = 3  # figures are shown to three decimals
TEAM_TAB = "team_tab"  # the key of the Team page's tabs (for owners): the Agreement tab runs only while open


def shown(value: float | None) -> str:
    """A figure as the page shows it (three decimals), or a dash when there is none."""
    return "–" if value is None else f"{value:.{DIGITS}f}"


def _interval(figure: Figure) -> str:
    if figure.low is None or figure.high is None:
        return "no interval (too few items)"
    return f"{shown(figure.low)} to {shown(figure.high)}"


def kappa_heatmap(group: GroupAgreement, person: Callable[[str], str]) -> go.Figure:
    """Annotator x annotator Cohen's kappa, the value written in every cell (blank where a pair shares no item)."""
    names = sorted({name for pair in group.pairs for name in (pair.a, pair.b)})
    where = {name: i for i, name in enumerate(names)}
    size = len(names)
    z: list[list[float | None]] = [[None] * size for _ in range(size)]
    text = [[""] * size for _ in range(size)]
    items = [[0] * size for _ in range(size)]
    for pair in group.pairs:
        i, j = where[pair.a], where[pair.b]
        for row, column in ((i, j), (j, i)):
            z[row][column] = pair.kappa.value
            text[row][column] = shown(pair.kappa.value)
            items[row][column] = pair.kappa.n_items
    labels = [plot_text(person(name)) for name in names]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=labels,
            text=text,
            customdata=items,
            texttemplate="%{text}",
            textfont={"size": 14},
            colorscale="RdBu",
            zmin=-1,
            zmax=1,
            hoverongaps=False,
            hovertemplate="%{y} · %{x}: kappa %{text} over %{customdata} items<extra></extra>",
            colorbar={"title": {"text": "kappa"}},
        )
    )
    figure.update_layout(
        height=120 + 50 * size,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"autorange": "reversed"},
        xaxis={"side": "top"},
    )
    return figure


def _pairs_table(group: GroupAgreement, person: Callable[[str], str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "annotator": person(pair.a),
                "with": person(pair.b),
                "kappa": pair.kappa.value,
                "95% interval": _interval(pair.kappa),
                "items": pair.kappa.n_items,
            }
            for pair in group.pairs
        ],
        columns=["annotator", "with", "kappa", "95% interval", "items"],
    )


def _groups_table(groups: dict[str, GroupAgreement], name: str, words: Callable[[str], str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                name: words(key),
                "alpha": group.alpha.value,
                "95% interval": _interval(group.alpha),
                "items": group.alpha.n_items,
                "judgements": group.n_judgements,
                "pairs": len(group.pairs),
                "lowest pair kappa": min(
                    (p.kappa.value for p in group.pairs if p.kappa.value is not None), default=None
                ),
            }
            for key, group in groups.items()
        ],
        columns=[name, "alpha", "95% interval", "items", "judgements", "pairs", "lowest pair kappa"],
    )


FIGURE_FORMAT = {
    "kappa": st.column_config.NumberColumn(format="%.3f"),
    "alpha": st.column_config.NumberColumn(format="%.3f"),
    "lowest pair kappa": st.column_config.NumberColumn(format="%.3f"),
}


def _annotators_table(report: AgreementReport, person: Callable[[str], str], gold: bool) -> None:
    rows = []
    for figures in report.annotators:
        row: dict[str, object] = {
            "annotator": person(figures.annotator),
            "judgements": figures.judgements,
            "agrees with the decision": figures.agreement_with_resolved,
            "decided samples": figures.n_resolved,
            "judgements per hour": figures.judgements_per_hour,
            "median seconds per sample": figures.median_seconds,
        }
        if gold:
            row["gold accuracy"] = figures.gold_accuracy
            row["gold checks"] = figures.n_gold
        rows.append(row)
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "agrees with the decision": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
            "judgements per hour": st.column_config.NumberColumn(format="%.0f"),
            "median seconds per sample": st.column_config.NumberColumn(format="%.1f"),
            "gold accuracy": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        },
    )


def agreement_section(actor: Actor, project: Project | None) -> None:
    """The agreement of the current project's annotators (no widget: the project is the one picked in the sidebar)."""
    if project is None:
        st.info("Pick a project in the sidebar to see how far its annotators agree.", icon=":material/folder_open:")
        return
    with st.spinner("Computing the agreement…"):
        report = agreement(actor, project)
    overall = report.overall
    if not overall.n_judgements:
        st.info(
            say(
                "Nobody has judged a sample of '{}' yet: hand out samples on the Curate page (Assign tab); the "
                "agreement between the annotators shows here as they judge them.",
                project.name,
            ),
            icon=":material/groups:",
        )
        return
    person = namer()
    st.caption(
        say("Project '{}': ", project.name)
        + f"{overall.n_judgements:,} judgements. A judgement counts as what it says of the sample: rejected, or the "
        f"label it gives. Intervals: 95%, from {report.resamples:,} bootstrap resamples of the items."
    )
    alpha, items, pairs = st.columns(3)
    alpha.metric(
        "Krippendorff's alpha (nominal)",
        shown(overall.alpha.value),
        help="1: full agreement; 0: no better than chance. Over the samples judged by two annotators or more.",
    )
    alpha.caption(_interval(overall.alpha))
    items.metric("Samples behind it", f"{overall.alpha.n_items:,}")
    pairs.metric("Annotator pairs", f"{len(overall.pairs):,}")
    if overall.pairs:
        st.markdown("**Cohen's kappa for each pair of annotators**")
        with st.container(key="agreement_kappa_heatmap"):
            st.plotly_chart(kappa_heatmap(overall, person), width="stretch", config={"displayModeBar": False})
        st.dataframe(_pairs_table(overall, person), hide_index=True, width="stretch", column_config=FIGURE_FORMAT)
    else:
        st.caption("No two annotators have judged the same sample yet: no kappa.")
    st.markdown("**Per language**")
    st.dataframe(
        _groups_table(report.per_language, "language", lambda code: f"{language_name(code)} ({code})"),
        hide_index=True,
        width="stretch",
        column_config=FIGURE_FORMAT,
    )
    st.markdown("**Per label** (the label a sample had when it was judged)")
    st.dataframe(
        _groups_table(report.per_label, "label", str), hide_index=True, width="stretch", column_config=FIGURE_FORMAT
    )
    st.markdown("**Each annotator**")
    gold = get_review_settings(actor, project).gold or any(f.n_gold for f in report.annotators)
    _annotators_table(report, person, gold)
    st.caption(
        "Agrees with the decision: the share of their judgements that match what the rule or a lead decided. "
        "Throughput counts the judgements whose time was measured."
        + (" Gold accuracy: their answers on the gold checks mixed into their queues." if gold else "")
    )
