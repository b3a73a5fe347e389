"""A project's headline numbers: samples by origin and split, per language."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.safe_text import md
from components.studio_state import current_actor
from core.front.actor import Store
from core.front.projects import Project, overview_table, project_totals


def project_summary(store: Store, project: Project) -> None:
    totals = project_totals(current_actor(), project)
    cols = st.columns(5)
    cols[0].metric("Samples", f"{totals.total:,}")
    cols[1].metric("Synthetic", f"{totals.synthetic:,}")
    cols[2].metric("Human", f"{totals.human:,}")
    cols[3].metric("Accepted", f"{totals.accepted:,}")
    cols[4].metric("Languages · labels", f"{len(project.languages)} · {len(project.labels)}")
    if project.task:
        st.caption(md(project.task))
    if totals.total:
        table = pd.DataFrame(overview_table(current_actor(), project))
        st.dataframe(table, hide_index=True, width="stretch")
