"""Projects: create a project, edit its task, labels (with per-language names) and languages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.feedback import flash, friendly_errors
from components.language_picker import language_multiselect
from components.loop_guide import loop_guide
from components.page_opening import open_page
from components.project_summary import project_summary
from components.role_gate import gate, may
from components.safe_text import say
from components.studio_state import current_actor, select_project
from core.front.projects import (
    NAMES_PREFIX,
    create_demo_project,
    create_project,
    label_table,
    labels_from_table,
    names_column_title,
    parse_label_lines,
    parse_spec,
    remove_project,
    update_project,
)

store, project = open_page("Projects")
actor = current_actor()


def new_project_form() -> None:
    with st.form("new_project", clear_on_submit=False):
        name = st.text_input("Project name", placeholder="e.g. Customer messages, East Africa")
        task = st.text_area(
            "Task description",
            placeholder="What should the classifier decide? The LLM that writes examples reads this.",
            help="One or two sentences, e.g. 'Classify SMS messages from farmers by what they need help with.'",
        )
        languages = language_multiselect("Languages", default=[], key="new_project_languages")
        labels_text = st.text_area(
            "Labels, one per line",
            placeholder="weather: questions about rain, drought or forecasts\nmarket_prices: prices and buyers",
            help="Write 'name: description'. The description helps the LLM and your team; it can be added later.",
        )
        submitted = st.form_submit_button("Create project", type="primary")
    if submitted:
        with friendly_errors("Creating the project"):
            spec = parse_spec(
                name=name,
                task=task,
                labels=[label.model_dump() for label in parse_label_lines(labels_text)],
                languages=[{"code": code} for code in languages],
            )
            created = create_project(actor, spec)
            select_project(created.id)
            flash(f"Project '{created.name}' created. Next: import data on the Data page.")
            st.rerun()


if project is None:
    if not may("project.create"):
        st.info(
            "There is no project for you yet. A lead or an owner creates projects and adds you to them; they then "
            "appear here."
        )
        st.stop()
    st.info(
        "There is no project yet. A project holds one classification task: its labels, its languages and "
        "every sample. Create one below, or load the demo project (5 languages, 3 labels, works offline)."
    )
    if st.button("Load the demo project", icon=":material/auto_awesome:"):
        with friendly_errors("Loading the demo"):
            demo = create_demo_project(actor)
            select_project(demo.id)
            flash(f"Demo project '{demo.name}' loaded.")
            st.rerun()
    st.subheader("New project")
    new_project_form()
    st.stop()

with friendly_errors("Reading where the project stands"):
    loop_guide(store, project)
project_summary(store, project)

if not may("project.edit"):
    gate("project.edit")
    st.stop()
edit_tab, new_tab = st.tabs([say("Edit '{}'", project.name), "New project"])

with edit_tab, st.form("edit_project"):
    name = st.text_input("Project name", value=project.name)
    task = st.text_area("Task description", value=project.task)
    languages = language_multiselect("Languages", default=project.language_codes, key=f"languages_{project.id}")
    st.markdown("**Labels** — edit a name to rename it (its samples follow); add rows at the bottom.")
    table = pd.DataFrame(
        label_table(project),
        columns=["original", "name", "description"] + [NAMES_PREFIX + c for c in project.language_codes],
    )
    column_config = {
        "name": st.column_config.TextColumn("Label", required=True, max_chars=200),
        "description": st.column_config.TextColumn("Description", width="large"),
        **{
            NAMES_PREFIX + code: st.column_config.TextColumn(
                names_column_title(code), help="The label's name in this language; add aliases after a comma."
            )
            for code in project.language_codes
        },
    }
    edited = st.data_editor(
        table,
        key=f"labels_{project.id}",
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config=column_config,
        column_order=[c for c in table.columns if c != "original"],
    )
    st.caption("Names in a newly added language can be filled in after saving.")
    encoder = st.text_input(
        "Encoder (embedding model)",
        value=project.encoder,
        help="Used for near-duplicates and training. A hub id, a local folder, or bundled:multilingual-e5-small.",
    )
    saved = st.form_submit_button("Save changes", type="primary")

if saved:
    with friendly_errors("Saving the project"):
        rows = edited.to_dict(orient="records")
        result = labels_from_table(rows, [c for c in languages if c in project.language_codes])
        spec = parse_spec(
            name=name,
            task=task,
            encoder=encoder,
            labels=[label.model_dump() for label in result.labels],
            languages=[{"code": code} for code in languages],
        )
        updated = update_project(actor, project.id, spec, renames=result.renames)
        renamed = ", ".join(f"{old} → {new}" for old, new in result.renames.items())
        flash(f"Saved '{updated.name}'." + (f" Renamed: {renamed}." if renamed else ""))
        st.rerun()

with edit_tab, st.expander("Delete this project"):
    gate("project.delete")
    st.warning("Deleting removes the project and all its samples. This cannot be undone.")
    confirm = st.text_input("Type the project's name to confirm", key=f"delete_confirm_{project.id}")
    if st.button(
        "Delete project",
        disabled=confirm.strip() != project.name or not may("project.delete"),
        key=f"delete_{project.id}",
    ):
        with friendly_errors("Deleting the project"):
            remove_project(actor, project.id)
            select_project(None)
            flash(f"Project '{project.name}' deleted.", "info")
            st.rerun()

with new_tab:
    new_project_form()
