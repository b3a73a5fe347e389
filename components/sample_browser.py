"""Browsing a project's samples: filters and paging done in SQL, one page rendered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from components.curation_overview import FLAG_NAMES
from components.kept_widgets import kept, set_kept
from components.people import namer
from components.safe_text import say, show_text
from components.studio_state import current_actor
from core.front.actor import Store
from core.front.data import (
    SAMPLE_ORIGINS,
    SAMPLE_SPLITS,
    SAMPLE_STATUSES,
    Sample,
    SampleFilter,
    SampleWindow,
    browse_page,
    flag_kinds,
)
from core.front.projects import Project
from core.language_names import language_name

PAGE_SIZES = (25, 50, 100, 200)
NO_LABEL = "(no label)"


@dataclass(frozen=True)
class BrowseState:
    flt: SampleFilter
    page: SampleWindow
    selected: list[Sample]  # rows picked in the table (selectable browsers only)


FILTER_KEYS = ("lang", "label", "split", "origin", "status", "search", "flag")  # widget key suffixes


def filter_key(key: str, name: str) -> str:
    """The session key of one filter widget of the browser `key` (see FILTER_KEYS)."""
    return f"{key}_{name}"


def show_flag(key: str, kind: str) -> None:
    """Set the browser `key` to the samples carrying one flag kind, every other filter cleared (a callback)."""
    for name in FILTER_KEYS:
        set_kept(filter_key(key, name), "" if name == "search" else [])
    set_kept(filter_key(key, "flag"), [kind])


def sample_filters(store: Store, project: Project, key: str) -> tuple[SampleFilter, int]:
    """Filter widgets (language, label, split, origin, status, text, flag) and the page size."""
    row1 = st.columns([2, 2, 1, 1, 1.4])
    label_options = [*project.label_names, NO_LABEL]
    languages = row1[0].multiselect(
        "Language",
        project.language_codes,
        format_func=language_name,
        placeholder="All languages",
        **kept(filter_key(key, "lang"), options=project.language_codes),
    )
    labels = row1[1].multiselect(
        "Label", label_options, placeholder="All labels", **kept(filter_key(key, "label"), options=label_options)
    )
    splits = row1[2].multiselect("Split", SAMPLE_SPLITS, placeholder="All", **kept(filter_key(key, "split")))
    origins = row1[3].multiselect("Origin", SAMPLE_ORIGINS, placeholder="All", **kept(filter_key(key, "origin")))
    statuses = row1[4].multiselect("Status", SAMPLE_STATUSES, placeholder="All", **kept(filter_key(key, "status")))
    row2 = st.columns([4, 2, 1])
    search = row2[0].text_input("Search text", placeholder="Words the text contains", **kept(filter_key(key, "search")))
    flag_options = ["none", "any", *flag_kinds(current_actor(), project)]
    flags = row2[1].multiselect(
        "Flag",
        flag_options,
        format_func=lambda kind: FLAG_NAMES.get(kind, kind),
        placeholder="Any",
        help="'none': samples without any flag; 'any': samples with at least one",
        **kept(filter_key(key, "flag"), options=flag_options),
    )
    page_size = row2[2].selectbox("Per page", PAGE_SIZES, **kept(f"{key}_size", PAGE_SIZES[1], options=PAGE_SIZES))
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


def _anchor(key: str, signature: tuple) -> tuple[str, int] | None:
    """Where the shown page starts: ("after", id) or ("before", id) of the page left by Next or Previous; None
    (the first page) whenever the filters change."""
    if st.session_state.get(f"{key}_signature") != signature:
        st.session_state[f"{key}_signature"] = signature
        st.session_state.pop(f"{key}_anchor", None)
    return st.session_state.get(f"{key}_anchor")


def _step(key: str, anchor: tuple[str, int]) -> None:
    st.session_state[f"{key}_anchor"] = anchor


def _flag_words(kind: str, reason: str) -> str:
    name = FLAG_NAMES.get(kind, kind)
    return f"{name}: {reason}" if reason else name


def page_frame(page: SampleWindow, person: Callable[[str], str] = str) -> pd.DataFrame:
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
                "flags": "; ".join(_flag_words(f.kind, f.reason) for f in s.flags),
                "source": s.source or "",
                "changed": f"{s.updated_at:%Y-%m-%d %H:%M} by {person(s.updated_by)}",
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
    anchor = _anchor(key, (flt, page_size))
    after, before = (anchor[1], None) if anchor and anchor[0] == "after" else (None, anchor[1] if anchor else None)
    page = browse_page(current_actor(), project, flt, after=after, before=before, page_size=page_size)
    if page.total == 0:
        if flt == SampleFilter():
            st.info(
                "No samples yet. Import a file in the **Import** tab (CSV, TSV, JSONL, Parquet or a "
                "Hugging Face dataset), or load the demo project on the Projects page."
            )
        else:
            st.info("No sample matches these filters.")
        return None
    nav = st.columns([1, 1, 6])
    previous, following = ("before", page.samples[0].id), ("after", page.samples[-1].id)
    nav[0].button("← Previous", key=f"{key}_prev", disabled=not page.has_previous, on_click=_step, args=(key, previous))
    nav[1].button("Next →", key=f"{key}_next", disabled=not page.has_next, on_click=_step, args=(key, following))
    nav[2].markdown(
        f"Samples **{page.first:,}–{page.last:,}** of **{page.total:,}** · page {page.page:,} of {page.pages:,}"
    )
    event = st.dataframe(
        page_frame(page, namer()),
        key=f"{key}_table_{page.samples[0].id}_{hash(flt)}" if selectable else None,
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
    selected = [page.samples[r] for r in rows if r < len(page.samples)]
    full_texts(page, selected, f"{key}_read_{page.samples[0].id}_{hash(flt)}", tick_hint=selectable)
    return BrowseState(flt=flt, page=page, selected=selected)


MAX_OPEN = 5  # selected rows whose full text is shown under the table


def _preview(text: str, width: int = 70) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def full_texts(page: SampleWindow, selected: list[Sample], key: str, *, tick_hint: bool = False) -> None:
    """Under the table, where a cell cuts a long text: the whole text of a sample picked here, or of the rows
    ticked in the table."""
    by_id = {s.id: s for s in page.samples}
    picked = st.selectbox(
        "Read a sample in full",
        list(by_id),
        index=None,
        format_func=lambda i: f"#{i} · {_preview(by_id[i].text)}",
        placeholder="Pick a sample of this page" + (" (or tick its row in the table)" if tick_hint else ""),
        key=key,
    )
    shown = [by_id[picked]] if picked is not None else []
    shown += [s for s in selected if s.id != picked]
    for sample in shown[:MAX_OPEN]:
        with st.container(border=True):
            st.caption(
                say(
                    "Sample \\#{} · {} · label {} · {} · {}",
                    sample.id,
                    language_name(sample.language),
                    sample.label or "(none)",
                    sample.status,
                    sample.split,
                )
            )
            show_text(sample.text)
            for flag in sample.flags:
                st.caption(say("{}: {}", FLAG_NAMES.get(flag.kind, flag.kind), flag.reason or ""))
    if len(shown) > MAX_OPEN:
        st.caption(f"{len(shown) - MAX_OPEN:,} more ticked rows are not shown: tick fewer to read them here.")
