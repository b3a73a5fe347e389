"""Running the checks (the `flag` job) from the page, and choosing the near-duplicate threshold by reading pairs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.curate_tabs import BROWSE, REVIEW, open_tab
from components.curation_charts import similarity_histogram
from components.curation_overview import FLAG_NAMES
from components.feedback import flash, friendly_errors
from components.job_progress import live_job
from components.kept_widgets import kept
from components.review_queue import open_flag_queue
from components.role_gate import may
from components.safe_text import md, say
from components.sample_browser import show_flag
from components.studio_state import current_actor
from core.front.actor import Actor, Store
from core.front.curation import (
    CheckSummary,
    FlagTally,
    SimilarityProfile,
    check_findings,
    check_summary,
    launch_checks,
    save_threshold_choice,
    similarity_profile,
    threshold_choice,
    time_ago,
)
from core.front.data import count_samples
from core.front.jobs import list_jobs
from core.front.projects import Project


def start_checks(store: Store, project: Project, threshold: float | None = None, scope: str | None = None) -> None:
    job = launch_checks(current_actor(), project, threshold=threshold, scope=scope)
    flash(f"Checking the samples (job #{job.id}). Flags appear when it is done.", "info")


def checks_panel(store: Store, project: Project) -> None:
    """The latest check job of the project, and a button to run the checks."""
    jobs = list_jobs(current_actor(), project.id, kind="flag")
    active = next((j for j in jobs if j.active), None)
    choice = threshold_choice(current_actor(), project)
    columns = st.columns([4, 1.3])
    columns[0].caption(
        "The checks flag exact and near repeats, label conflicts, test leaks (translations too), the wrong language, "
        "too short or too long texts, label names in the text and labels the other samples doubt. Near-duplicate "
        f"threshold: **{choice.threshold:.3f}**"
        + ("" if choice.chosen else " (the default; choose yours in the Threshold tab)")
        + f", within {'each label and language' if choice.scope == 'cell' else 'the whole project'}."
    )
    if may("checks.run") and columns[1].button(
        "Check samples", type="primary", icon=":material/fact_check:", disabled=active is not None, key="run_checks"
    ):
        with friendly_errors("Starting the checks"):
            start_checks(store, project)
            st.rerun()
    if active is not None:
        live_job(store, active.id)
        return
    if jobs and jobs[0].status != "done":
        live_job(store, jobs[0].id)  # how the last one ended (failed or cancelled)
    summary = check_summary(current_actor(), project)
    if summary is not None:
        last_check_panel(project, summary)
    findings = check_findings(current_actor(), project)
    if findings is not None and findings.language_note:
        st.info(md(findings.language_note), icon=":material/translate:")


def last_check_panel(project: Project, summary: CheckSummary) -> None:
    """What the last check found (kept after its job ended), and a button per flag that opens its samples."""
    with st.container(border=True, key=f"last_check_{project.id}"):
        when = (
            f"{time_ago(summary.finished_at)} ({summary.finished_at:%Y-%m-%d %H:%M} UTC)"
            if summary.finished_at is not None
            else ""
        )
        found = " · ".join(f"{FLAG_NAMES.get(t.kind, t.kind)} {t.found:,}" for t in summary.flags if t.found)
        st.markdown(
            f"**Last check** {when}: {summary.samples:,} sample{'' if summary.samples == 1 else 's'} checked; "
            + (f"flagged: {found}." if found else "nothing to flag.")
        )
        if not summary.flags:
            return
        with st.container(horizontal=True, gap="small"):
            for tally in summary.flags:
                _flag_button(project, tally)
        st.caption(
            "Each button opens that flag's samples still to review in the Review tab; when none are left, it shows "
            "all of them in the Browse tab."
        )


def _flag_button(project: Project, tally: FlagTally) -> None:
    name = FLAG_NAMES.get(tally.kind, tally.kind.replace("_", " "))
    if tally.to_review:
        label, help_text = f"{name}: review {tally.to_review:,}", "Review them one by one (Review tab)"
    else:
        label, help_text = f"{name}: none to review", "Show the samples with this flag (Browse tab)"
    st.button(
        label,
        key=f"last_check_{project.id}_{tally.kind}",
        icon=":material/flag:",
        help=help_text,
        disabled=not tally.flagged,
        on_click=_open_flag,
        args=(project, tally),
    )


def _open_flag(project: Project, tally: FlagTally) -> None:
    if tally.to_review:
        open_flag_queue(project, tally.kind)
        open_tab(REVIEW)
    else:
        show_flag(f"curate_{project.id}", tally.kind)
        open_tab(BROWSE)


class _NotEmbedded(Exception):
    """Raised (not returned) so that st.cache_data does not remember the answer: the check job embeds later."""


@st.cache_data(max_entries=8, show_spinner="Finding each sample's nearest neighbour…")
def _profile(
    _actor: Actor, _project: Project, project_id: int, encoder: str, scope: str, signature: tuple
) -> SimilarityProfile:
    """Cached by project, encoder, scope and `signature` (the sample count and the saved choice)."""
    profile = similarity_profile(_actor, _project, scope)
    if profile is None:
        raise _NotEmbedded
    return profile


def threshold_helper(store: Store, project: Project) -> None:
    choice = threshold_choice(current_actor(), project)
    key = f"threshold_{project.id}"
    scopes = ["cell", "project"]
    scope = st.radio(
        "Compare samples",
        scopes,
        format_func=lambda s: "within the same label and language" if s == "cell" else "across the whole project",
        horizontal=True,
        **kept(f"{key}_scope", choice.scope, options=scopes),
    )
    findings = check_findings(current_actor(), project)  # a new check brings its own nearest neighbours
    signature = (count_samples(current_actor(), project), choice, findings.job_id if findings else None)
    with friendly_errors("Reading the embeddings"):
        try:
            profile = _profile(current_actor(), project, project.id, project.encoder, scope, signature)
        except _NotEmbedded:
            st.info(
                say(
                    "The samples are not all embedded yet. Run **Check samples** above once: it embeds them with the "
                    "project's encoder ({}); then come back here.",
                    project.encoder,
                )
            )
            return
        threshold = st.slider(
            "Threshold: a sample at least this similar to another counts as a repeat",
            min_value=0.70,
            max_value=1.0,
            step=0.0025,
            format="%.4f",
            **kept(f"{key}_value", float(choice.threshold)),
        )
        st.plotly_chart(similarity_histogram(profile, threshold), width="stretch")
        st.caption(
            f"Each of {profile.sampled:,} samples (of {profile.total:,}) and the most similar other sample "
            f"{'of its label and language' if scope == 'cell' else 'in the project'}. Read the pairs: above the "
            "threshold should be repeats, below it should not."
        )
        above, below = profile.around(threshold, k=6)
        left, right = st.columns(2)
        left.markdown(f"**Just above {threshold:.4f}** — would be flagged")
        left.dataframe(_pairs_frame(above), hide_index=True, width="stretch")
        right.markdown(f"**Just below {threshold:.4f}** — would stay")
        right.dataframe(_pairs_frame(below), hide_index=True, width="stretch")
        columns = st.columns([1, 1, 3])
        if columns[0].button("Save this threshold", key=f"{key}_save"):
            save_threshold_choice(current_actor(), project, threshold, scope)
            flash(f"Saved: {threshold:.4f} for {project.encoder}. The next check uses it.")
            st.rerun()
        if columns[1].button("Save and check again", type="primary", key=f"{key}_save_run"):
            save_threshold_choice(current_actor(), project, threshold, scope)
            start_checks(store, project)
            st.rerun()


def _pairs_frame(pairs: list) -> pd.DataFrame:
    return pd.DataFrame(
        [{"similarity": p.similarity, "text": p.text, "most similar": p.neighbour_text} for p in pairs],
        columns=["similarity", "text", "most similar"],
    )
