"""The training set to come (accepted samples per language x label) and what the checks found."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.curation_charts import count_heatmap
from core.curation.overview import accepted_matrix, flag_counts
from core.language_names import language_name
from core.store.database import Store
from core.store.projects import Project

FLAG_NAMES = {
    "exact_duplicate": "exact repeat",
    "near_duplicate": "near repeat",
    "label_conflict": "label conflict",
    "test_contamination": "close to a test sample",
    "wrong_language": "wrong language",
    "too_short": "too short",
    "too_long": "too long",
    "label_leak": "label name in the text",
    "empty_after_cleaning": "empty after cleaning",
    "not_text": "not really text",
}


def curation_overview(store: Store, project: Project) -> None:
    matrix = accepted_matrix(store, project)
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**Accepted training samples: {matrix.total:,}** (language × label)")
        st.plotly_chart(count_heatmap(matrix), width="stretch")
        weakest = matrix.weakest()
        if weakest is not None and len({n for row in matrix.counts for n in row}) > 1:
            lang, label, n = weakest
            st.caption(
                f"Fewest: {label} in {language_name(lang)} ({n}). Generate or accept more there to balance the "
                "training set."
            )
    with right:
        counts = flag_counts(store, project.id)
        st.markdown("**Flags on samples not rejected**")
        if counts:
            frame = pd.DataFrame(
                [{"flag": FLAG_NAMES.get(kind, kind), "samples": n} for kind, n in counts.items()],
                columns=["flag", "samples"],
            )
            st.dataframe(frame, hide_index=True, width="stretch")
        else:
            st.caption("No flags yet: run **Check samples**.")
