"""Browsing a project's samples: filters and paging done in SQL, one page rendered."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.language_names import language_name
from core.store.database import Store
from core.store.projects import Project
from core.store.samples import Sample, SampleFilter, SamplePage, flag_kinds, page_samples
from core.store.schema import SAMPLE_ORIGINS, SAMPLE_SPLITS, SAMPLE_STATUSES

PAGE_SIZES = (25, 50, 100, 200)
NO_LABEL = "(no label)"


@dataclass(frozen=True)
class BrowseState:
    flt: SampleFilter
    page: SamplePage
    selected: list[Sample]  # rows picked in the table (selectable browsers only)


def sample_filters(store: Store, project: Project, key: str) -> tuple[SampleFilter, int]:
    """Filter widgets (language, label, split, origin, status, text, flag) and the page size."""
    row1 = st.columns([2, 2, 1, 1, 1.4])
    languages = row1[0].multiselect(
        "Language", project.language_codes, format_func=language_name, key=f"{key}_lang", placeholder="All languages"
    )
    labels = row1[1].multiselect(
        "Label", [*project.label_names, NO_LABEL], key=f"{key}_label", placeholder="All labels"
    )
    splits = row1[2].multiselect("Split", SAMPLE_SPLITS, key=f"{key}_split", placeholder="All")
    origins = row1[3].multiselect("Origin", SAMPLE_ORIGINS, key=f"{key}_origin", placeholder="All")
    statuses = row1[4].multiselect("Status", SAMPLE_STATUSES, key=f"{key}_status", placeholder="All")
    row2 = st.columns([4, 2, 1])
    search = row2[0].text_input("Search text", key=f"{key}_search", placeholder="Words the text contains")
    flags = row2[1].multiselect(
        "Flag",
        ["none", "any", *flag_kinds(store, project.id)],
        key=f"{key}_flag",
        placeholder="Any",
        help="'none': samples without any flag; 'any': samples with at least one",
    )
    page_size = row2[2].selectbox("Per page", PAGE_SIZES, index=1, key=f"{key}_size")
    flt = SampleFilter(
        languages=tuple(languages),
        labels=tuple("" if x == NO_LABEL else x for x in labels),
        splits=tuple(splits),
        origins=tuple(origins),
        statuses=tuple(statuses),
        flags=tuple(flags),
        search=search,
    )
    return flt, int(page_size)


def _page_number(key: str, signature: tuple) -> int:
    """The current page; back to 1 whenever the filters change."""
    if st.session_state.get(f"{key}_signature") != signature:
        st.session_state[f"{key}_signature"] = signature
        st.session_state[f"{key}_page"] = 1
    return int(st.session_state.get(f"{key}_page", 1))


def _step(key: str, delta: int, pages: int) -> None:
    st.session_state[f"{key}_page"] = max(1, min(pages, int(st.session_state.get(f"{key}_page", 1)) + delta))


def page_frame(page: SamplePage) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": s.id,
                "text": s.text,
                "label": s.label or "",
                "language": s.language,
                "split": s.split,
                "origin": s.origin,
                "status": s.status,
                "flags": "; ".join(f"{f.kind}: {f.reason}" if f.reason else f.kind for f in s.flags),
                "source": s.source,
                "changed": f"{s.updated_at:%Y-%m-%d %H:%M} by {s.updated_by}",
            }
            for s in page.samples
        ],
        columns=["id", "text", "label", "language", "split", "origin", "status", "flags", "source", "changed"],
    )


def sample_browser(
    store: Store, project: Project, *, key_prefix: str = "browse", selectable: bool = False
) -> BrowseState | None:
    """Filters, paging and one page of samples; with `selectable`, rows can be picked (for bulk actions)."""
    key = f"{key_prefix}_{project.id}"
    flt, page_size = sample_filters(store, project, key)
    page_number = _page_number(key, (flt, page_size))
    page = page_samples(store, project.id, flt, page=page_number, page_size=page_size)
    if page.total == 0:
        if flt == SampleFilter():
            st.info(
                "No samples yet. Import a file in the **Import** tab (CSV, TSV, JSONL, Parquet or a "
                "Hugging Face dataset), or load the demo project on the Projects page."
            )
        else:
            st.info("No sample matches these filters.")
        return None
    first = (page.page - 1) * page.page_size + 1
    last = first + len(page.samples) - 1
    nav = st.columns([1, 1, 6])
    nav[0].button("← Previous", key=f"{key}_prev", disabled=page.page <= 1, on_click=_step, args=(key, -1, page.pages))
    nav[1].button(
        "Next →", key=f"{key}_next", disabled=page.page >= page.pages, on_click=_step, args=(key, 1, page.pages)
    )
    nav[2].markdown(f"Samples **{first:,}–{last:,}** of **{page.total:,}** · page {page.page:,} of {page.pages:,}")
    event = st.dataframe(
        page_frame(page),
        key=f"{key}_table_{page.page}_{hash(flt)}" if selectable else None,
        on_select="rerun" if selectable else "ignore",
        selection_mode="multi-row",
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(page.samples), 740),
        column_config={
            "id": st.column_config.NumberColumn("id", width="small", format="%d"),
            "text": st.column_config.TextColumn("text", width="large"),
            "flags": st.column_config.TextColumn("flags", width="medium"),
        },
    )
    rows = event.selection.rows if selectable else []  # type: ignore[union-attr]
    return BrowseState(flt=flt, page=page, selected=[page.samples[r] for r in rows if r < len(page.samples)])
