"""The loop as steps, each with the project's state on it, and the one suggested next step (core.guide decides)."""

from __future__ import annotations

import streamlit as st

from components.safe_text import md
from components.studio_state import current_actor
from core.front.actor import Store
from core.front.projects import LoopStatus, Project, Step, loop_status

ICONS = {"done": ":material/check_circle:", "attention": ":material/pending:", "todo": ":material/circle:"}
COLOURS = {"done": "green", "attention": "orange", "todo": "gray"}
PAGE_NAMES = {
    "pages/data.py": "Data",
    "pages/generate.py": "Generate",
    "pages/curate.py": "Curate",
    "pages/train.py": "Train",
    "pages/evaluate.py": "Evaluate",
}


def loop_guide(store: Store, project: Project) -> LoopStatus:
    status = loop_status(current_actor(), project)
    step = status.next_step
    with st.container(border=True, key="loop_next"):
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.markdown(
            f":{COLOURS[step.state]}[{ICONS[step.state]}] **Next: {md(step.title)}** — "
            + md(step.next_action or step.summary)
        )
        right.page_link(step.page, label=f"Go to {PAGE_NAMES[step.page]}", icon=":material/arrow_forward:")
    columns = st.columns(len(status.steps))
    for number, (column, each) in enumerate(zip(columns, status.steps, strict=True), start=1):
        with column.container(border=True, height="stretch", key=f"loop_step_{each.key}"):
            _step(number, each)
    return status


def _step(number: int, step: Step) -> None:
    st.markdown(f":{COLOURS[step.state]}[{ICONS[step.state]}] **{number}. {md(step.title)}**")
    st.caption(md(step.summary))
    if step.per_language:
        st.caption(md(" · ".join(f"{code} {value}" for code, value in step.per_language.items())))
