"""Handing out review work (leads and owners, team mode): the samples the filters choose go to the annotators picked,
each to `k` of them who can judge its language; annotators joining or leaving later re-balance what is not yet
judged; and how far the review has come. Every change goes through core.front.review, which checks the role."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from components.curation_overview import FLAG_NAMES
from components.feedback import friendly_errors
from components.people import namer
from components.role_gate import may
from components.safe_text import alert, md
from components.studio_state import current_actor
from core.errors import StudioError
from core.front.accounts import Account, list_accounts, members_of_project
from core.front.data import SAMPLE_ORIGINS, SAMPLE_STATUSES, SampleFilter, flag_kinds
from core.front.projects import Project
from core.front.review import (
    MAX_OVERLAP,
    REVIEW_RULES,
    AssignResult,
    account_languages_of,
    add_annotators,
    assign,
    get_review_settings,
    remove_annotators,
    review_progress,
    set_review_settings,
)
from core.language_names import language_name

ASSIGN_TAB = "Assign"
RULE_WORDS = {
    "unanimous": "Unanimous: every annotator of a sample gives the same answer (otherwise a lead decides)",
    "majority": "Majority: more than half of a sample's annotators give the same answer (otherwise a lead decides)",
}
STATE_WORDS = {
    "open": "waiting for judgements",
    "resolved": "decided by the rule",
    "adjudication": "waiting for a lead",
    "adjudicated": "decided by a lead",
    "decided": "decided directly",
}
FORM = "review_assign"
REBALANCED = "review_rebalanced"  # the last re-balancing's message, shown once


def _annotators(project: Project) -> list[Account]:
    """Who can be handed work: the project's active annotators; for an owner, every active annotator (they join the
    project when handed work)."""
    actor = current_actor()
    accounts = list_accounts(actor) if may("accounts.manage") else members_of_project(actor, project.id)
    return [a for a in accounts if a.active and a.role == "annotator"]


def _who(languages: dict[str, list[str]]) -> Callable[[str], str]:
    person = namer()

    def label(username: str) -> str:
        codes = languages.get(username) or []
        judged = ", ".join(language_name(code) for code in codes) if codes else "no language set yet"
        return f"{person(username)} · {judged}"

    return label


def distribute_form(project: Project) -> None:
    actor = current_actor()
    annotators = _annotators(project)
    languages = account_languages_of(actor)
    if not annotators:
        st.info(
            "This project has no annotators yet: an owner adds them on the Team page (Project members), with the "
            "languages each can judge.",
            icon=":material/group_off:",
        )
    else:
        _form(project, [a.username for a in annotators], languages)
    progress_section(project)
    if annotators:
        _rebalance(project, [a.username for a in annotators], languages)


def _form(project: Project, names: list[str], languages: dict[str, list[str]]) -> None:
    actor = current_actor()
    settings = get_review_settings(actor, project)
    st.subheader("Hand out samples")
    with st.form(FORM):
        row = st.columns(5)
        chosen_languages = row[0].multiselect(
            "Language", project.language_codes, format_func=language_name, placeholder="All languages"
        )
        labels = row[1].multiselect("Label", project.label_names, placeholder="All labels")
        origins = row[2].multiselect("Origin", SAMPLE_ORIGINS, placeholder="All")
        statuses = row[3].multiselect("Status", SAMPLE_STATUSES, default=["pending"], placeholder="All")
        flag_options = ["none", "any", *flag_kinds(actor, project)]
        flags = row[4].multiselect(
            "Flag", flag_options, format_func=lambda kind: FLAG_NAMES.get(kind, kind), placeholder="Any"
        )
        picked = st.multiselect(
            "Annotators",
            names,
            format_func=_who(languages),
            placeholder="Choose the annotators",
            help="Each sample goes only to annotators who can judge its language (an owner sets them on the Team "
            "page).",
        )
        left, right = st.columns([1, 3])
        overlap = left.number_input(
            "Annotators per sample",
            min_value=1,
            max_value=MAX_OVERLAP,
            value=settings.overlap,
            step=1,
            help="How many annotators judge each sample (k): it leaves the queues once it has k judgements.",
        )
        rule = right.radio(
            "When the annotators of a sample differ",
            REVIEW_RULES,
            index=REVIEW_RULES.index(settings.rule),
            format_func=RULE_WORDS.__getitem__,
        )
        gold = st.checkbox(
            "Mix gold checks into the queues (samples marked gold, unannounced)",
            value=settings.gold,
            help="A lead marks labelled human samples as gold with `python -m core gold`; each annotator's accuracy "
            "on them shows on the Team page.",
        )
        submitted = st.form_submit_button("Hand out", type="primary", icon=":material/assignment_ind:")
    if not submitted:
        return
    if not picked:
        st.error("Choose at least one annotator.", icon=":material/error:")
        return
    flt = SampleFilter(
        languages=tuple(chosen_languages),
        labels=tuple(labels),
        origins=tuple(origins),
        statuses=tuple(statuses),
        flags=tuple(flags),
    )
    with friendly_errors("Handing out the samples"):
        k, rule_chosen, gold_chosen = int(overlap), str(rule), bool(gold)
        if (k, rule_chosen, gold_chosen) != (settings.overlap, settings.rule, settings.gold):
            set_review_settings(actor, project, overlap=k, rule=rule_chosen, gold=gold_chosen)
        _assigned(assign(actor, project, picked, overlap=k, flt=flt))


def _assigned(result: AssignResult) -> None:
    (st.success if result.samples else st.info)(md(result.message), icon=":material/assignment_ind:")
    if result.per_annotator:
        person = namer()
        st.dataframe(
            pd.DataFrame(
                [{"annotator": person(name), "samples handed out": n} for name, n in result.per_annotator.items()]
            ),
            hide_index=True,
        )


def progress_section(project: Project) -> None:
    progress = review_progress(current_actor(), project)
    st.subheader("Review progress")
    if not progress.items and not progress.annotators:
        st.caption("Nothing handed out yet.")
        return
    columns = st.columns(len(STATE_WORDS))
    for column, (state, words) in zip(columns, STATE_WORDS.items(), strict=True):
        column.metric(words.capitalize(), f"{progress.items.get(state, 0):,}")
    person = namer()
    rows = [
        {
            "annotator": person(name),
            "judged": counts.get("done", 0),
            "to judge": counts.get("open", 0),
            "done": counts.get("done", 0) / max(1, counts.get("done", 0) + counts.get("open", 0)),
        }
        for name, counts in progress.annotators.items()
    ]
    st.dataframe(
        pd.DataFrame(rows, columns=["annotator", "judged", "to judge", "done"]),
        hide_index=True,
        column_config={"done": st.column_config.ProgressColumn("done", format="percent", min_value=0, max_value=1)},
    )


def _rebalance(project: Project, names: list[str], languages: dict[str, list[str]]) -> None:
    pool = list(review_progress(current_actor(), project).annotators)
    if not pool:
        return
    st.subheader("Annotators joining or leaving")
    st.caption("What is not judged yet is shared out again fairly; judgements already given stay.")
    kind, message = st.session_state.pop(REBALANCED, (None, None))
    if message:
        alert(kind)(md(message))
    label = _who(languages)
    joining, leaving = st.columns(2)
    candidates = [name for name in names if name not in pool]
    join = joining.multiselect(
        "Annotators joining",
        candidates,
        format_func=label,
        key="review_join",
        placeholder="Choose" if candidates else "Everyone is in the review already",
    )
    joining.button(
        "Add them and re-balance",
        key="review_join_go",
        disabled=not join,
        icon=":material/group_add:",
        on_click=_rebalanced,
        args=(project, "join"),
    )
    leave = leaving.multiselect("Annotators leaving", pool, format_func=label, key="review_leave", placeholder="Choose")
    leaving.button(
        "Take them out and re-balance",
        key="review_leave_go",
        disabled=not leave,
        icon=":material/group_remove:",
        on_click=_rebalanced,
        args=(project, "leave"),
    )


def _rebalanced(project: Project, way: str) -> None:
    """Button callback (it runs before the page is drawn, so the progress above shows the new shares)."""
    actor = current_actor()
    try:
        if way == "join":
            result = add_annotators(actor, project, st.session_state.get("review_join") or [])
        else:
            result = remove_annotators(actor, project, st.session_state.get("review_leave") or [])
    except StudioError as exc:
        st.session_state[REBALANCED] = ("error", str(exc))
        return
    message = result.message
    if result.gold_removed:
        message += f" {result.gold_removed:,} open gold checks left with them."
    st.session_state[REBALANCED] = ("success", message)
    st.session_state.pop("review_join", None)
    st.session_state.pop("review_leave", None)
