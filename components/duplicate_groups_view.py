"""Near-duplicate groups side by side: the representative that stays, its repeats with their similarity."""

from __future__ import annotations

import streamlit as st

from components.bulk_actions import undo_panel
from components.feedback import flash, friendly_errors
from components.role_gate import may
from components.safe_text import md, show_text
from components.studio_state import current_actor
from core.front.actor import Store
from core.front.curation import REPEAT_KINDS, change_sample, duplicate_groups_page, flag_counts, keep_one_per_group
from core.front.data import SAMPLE_STATUSES, Sample
from core.front.projects import Project
from core.language_names import language_name

PAGE_SIZE = 8


def _describe(sample: Sample) -> str:
    """A caption (Markdown): the label is the user's text, escaped."""
    return md(f"#{sample.id} · {language_name(sample.language)} · {sample.label or 'no label'} · {sample.status}")


def duplicate_groups_view(store: Store, project: Project) -> None:
    key = f"groups_{project.id}"
    page_number = int(st.session_state.get(f"{key}_page", 1))
    page = duplicate_groups_page(current_actor(), project, page=page_number, page_size=PAGE_SIZE)
    if page.total == 0:
        flagged = flag_counts(current_actor(), project, statuses=SAMPLE_STATUSES)
        if any(flagged.get(kind) for kind in REPEAT_KINDS):
            st.info("No group of repeats left to resolve: every flagged repeat is rejected.")
        else:
            st.info(
                "No repeats flagged. Run **Check samples** above to find exact and near duplicates "
                "(the threshold tab helps to choose how close counts as a repeat)."
            )
        undo_panel(store, project, "repeats")
        return
    columns = st.columns([3, 2])
    columns[0].markdown(
        f"**{page.total:,} group{'' if page.total == 1 else 's'}** of repeats. The representative (left) stays; its "
        "repeats (right) add little to training."
    )
    reviewer = may("samples.review")
    columns[1].button(
        "Keep one per group",
        disabled=not may("samples.bulk"),
        type="primary",
        icon=":material/filter_1:",
        help="Reject every repeat nobody accepted; each group's representative stays. You can undo it.",
        key=f"{key}_keep_one",
        on_click=_keep_one,
        args=(store, project),
    )
    undo_panel(store, project, "repeats")
    for group in page.groups:
        with st.container(border=True):
            left, right = st.columns(2)
            left.caption("Stays: " + _describe(group.representative))
            with left:
                show_text(group.representative.text)
            for member in group.members:
                row = right.columns([5, 1])
                kind = "word for word" if member.kind == "exact_duplicate" else f"similarity {member.similarity:.3f}"
                row[0].caption(f"{kind} · {_describe(member.sample)}")
                with row[0]:
                    show_text(member.sample.text)
                row[1].button(
                    "Reject",
                    key=f"{key}_reject_{member.sample.id}",
                    disabled=member.sample.status == "rejected" or not reviewer,
                    on_click=_reject,
                    args=(store, member.sample),
                )
    nav = st.columns([1, 1, 5])
    nav[0].button("← Previous", key=f"{key}_prev", disabled=page.page <= 1, on_click=_turn, args=(key, page.page - 1))
    nav[1].button(
        "Next →", key=f"{key}_next", disabled=page.page >= page.pages, on_click=_turn, args=(key, page.page + 1)
    )
    nav[2].caption(f"page {page.page} of {page.pages}")


def _keep_one(store: Store, project: Project) -> None:
    with friendly_errors("Keeping one per group"):
        flash(keep_one_per_group(current_actor(), project).message)


def _reject(store: Store, sample: Sample) -> None:
    with friendly_errors("Rejecting"):
        change_sample(current_actor(), sample.id, "reject", version=sample.version)


def _turn(key: str, page: int) -> None:
    st.session_state[f"{key}_page"] = page
