"""The import steps: choose a file, map its columns, read the validation and the preview, import."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from components.feedback import flash, friendly_errors
from components.language_picker import language_label
from components.role_gate import may
from components.safe_text import md, say
from components.studio_state import current_actor
from core.front.actor import Actor, Store
from core.front.data import (
    ADD_LABELS_OPTION,
    ADD_LANGUAGES_OPTION,
    PAGE_WORDS,
    ColumnMapping,
    ImportPlan,
    allowed_import_folders,
    display_name,
    execute_import,
    guess_mapping,
    plan_import,
    read_import_path,
    read_upload,
    skipped_rows_csv,
    skipped_rows_file_name,
)
from core.front.projects import Project
from core.language_names import LANGUAGES

UPLOAD_TYPES = ["csv", "tsv", "tab", "jsonl", "ndjson", "json", "parquet", "pq", "zip"]
NO_LABEL = "(none: the texts have no labels yet)"
FROM_FILE = "from the file's '{}' column"
STATE = "import_source"
UPLOADER_ROUND = "import_uploader_round"  # a new round gives an empty uploader after an import
PREVIEW_CHARS = 300  # longer cells are shortened in the first look at the file (the import keeps them whole)


@dataclass
class LoadedFile:
    name: str
    frame: pd.DataFrame
    token: str  # identifies this file's widgets


def _load_upload(upload) -> None:  # type: ignore[no-untyped-def]
    data = upload.getvalue()
    digest = hashlib.sha1(data).hexdigest()[:16]
    token = f"{digest}-{upload.name}"
    current = st.session_state.get(STATE)
    if current is not None and current.token == token:
        return
    # saved owner-only while it is read, deleted straight after (read or refused): the rows live in the session
    st.session_state[STATE] = LoadedFile(display_name(upload.name), read_upload(upload.name, data), token)


def _load_path(actor: Actor, raw: str) -> None:
    st.session_state.pop(STATE, None)  # a refused path must not leave the previous file on the page
    path, frame = read_import_path(actor, raw)
    st.session_state[STATE] = LoadedFile(path.name or str(path), frame, f"path-{path}")


def _choose_source(actor: Actor) -> LoadedFile | None:
    upload = st.file_uploader(
        "Upload a file",
        type=UPLOAD_TYPES,
        key=f"uploader_{st.session_state.get(UPLOADER_ROUND, 0)}",
        help="CSV or TSV (UTF-8), JSONL, Parquet, or a Hugging Face dataset folder saved with save_to_disk and zipped.",
    )
    if upload is not None:
        with friendly_errors("Reading the file"):
            _load_upload(upload)
    if not may("server_files.read"):  # owners only: a lead uploads the file instead
        return st.session_state.get(STATE)
    with st.expander("…or read a file or a Hugging Face dataset folder on this machine"):
        folders = allowed_import_folders(actor)
        st.caption(
            md(
                f"From this page the studio reads files only in: {', '.join(str(f) for f in folders)} (a name "
                "without a folder is looked up in the first). Whoever runs the studio can allow other folders with "
                "STUDIO_IMPORT_FOLDERS; in a terminal, python -m core import reads any file its user can read."
            )
        )
        raw = st.text_input("Path on this machine", placeholder="my_dataset (a save_to_disk folder) or rows.csv")
        if st.button("Read it", disabled=not raw.strip()):
            with friendly_errors("Reading the file"):
                _load_path(actor, raw)
    return st.session_state.get(STATE)


def _mapping(loaded: LoadedFile, project: Project) -> ColumnMapping:
    frame = loaded.frame
    columns = list(frame.columns)
    guess = guess_mapping(frame)
    key = f"map_{loaded.token}"
    st.markdown("**2. Say what each column holds**")
    left, right = st.columns(2)
    text_column = left.selectbox(
        "Text column",
        columns,
        index=columns.index(guess.text_column) if guess.text_column in columns else 0,
        key=f"{key}_text",
    )
    label_options = [NO_LABEL, *columns]
    label_column = left.selectbox(
        "Label column",
        label_options,
        index=label_options.index(guess.label_column) if guess.label_column in columns else 0,
        key=f"{key}_label",
        help="The column with the class names. Without one the texts are imported as 'unlabeled'.",
    )
    language_mode = right.radio(
        "Language",
        ["one language for the whole file", "a column with language codes"],
        key=f"{key}_langmode",
        index=1 if guess.language_column else 0,
        horizontal=True,
    )
    language_column = language = None
    if language_mode.startswith("a column"):
        language_column = right.selectbox(
            "Language column",
            columns,
            key=f"{key}_langcol",
            index=columns.index(guess.language_column) if guess.language_column in columns else 0,
        )
    else:
        options = project.language_codes + [c for c in LANGUAGES if c not in project.language_codes]
        language = right.selectbox("Language of every row", options, format_func=language_label, key=f"{key}_lang")
    split = _whole_file_choice(
        right,
        "Split",
        ["train", "test"],
        "split",
        columns,
        key,
        "Test samples are only used to evaluate models, never to train or prompt.",
    )
    origin = _whole_file_choice(
        right,
        "Origin",
        ["human", "synthetic"],
        "origin",
        columns,
        key,
        "Human: written or labelled by people. Synthetic: written by an LLM.",
    )
    status = _whole_file_choice(
        left,
        "Status",
        ["default", "pending", "accepted", "unlabeled"],
        "status",
        columns,
        key,
        "Default: accepted for human data, pending review for synthetic data, unlabeled without a label.",
    )
    add_labels = left.checkbox(ADD_LABELS_OPTION, key=f"{key}_addlabels")
    add_languages = left.checkbox(ADD_LANGUAGES_OPTION, key=f"{key}_addlangs")
    strip_whitespace = left.checkbox(
        "Remove spaces, tabs and line breaks at the start and end of each text",
        key=f"{key}_strip",
        help="Off: every text is stored exactly as the file gives it. A text of only spaces is skipped either way.",
    )
    return ColumnMapping(
        text_column=text_column,
        label_column=None if label_column == NO_LABEL else label_column,
        language_column=language_column,
        language=language,
        split=split,
        origin=origin,
        status=None if status in (None, "default") else status,
        add_labels=add_labels,
        add_languages=add_languages,
        strip_whitespace=strip_whitespace,
    )


def _whole_file_choice(
    container, title: str, values: list[str], column: str, columns: list[str], key: str, help_text: str
) -> str | None:  # type: ignore[no-untyped-def]
    """A value for the whole file, or (first, when the file has such a column) the per-row column."""
    options = ([FROM_FILE.format(column)] if column in columns else []) + values
    chosen = container.selectbox(title, options, key=f"{key}_{column}", help=help_text)
    return None if chosen.startswith("from the file") else chosen


def _report(plan: ImportPlan, token: str) -> bool:
    """The checks, and the choice to skip invalid rows when there are some; returns whether to skip them."""
    st.markdown("**3. Check before importing**")
    for problem in plan.errors:  # the messages quote labels and values from the file: shown as text
        st.error(md(_sentence(problem.describe())), icon=":material/block:")
    skip = False
    if plan.can_skip_invalid:
        rows = "row" if plan.invalid_count == 1 else "rows"
        skip = st.checkbox(
            f"Import the {plan.to_import:,} valid rows and skip the {plan.invalid_count:,} {rows} listed above",
            key=f"skip_invalid_{token}",
            help="Still one import: all the valid rows are stored, or none. The skipped rows can be downloaded, "
            "fixed and imported again.",
        )
        st.download_button(
            f"Download the {plan.invalid_count:,} skipped {rows} (CSV)",
            skipped_rows_csv(plan),
            file_name=skipped_rows_file_name(plan),
            mime="text/csv",
            icon=":material/download:",
            key=f"skipped_rows_{token}",
            help="Each row with the reason it is skipped; cells that a spreadsheet would run as a formula start "
            "with an apostrophe.",
        )
    elif plan.errors:
        st.caption("No row of this file can be imported as it is: fix the rows named above and choose it again.")
    importing = plan.ok or skip
    cols = st.columns(3)
    cols[0].metric("Rows in the file", f"{plan.total_rows:,}")
    cols[1].metric("Will be imported", f"{plan.to_import:,}" if importing else "0")
    cols[2].metric("Will be skipped", f"{plan.skipped_count + (plan.invalid_count if skip else 0):,}")
    for problem in plan.skipped:
        st.warning(md("Skipped: " + problem.describe()), icon=":material/skip_next:")
    for problem in plan.notes:
        st.info(md(_sentence(problem.describe())), icon=":material/info:")
    if importing and plan.to_import:
        st.caption(
            f"The first {min(len(plan.records), 20)} rows as they will be stored "
            "(row = position in the file, counting from the first row under the header):"
        )
        st.dataframe(plan.preview(), hide_index=True, width="stretch")
    return skip


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _first_rows(frame: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The first rows for a look at the file, very long cells shortened (a 5 MB text would stall the page)."""

    def shorten(value: object) -> object:
        if isinstance(value, str) and len(value) > PREVIEW_CHARS:
            return value[:PREVIEW_CHARS] + f"… ({len(value):,} characters)"
        return value

    return frame.head(n).map(shorten)


def import_flow(store: Store, project: Project) -> None:
    st.markdown("**1. Choose a file**")
    actor = current_actor()
    loaded = _choose_source(actor)
    if loaded is None:
        st.caption(
            "Nothing chosen yet. The file needs a column with the texts; labels and languages can come "
            "from columns or be set for the whole file."
        )
        return
    st.caption(
        say("**{}**: {} rows, columns {}", loaded.name, f"{len(loaded.frame):,}", ", ".join(loaded.frame.columns))
    )
    st.dataframe(_first_rows(loaded.frame), hide_index=True, width="stretch")
    mapping = _mapping(loaded, project)
    plan = None
    with friendly_errors("Checking the file"):
        plan = plan_import(actor, project, loaded.frame, mapping, source=loaded.name, words=PAGE_WORDS)
    if plan is None:
        return
    skip = _report(plan, loaded.token)
    if st.button(
        f"Import {plan.to_import:,} samples",
        type="primary",
        disabled=not (plan.ok or skip) or not plan.to_import,
        key=f"do_import_{loaded.token}",
        help=None if plan.ok or skip else "Fix the rows above, or choose to skip them.",
    ):
        with friendly_errors("Importing"):
            result = execute_import(actor, project, plan, skip_invalid=skip)
            del st.session_state[STATE]
            st.session_state[UPLOADER_ROUND] = st.session_state.get(UPLOADER_ROUND, 0) + 1
            skipped = f", skipped {result.skipped:,}" if result.skipped else ""
            flash(f"Imported {result.imported:,} samples from {loaded.name}{skipped}.")
            st.rerun()
