"""The training set to come (accepted samples per language x label) and what the checks found."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.curation_charts import count_heatmap
from components.safe_text import say
from components.studio_state import current_actor
from core.front.actor import Store
from core.front.curation import DiversityRow, accepted_matrix, check_findings, flag_counts
from core.front.projects import Project
from core.language_names import language_name

FLAG_NAMES = {
    "exact_duplicate": "exact repeat",
    "near_duplicate": "near repeat",
    "label_conflict": "label conflict",
    "test_contamination": "close to (or a translation of) a test sample",
    "label_doubt": "label in doubt",
    "model_uncertain": "the model is unsure (label these first)",
    "wrong_language": "wrong language",
    "too_short": "too short",
    "too_long": "too long",
    "label_leak": "label name in the text",
    "empty_after_cleaning": "empty after cleaning",
    "not_text": "not really text",
    "multi_line": "several lines",
    "not_a_message": "not a message",
}


def curation_overview(store: Store, project: Project) -> None:
    matrix = accepted_matrix(current_actor(), project)
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**Accepted training samples: {matrix.total:,}** (language × label)")
        st.plotly_chart(count_heatmap(matrix), width="stretch")
        weakest = matrix.weakest()
        if weakest is not None and len({n for row in matrix.counts for n in row}) > 1:
            lang, label, n = weakest
            st.caption(
                say(
                    "Fewest: {} in {} ({}). Generate or accept more there to balance the training set.",
                    label,
                    language_name(lang),
                    n,
                )
            )
    with right:
        counts = flag_counts(current_actor(), project)
        st.markdown("**Flags on samples not rejected**")
        if counts:
            frame = pd.DataFrame(
                [{"flag": FLAG_NAMES.get(kind, kind), "samples": n} for kind, n in counts.items()],
                columns=["flag", "samples"],
            )
            st.dataframe(frame, hide_index=True, width="stretch")
        else:
            st.caption("No flags yet: run **Check samples**.")
    diversity_panel(store, project)


VERDICT_COLOURS = {"collapsed": "background-color: #f8d7da", "watch": "background-color: #fff3cd"}


def _figure(value: float | None, digits: int) -> str:
    """A figure as text, a dash where a cell has too few samples for it (a table shows a missing value as 'None')."""
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def diversity_frame(rows: list[DiversityRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "language": language_name(row.language),
                "label": row.label,
                "samples": row.n,
                "mean similarity": _figure(row.mean_similarity, 3),
                "distinct-2": _figure(row.distinct_2, 2),
                "groups": row.groups,
                "verdict": row.collapse.replace("_", " "),
                "why": " ".join(row.reasons),
            }
            for row in rows
        ],
        columns=["language", "label", "samples", "mean similarity", "distinct-2", "groups", "verdict", "why"],
    )


def diversity_panel(store: Store, project: Project) -> None:
    check = check_findings(current_actor(), project)
    st.markdown("**Diversity of the synthetic training samples** (label × language, worst first)")
    if check is None or not check.diversity:
        st.caption("Run **Check samples** to measure it.")
        return
    frame = diversity_frame(check.diversity)
    styled = frame.style.apply(lambda row: [VERDICT_COLOURS.get(row["verdict"], "")] * len(row), axis=1)
    st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.TextColumn(name, alignment="right") for name in ("mean similarity", "distinct-2")
        },
    )
    st.caption(
        "Mean similarity: how alike the samples of a cell are (higher = more alike). Distinct-2: the share of "
        "different subword pairs (lower = more repetition). Groups: near-duplicate groups at the threshold; far "
        f"fewer groups than samples means the LLM repeated itself. From check job #{check.job_id}."
    )
