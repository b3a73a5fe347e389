"""Exporting a project's samples as a download: one click writes the file and downloads it."""

from __future__ import annotations

import streamlit as st

from components.safe_text import md
from components.studio_state import current_actor
from core.front.actor import Store
from core.front.data import SAMPLE_STATUSES, SampleFilter, count_samples, export_download, export_file_name
from core.front.projects import Project

FORMAT_NAMES = {
    "csv": "CSV (opens in spreadsheets; formula-like cells are escaped)",
    "jsonl": "JSONL (one JSON object per line)",
    "parquet": "Parquet",
    "hf": "Hugging Face dataset (train/test DatasetDict, zipped)",
}
MIME_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson", "parquet": "application/octet-stream",
              "hf": "application/zip"}  # fmt: skip


def export_panel(store: Store, project: Project) -> None:
    fmt = st.selectbox("Format", list(FORMAT_NAMES), format_func=FORMAT_NAMES.get, key=f"export_fmt_{project.id}")
    statuses = st.multiselect(
        "Only samples with status", SAMPLE_STATUSES, key=f"export_status_{project.id}", placeholder="All statuses"
    )
    flt = SampleFilter(statuses=tuple(statuses))
    count = count_samples(current_actor(), project, flt)
    st.caption(f"{count:,} samples, with their split, origin, status, flags and provenance.")
    name = export_file_name(project.name, fmt)

    def write_file() -> bytes:  # when the button is clicked (in a thread of the server, not in this script run)
        return export_download(current_actor(), project, fmt, flt)[1]

    st.download_button(
        md(f"Download {name}"),
        write_file,
        file_name=name,
        mime=MIME_TYPES[fmt],
        type="primary",
        icon=":material/download:",
        disabled=count == 0,
        key=f"export_dl_{project.id}",
        on_click="ignore",  # the download needs no rerun of the page
        help="One click writes the file and downloads it.",
    )
