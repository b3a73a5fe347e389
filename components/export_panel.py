"""Exporting a project's samples as a download."""

from __future__ import annotations

import streamlit as st

from components.feedback import friendly_errors
from components.safe_text import md
from core.io.exporter import export_download
from core.store.database import Store
from core.store.projects import Project
from core.store.samples import SampleFilter, count_samples
from core.store.schema import SAMPLE_STATUSES

FORMAT_NAMES = {
    "csv": "CSV (opens in spreadsheets; formula-like cells are escaped)",
    "jsonl": "JSONL (one JSON object per line)",
    "parquet": "Parquet",
    "hf": "Hugging Face dataset (train/test DatasetDict, zipped)",
}


def export_panel(store: Store, project: Project) -> None:
    fmt = st.selectbox("Format", list(FORMAT_NAMES), format_func=FORMAT_NAMES.get, key=f"export_fmt_{project.id}")
    statuses = st.multiselect(
        "Only samples with status", SAMPLE_STATUSES, key=f"export_status_{project.id}", placeholder="All statuses"
    )
    flt = SampleFilter(statuses=tuple(statuses))
    count = count_samples(store, project.id, flt)
    st.caption(f"{count:,} samples, with their split, origin, status, flags and provenance.")
    prepared_key = f"export_file_{project.id}"
    if st.button("Prepare the file", disabled=count == 0, key=f"export_go_{project.id}"):
        with friendly_errors("Exporting"), st.spinner("Writing the export…"):
            st.session_state[prepared_key] = (fmt, tuple(statuses), *export_download(store, project.id, fmt, flt))
    prepared = st.session_state.get(prepared_key)
    if prepared and prepared[:2] == (fmt, tuple(statuses)):
        _, _, name, data = prepared
        st.download_button(
            f"Download {md(name)} ({len(data) / 1e6:.1f} MB)",
            data,
            file_name=name,
            type="primary",
            key=f"export_dl_{project.id}",
        )
