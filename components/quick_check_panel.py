"""The Evaluate page's *Check a model* panel: per-language scores of any classifier, from a file of its predictions
(the rows become the project's human test samples; a new project when there is none) or from a Hugging Face
text-classification model run on the test split as a job (its labels mapped to the project's first)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.uploaded_file_manager import UploadedFile

import core.front.evaluation as front
from components.feedback import flash, friendly_errors
from components.language_picker import language_label
from components.safe_text import md, say
from components.studio_state import select_project
from core.front.actor import Actor
from core.front.evaluation import (
    SAME,
    ModelLabels,
    PredictionColumns,
    Project,
    default_check_name,
    default_project_name,
    guess_columns,
    map_model_labels,
    read_upload,
    upload_display_name,
)
from core.language_names import LANGUAGES

FILE_STATE = "quick_check_file"
MODEL_STATE = "quick_check_model"
ROUND = "quick_check_round"  # a new round gives an empty uploader after a check
UPLOAD_TYPES = ["csv", "tsv", "tab", "jsonl", "ndjson", "json", "parquet", "pq"]
FROM_FILE, FROM_MODEL = "A file of predictions", "A Hugging Face model"
ONE_LANGUAGE = "(one language for the whole file)"
NO_CONFIDENCE = "(none)"
CHOOSE = "(choose a project label)"


@dataclass
class PredictionsFile:
    name: str
    frame: pd.DataFrame
    token: str  # identifies this file's widgets


def quick_check_panel(actor: Actor, project: Project | None, *, test_samples: int) -> None:
    """Both ways of checking a classifier; the model needs a project with human test samples."""
    kind = st.radio(
        "What to check",
        [FROM_FILE, FROM_MODEL],
        horizontal=True,
        key="quick_check_kind",
        help="A file: the texts, their true labels and the classifier's labels. A model: it labels the project's "
        "human test samples itself.",
    )
    if kind == FROM_FILE:
        predictions_file_form(actor, project)
    elif project is None or not test_samples:
        st.info(
            "A model is checked on the project's human test samples, and there are none yet: check a file of "
            "predictions first (its rows become the test samples), or import human test samples on the Data page.",
            icon=":material/info:",
        )
    else:
        model_form(actor, project, test_samples)


# --- a file of predictions ---------------------------------------------------------------------------------------


def _load(upload: UploadedFile) -> None:
    data = upload.getvalue()
    token = f"{hashlib.sha1(data).hexdigest()[:16]}-{upload.name}"
    current = st.session_state.get(FILE_STATE)
    if current is not None and current.token == token:
        return
    st.session_state[FILE_STATE] = PredictionsFile(
        upload_display_name(upload.name), read_upload(upload.name, data), token
    )


def predictions_file_form(actor: Actor, project: Project | None) -> None:
    upload = st.file_uploader(
        "Predictions file",
        type=UPLOAD_TYPES,
        key=f"quick_check_upload_{st.session_state.get(ROUND, 0)}",
        help="CSV or TSV (UTF-8), JSONL or Parquet, one row per text: the text, its true label, the label your "
        "classifier gave it, its language (or one language for the whole file) and, if you have it, the "
        "classifier's confidence (0 to 1).",
    )
    if upload is None:
        st.session_state.pop(FILE_STATE, None)
        st.caption(
            "One row per text: the text, its true label, the classifier's label, the language (or one language for "
            "the whole file), and optionally a confidence. The rows become the project's human test samples, so "
            "everything on this page works on them: scores per language with intervals, confusion matrices and "
            "their samples, comparisons, the report."
        )
        return
    with friendly_errors("Reading the file"):
        _load(upload)
    loaded: PredictionsFile | None = st.session_state.get(FILE_STATE)
    if loaded is None:
        return
    columns = [str(c) for c in loaded.frame.columns]
    st.caption(say("**{}**: {} rows; columns {}", loaded.name, f"{len(loaded.frame):,}", ", ".join(columns)))
    guess = guess_columns(columns)

    def pick(
        where: DeltaGenerator, label: str, options: list[str], guessed: str | None, role: str, **kwargs: Any
    ) -> str:
        index = options.index(guessed) if guessed in options else 0
        return where.selectbox(label, options, index=index, key=f"quick_check_{role}_{loaded.token}", **kwargs)

    left, middle, right = st.columns(3)
    text = pick(left, "Text column", columns, guess.text, "text")
    label = pick(middle, "True label column", columns, guess.label, "label")
    prediction = pick(right, "Predicted label column", columns, guess.prediction, "prediction")
    left, middle, right = st.columns(3)
    language_column = pick(left, "Language column", [ONE_LANGUAGE, *columns], guess.language_column, "language")
    language = None
    if language_column == ONE_LANGUAGE:
        language = middle.selectbox(
            "Language of the file",
            list(LANGUAGES),
            index=None,
            format_func=language_label,
            placeholder="Type a language name or code, e.g. Swahili or sw",
            key=f"quick_check_one_language_{loaded.token}",
        )
    confidence = pick(right, "Confidence column (optional)", [NO_CONFIDENCE, *columns], guess.confidence, "confidence")
    left, right = st.columns(2)
    name = left.text_input("Name of the check", value=loaded.name, key=f"quick_check_name_{loaded.token}")
    target: int | None = None
    if project is not None:
        new_name = default_project_name(loaded.name)
        choices = {project.id: f"this project: {project.name}", 0: f"the project '{new_name}' (made from the file)"}
        if new_name == project.name:
            choices.pop(0)
        picked = right.radio(
            "The rows become test samples of",
            list(choices),
            format_func=lambda i: md(choices[i]),
            key=f"quick_check_target_{loaded.token}",
        )
        target = picked or None
    ready = language_column != ONE_LANGUAGE or language is not None
    if not ready:
        st.caption("Pick the file's language, or the column that holds each text's language.")
    if st.button("Check these predictions", type="primary", icon=":material/fact_check:", disabled=not ready):
        spec = PredictionColumns(
            text=text,
            label=label,
            prediction=prediction,
            language_column=None if language_column == ONE_LANGUAGE else language_column,
            language=language,
            confidence=None if confidence == NO_CONFIDENCE else confidence,
        )
        with (
            friendly_errors("Checking the predictions"),
            st.spinner(f"Scoring {len(loaded.frame):,} predictions…"),
        ):
            check = front.check_predictions(actor, loaded.frame, loaded.name, spec, project=target, name=name)
            select_project(check.project.id)
            st.query_params["evaluation"] = str(check.evaluation.id)
            flash(check.summary(), "success")
            for problem in check.problems():
                flash(problem, "warning")
            if check.notes:
                flash("\n".join(check.notes), "info")
            st.session_state.pop(FILE_STATE, None)
            st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1
            st.rerun()


# --- a Hugging Face model ----------------------------------------------------------------------------------------


def _read_labels(actor: Actor, project_id: int, key: str) -> None:
    st.session_state.pop(MODEL_STATE, None)
    spec = str(st.session_state.get(key) or "").strip()
    if spec:
        st.session_state[MODEL_STATE] = (project_id, front.read_model_labels(actor, spec))


def model_form(actor: Actor, project: Project, test_samples: int) -> None:
    from components.evaluation_views import follow

    key = f"quick_check_model_spec_{project.id}"
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    spec = left.text_input(
        "Model",
        placeholder="a folder on this machine, or a Hugging Face id already downloaded (org/name)",
        key=key,
        help="Any Hugging Face text-classification model (a sequence-classification head with its labels).",
    )
    if right.button("Read its labels", disabled=not spec.strip(), key=f"quick_check_read_{project.id}"):
        with friendly_errors("Reading the model"):
            _read_labels(actor, project.id, key)
    state = st.session_state.get(MODEL_STATE)
    if not state or state[0] != project.id or state[1].spec != spec.strip():
        st.caption(
            f"The model labels the project's {test_samples:,} human test samples as a job; first its labels are "
            "matched with the project's (the same name in any capitals, or a label's name or alias in a language)."
        )
        return
    model: ModelLabels = state[1]
    chosen = label_mapping_pickers(project, model)
    with friendly_errors("Mapping the labels"):
        mapping = map_model_labels(model.labels, project, chosen)
        if mapping.unmapped:
            st.warning(md(mapping.refusal(project, on_page=True)), icon=":material/link_off:")
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        name = left.text_input(
            "Name of the check", value=default_check_name(model.spec), key=f"quick_check_model_name_{key}"
        )
        if right.button(
            "Check the model",
            type="primary",
            icon=":material/play_arrow:",
            disabled=not mapping.ok,
            help=f"Labels the {test_samples:,} human test samples (a job you can cancel).",
        ):
            job = front.check_model(actor, project.id, model.spec, mapping.links, name).job
            follow(job, f"Checking '{name}' on the human test split (job #{job.id}).")
            st.query_params.pop("evaluation", None)  # show the new evaluation when it is ready
            st.session_state.pop(MODEL_STATE, None)
            st.rerun()


def label_mapping_pickers(project: Project, model: ModelLabels) -> dict[str, str]:
    """One picker per model label, set to the project label it reads as (or to nothing); {model label: chosen}."""
    automatic = map_model_labels(model.labels, project)
    st.markdown(say("**{}** has {} labels; the project label each one stands for:", model.spec, len(model.labels)))
    options = [CHOOSE, *project.label_names]
    chosen: dict[str, str] = {}
    columns = st.columns(min(3, len(model.labels)))
    for i, label in enumerate(model.labels):
        where = columns[i % len(columns)]
        found = automatic.links.get(label)
        picked = where.selectbox(
            md(label),
            options,
            index=options.index(found) if found in options else 0,
            key=f"quick_check_map_{project.id}_{hashlib.sha1(model.spec.encode()).hexdigest()[:8]}_{i}",
            help=md(automatic.how[label]) if automatic.how[label] != SAME else None,
        )
        if picked != CHOOSE:
            chosen[label] = picked
    return chosen
