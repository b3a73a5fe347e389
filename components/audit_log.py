"""The Team page's audit log (owners): the action log narrowed by person, project and days, as a table and as
CSV or JSONL downloads (built when the button is clicked)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from components.feedback import friendly_errors
from core.front.actor import Actor
from core.front.audit import (
    AUDIT_MIME_TYPES,
    AuditFilter,
    AuditPage,
    audit_file,
    audit_file_name,
    audit_people,
    audit_projects,
    read_audit_log,
)


def audit_section(actor: Actor) -> None:
    st.caption(
        "Everything done in the studio, newest first: who did it, in which project, and what changed. "
        "Times and days are in UTC."
    )
    with friendly_errors("Reading the audit log"):
        flt = _filter(actor)
        page = read_audit_log(actor, flt)
        _table(page)
        _downloads(actor, flt, page)


def _filter(actor: Actor) -> AuditFilter:
    people = {p.username: p.label for p in audit_people(actor)}
    projects = {p.id: p.label for p in audit_projects(actor)}
    who_column, project_column, since_column, until_column = st.columns([2, 2, 1, 1])
    username = who_column.selectbox(
        "Who",
        [None, *people],
        format_func=lambda u: "everyone" if u is None else people[u],
        key="audit_who",
    )
    project_id = project_column.selectbox(
        "Project",
        [None, *projects],
        format_func=lambda p: "every project (and the studio itself)" if p is None else projects[p],
        key="audit_project",
    )
    since = since_column.date_input("From", value=None, format="YYYY-MM-DD", key="audit_since")
    until = until_column.date_input("To", value=None, format="YYYY-MM-DD", key="audit_until")
    return AuditFilter(username=username, project_id=project_id, since=_day(since), until=_day(until))


def _day(value: object) -> date | None:
    return value if isinstance(value, date) else None


def _table(page: AuditPage) -> None:
    if not page.entries:
        st.info("No entry in the log matches these choices.", icon=":material/search_off:")
        return
    shown = len(page.entries)
    st.caption(
        f"{page.total:,} entries match"
        + (f"; the newest {shown:,} are shown here, and the downloads hold all of them." if shown < page.total else ".")
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": e.at,
                    "who": e.who,
                    "project": e.project,
                    "action": e.action,
                    "on": e.target,
                    "details": e.details,
                }
                for e in page.entries
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={"when": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm:ss")},
    )


def _downloads(actor: Actor, flt: AuditFilter, page: AuditPage) -> None:
    columns = st.columns([2, 2, 3])
    for column, fmt, words in ((columns[0], "csv", "CSV"), (columns[1], "jsonl", "JSONL")):

        def data(fmt: str = fmt) -> bytes:  # when the button is clicked (in a thread of the server)
            return audit_file(actor, flt, fmt).data

        column.download_button(
            f"Download the log ({words})",
            data,
            file_name=audit_file_name(fmt),
            mime=AUDIT_MIME_TYPES[fmt],
            icon=":material/download:",
            disabled=page.total == 0,
            key=f"audit_download_{fmt}",
        )
    columns[2].caption(
        "The CSV opens in a spreadsheet: cells that a spreadsheet would run as a formula start with an apostrophe. "
        "Passwords and keys never appear in the log."
    )
